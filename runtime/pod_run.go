package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/containerd/api/types"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/network"
	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/cio"
	"github.com/wincri/wincri/runtime/failpoint"
	"github.com/wincri/wincri/runtime/images"
	"github.com/wincri/wincri/runtime/shim"
	"github.com/wincri/wincri/runtime/spares"
	"github.com/wincri/wincri/runtime/validate"
)

// RunPodSandbox creates and starts a pod sandbox: its namespaces, CNI
// network and shim, and the pause container where the pod needs one. CNI
// runs while the shim and pause start. Whatever fails undoes what was done
// (undoList: each step adds its undoing as it is made); a crash midway is
// undone at the next start.
func (r *Runtime) RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handlerName string) (_ string, retErr error) {
	defer r.activity.begin()()
	if err := validate.PodConfig(cfg); err != nil {
		return "", err
	}
	md := cfg.GetMetadata()
	h, err := r.handlerFor(handlerName)
	if err != nil {
		return "", err
	}
	un, err := podUserns(cfg)
	if err != nil {
		return "", err
	}
	raw, err := proto.Marshal(cfg)
	if err != nil {
		return "", err
	}
	id, name := newID(), podName(md)
	if err := r.reserveName(name, id); err != nil {
		return "", err
	}
	var undo undoList
	defer func() {
		if retErr != nil {
			undo.run(ctx, "pod", id)
		}
	}()
	undo.undo("release the pod's name", func(context.Context) error { r.releaseName(name, id); return nil })
	pauseWhy := r.needsPause(cfg, un)
	p := &pod{cfg: cfg, exited: make(chan struct{}), rec: &records.Pod{
		Id: id, Config: raw, RuntimeHandler: h.name, State: records.PodState_POD_CREATING, CreatedAt: time.Now().UnixNano(),
		NoPause: pauseWhy == "",
		// Recorded before it starts: a crash right after the start must
		// still find it (see reachShim).
		Shim: &records.Shim{Binary: h.shim, Bundle: r.bundleDir(id)},
	}}
	// A spare shim is recorded before the pod takes it, likewise.
	spare := r.spares.Take(ctx, h.spare(), r.bundleDir(id))
	if spare != nil {
		p.rec.Shim = spare.Shim.Info
	}
	if err := r.persistPod(p); err != nil {
		if spare != nil {
			r.spares.Discard(ctx, spare)
		}
		return "", err
	}
	defer r.spares.Refill(h.spare()) // once this pod runs (or failed)
	undo.undo("delete the pod's record", func(context.Context) error { return r.store.DeletePod(id) })
	// The teardown undoes whatever of the pod was made (files, mounts,
	// namespaces, network, pause, shim): it runs after the waits for the
	// shim's start and CNI ADD, which the undo list runs first.
	undo.undo("tear down the pod", func(ctx context.Context) error { return r.teardownPod(ctx, p) })
	phases := newPhases()
	// The shim starts while the pod's files, namespaces and network are made.
	shimDone, err := r.launchShim(ctx, p, h, spare)
	if err != nil {
		return "", err
	}
	undo.wait("the shim's start", func() error { _, err := shimDone(); return err })
	podDir := r.podDir(id)
	if err := writePodFiles(podDir, cfg); err != nil {
		return "", err
	}
	if err := mountPodShm(podDir, cfg); err != nil {
		return "", fmt.Errorf("mount pod /dev/shm: %w", err)
	}
	if p.rec.NoPause {
		if err := pinPodNamespaces(podDir, cfg); err != nil {
			return "", err
		}
	}
	phases.mark("files")
	networkDone, err := r.setUpNetwork(ctx, p)
	if err != nil {
		return "", err
	}
	undo.wait("CNI ADD", networkDone)
	if networkBeforePause {
		if err := networkDone(); err != nil {
			return "", err
		}
	}
	phases.mark("netns")
	var pause *pauseBundle
	if !p.rec.NoPause { // while the shim starts
		if pause, err = r.preparePause(ctx, p, un); err != nil {
			return "", err
		}
		phases.mark("pause-spec")
	}
	s, err := shimDone()
	if err != nil {
		return "", err
	}
	phases.mark("shim")
	if pause != nil {
		if err := r.startPause(ctx, p, h, s, pause); err != nil {
			return "", err
		}
		phases.mark("pause")
	}
	if err := networkDone(); err != nil {
		return "", err
	}
	phases.mark("network")
	p.rec.State = records.PodState_POD_READY
	if err := r.persistPod(p); err != nil {
		return "", err
	}
	phases.mark("record")
	if err := r.nri.runPod(ctx, p); err != nil {
		return "", fmt.Errorf("NRI RunPodSandbox: %w", err)
	}
	r.mu.Lock()
	r.pods[id] = p
	r.mu.Unlock()
	go r.watchSandbox(p, s)
	e := log.G(ctx).WithField("pod", id).WithField("name", name).WithField("phases", phases)
	if !p.rec.NoPause {
		e = e.WithField("pause", pauseWhy)
	}
	e.Info("pod sandbox running")
	return id, nil
}

// pauseBundle is the pause container's spec and rootfs, made while the
// pod's shim starts.
type pauseBundle struct {
	spec   *specs.Spec
	rootfs []*types.Mount
}

// preparePause pulls (if needed) the sandbox image, prepares the pause's
// rootfs and builds its spec.
func (r *Runtime) preparePause(ctx context.Context, p *pod, un *userns) (*pauseBundle, error) {
	id, podDir := p.rec.Id, r.podDir(p.rec.Id)
	img, err := r.ensureImage(ctx, r.cfg.SandboxImage)
	if err != nil {
		return nil, fmt.Errorf("sandbox image: %w", err)
	}
	p.rec.ImageId = img.ID
	rootfs, err := r.prepareSnapshot(ctx, id, img.ChainID, un.snapshotOpts()...)
	if err != nil {
		return nil, err
	}
	usernsPath := ""
	if un != nil && p.rec.NetnsPath != "" {
		if usernsPath, err = pinUserns(podDir, p.rec.NetnsPath); err != nil {
			return nil, err
		}
	}
	h, err := r.handlerFor(p.rec.RuntimeHandler)
	if err != nil {
		return nil, err
	}
	spec, err := r.sandboxSpec(ctx, specInput{id: id, podID: id, handler: h, podCfg: p.cfg, image: img, netns: p.rec.NetnsPath, podDir: podDir, userns: un, usernsPath: usernsPath})
	if err != nil {
		return nil, err
	}
	return &pauseBundle{spec: spec, rootfs: rootfs}, nil
}

// startPause creates and starts the pause container in the pod's shim.
func (r *Runtime) startPause(ctx context.Context, p *pod, h handler, s *shim.Shim, b *pauseBundle) error {
	id := p.rec.Id
	// Replaces the bundle the shim started with (it read only its
	// annotations, at start).
	if err := r.writeBundle(id, b.spec); err != nil {
		return err
	}
	if _, err := createTask(ctx, s, h, id, r.bundleDir(id), b.rootfs, cio.Streams{}); err != nil {
		return err
	}
	var err error
	p.rec.Pid, err = startTask(ctx, s, id)
	return err
}

// shimSpec is the bundle a pod's shim starts in: only the annotations it
// groups the pod's tasks by (the pause's full spec replaces it).
func shimSpec(p *pod) *specs.Spec {
	return &specs.Spec{Version: specs.Version, Annotations: podAnnotations(p.rec.Id, p.cfg, map[string]string{annContainerType: "sandbox"})}
}

// launchShim writes the pod's bundle and starts its shim in the background
// (p.rec.Shim must already be persisted), or adopts spare, a shim already
// running. The returned function waits for the start and keeps the shim
// (any number of calls); the caller persists its address.
func (r *Runtime) launchShim(ctx context.Context, p *pod, h handler, spare *spares.Spare) (func() (*shim.Shim, error), error) {
	id := p.rec.Id
	var started func() (*shim.Shim, error)
	if spare != nil {
		if err := r.spares.Adopt(ctx, spare); err != nil {
			log.G(ctx).WithError(err).WithField("pod", id).Warn("starting the pod's own shim")
			p.rec.Shim = &records.Shim{Binary: h.shim, Bundle: r.bundleDir(id)}
			if err := r.persistPod(p); err != nil {
				return nil, err
			}
			spare = nil
		} else {
			started = func() (*shim.Shim, error) { return spare.Shim, nil }
		}
	}
	if err := r.writeBundle(id, shimSpec(p)); err != nil {
		return nil, err
	}
	if spare == nil {
		started = background(func() (*shim.Shim, error) {
			return r.shims.Start(ctx, id, h.shim, r.bundleDir(id), h.opts)
		})
	}
	var once sync.Once
	return func() (*shim.Shim, error) {
		s, err := started()
		once.Do(func() {
			if err == nil {
				p.shim.Store(s)
				p.rec.Shim = s.Info
				failpoint.Crash("pod-after-shim")
			}
		})
		return s, err
	}, nil
}

// background runs f in a goroutine; the returned function waits for it and
// returns its result (any number of times).
func background[T any](f func() (T, error)) func() (T, error) {
	done := make(chan struct{})
	var v T
	var err error
	go func() {
		defer close(done)
		v, err = f()
	}()
	return func() (T, error) {
		<-done
		return v, err
	}
}

// setUpNetwork creates the pod's network namespace, recorded so a crash
// leaves nothing untracked, and starts CNI ADD in it. The returned function
// waits for ADD (it may be called more than once).
func (r *Runtime) setUpNetwork(ctx context.Context, p *pod) (func() error, error) {
	np := netPod(p.rec.Id, p.cfg)
	if np.HostNetwork {
		return func() error { return nil }, nil
	}
	ns, err := r.net.NewNamespace(ctx, np)
	if err != nil {
		return nil, fmt.Errorf("create network namespace: %w", err)
	}
	p.rec.NetnsPath = ns
	p.rec.NetworkSetUp = true // DEL must run from here on, even if ADD fails midway
	if err := r.persistPod(p); err != nil {
		return nil, err
	}
	attached := background(func() (*network.Attachment, error) { return r.net.Attach(ctx, np, ns) })
	var once sync.Once
	return func() error {
		att, err := attached()
		once.Do(func() {
			if err == nil {
				p.rec.Ips = att.IPs // persisted with the READY state
				failpoint.Crash("pod-after-network")
			}
		})
		return err
	}, nil
}

// teardownPod undoes whatever RunPodSandbox did, as recorded in p.rec.
func (r *Runtime) teardownPod(ctx context.Context, p *pod) error {
	id := p.rec.Id
	var errs []error
	s := p.shim.Swap(nil)
	if s == nil && p.rec.Shim != nil {
		s = r.reachShim(ctx, p)
	}
	if s != nil {
		r.shutDownPodShim(ctx, p, s)
	}
	if p.rec.Shim != nil && !p.rec.NoPause {
		r.cleanupInterruptedCreate(id, p.rec.Shim)
	}
	if p.rec.NetworkSetUp {
		if err := r.net.Detach(ctx, netPod(id, p.cfg), p.rec.NetnsPath); err != nil {
			errs = append(errs, err)
		} else {
			p.rec.NetworkSetUp = false
		}
	}
	if err := r.net.RemoveNamespace(ctx, p.rec.NetnsPath); err != nil {
		errs = append(errs, err)
	} else {
		p.rec.NetnsPath = ""
	}
	if err := unmountPodShm(r.podDir(id)); err != nil {
		errs = append(errs, err)
	}
	if err := unpinPodNamespaces(r.podDir(id)); err != nil {
		errs = append(errs, err)
	}
	if err := unmountAll(filepath.Join(r.podDir(id), "userns")); err != nil {
		errs = append(errs, err)
	}
	if err := r.removeBundle(ctx, id, nil); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, os.RemoveAll(r.podDir(id)))
	}
	return joinErrs(errs)
}

// shutDownPodShim kills and deletes the pause task and shuts the shim down.
// After a crash the shim may still be creating the pause task (it carries
// on without us) and then ignores Shutdown: this repeats until it is gone.
func (r *Runtime) shutDownPodShim(ctx context.Context, p *pod, s *shim.Shim) {
	id := p.rec.Id
	for attempt := 0; ; attempt++ {
		if !p.rec.NoPause {
			logErr(ctx, killTask(ctx, s, id, 9, true), "kill pause", "pod", id)
			logErr(ctx, deleteTask(ctx, s, id), "delete pause task", "pod", id)
		}
		logErr(ctx, s.Shutdown(ctx, id), "shut down shim", "pod", id)
		if shim.Gone(s.Info, time.Second) {
			return
		}
		if attempt == 4 {
			log.G(ctx).WithField("pod", id).Warn("pod's shim does not shut down")
			return
		}
		var err error
		if s, err = r.shims.Connect(ctx, id, s.Info); err != nil {
			return // gone meanwhile
		}
	}
}

// ensureImage returns the image ref names, pulling it when absent.
func (r *Runtime) ensureImage(ctx context.Context, ref string) (images.Image, error) {
	img, err := r.Images.Get(ref)
	if errdefs.IsNotFound(err) {
		return r.Images.Pull(ctx, ref, nil)
	}
	return img, err
}

// netPod is what the network layer needs to know of a pod.
func netPod(id string, cfg *runtimeapi.PodSandboxConfig) *network.Pod {
	md := cfg.GetMetadata()
	np := &network.Pod{
		ID: id, Name: md.GetName(), Namespace: md.GetNamespace(), UID: md.GetUid(),
		HostNetwork:  hostNetwork(cfg),
		CgroupParent: cfg.GetLinux().GetCgroupParent(),
	}
	if un, err := podUserns(cfg); err == nil {
		np.UsernsUID, np.UsernsGID = un.netMaps()
	}
	if d := cfg.GetDnsConfig(); d != nil {
		np.DNS = &network.DNS{Servers: d.Servers, Searches: d.Searches, Options: d.Options}
	}
	for _, pm := range cfg.GetPortMappings() {
		proto := "tcp"
		switch pm.Protocol {
		case runtimeapi.Protocol_UDP:
			proto = "udp"
		case runtimeapi.Protocol_SCTP:
			proto = "sctp"
		}
		np.PortMappings = append(np.PortMappings, network.PortMapping{Protocol: proto, ContainerPort: pm.ContainerPort, HostPort: pm.HostPort, HostIP: pm.HostIp})
	}
	return np
}

// reachShim connects to the shim a crash left behind so it can be shut
// down. A shim recorded without an address crashed with us during its
// start: starting it again yields the address of the one that runs (the
// shim groups a pod's tasks), or a fresh one that is shut down as well.
// With no shim to reach, its binary cleans up after it.
func (r *Runtime) reachShim(ctx context.Context, p *pod) *shim.Shim {
	id, info := p.rec.Id, p.rec.Shim
	if info.Address == "" {
		if h, err := r.handlerFor(p.rec.RuntimeHandler); err == nil {
			if s, err := r.shims.Start(ctx, id, info.Binary, info.Bundle, h.opts); err == nil {
				return s
			}
		}
	} else if s, err := r.shims.Connect(ctx, id, info); err == nil {
		return s
	}
	if info.Address != "" {
		if _, err := r.shims.Cleanup(ctx, id, info); err != nil {
			log.G(ctx).WithError(err).WithField("pod", id).Debug("shim cleanup")
		}
	}
	return nil
}
