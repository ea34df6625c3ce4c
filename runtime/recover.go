package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/cio"
	"github.com/wincri/wincri/runtime/shim"
)

// recover rebuilds the in-memory pods and containers from the records after
// a start: it reattaches to live shims, learns the exits it missed, undoes
// what a crash interrupted half-way, and removes bundles and snapshots no
// record owns.
func (r *Runtime) recover(ctx context.Context, phases *phases) error {
	for _, rec := range r.store.Pods() {
		cfg := &runtimeapi.PodSandboxConfig{}
		if err := proto.Unmarshal(rec.Config, cfg); err != nil {
			return fmt.Errorf("pod %s: config: %w", rec.Id, err)
		}
		p := &pod{rec: rec, cfg: cfg, exited: make(chan struct{})}
		if rec.State == records.PodState_POD_CREATING {
			log.G(ctx).WithField("pod", rec.Id).Info("undoing pod sandbox a crash interrupted")
			if err := r.teardownPod(ctx, p); err != nil {
				log.G(ctx).WithError(err).WithField("pod", rec.Id).Warn("could not undo; will retry at the next start")
				continue
			}
			if err := r.store.DeletePod(rec.Id); err != nil {
				return err
			}
			continue
		}
		r.pods[rec.Id] = p
		r.names[podName(cfg.GetMetadata())] = rec.Id
	}
	// Done in parallel, so that a node with many pods is back within a
	// second. Where the listening sockets tell which shims live (Linux),
	// reattaching dials none: each shim is reached at its first call.
	phases.mark("pod-records")
	pods := r.allPods()
	live, err := shim.Listening() // nil when it cannot tell: Reattach connects
	if err != nil {
		log.G(ctx).WithError(err).Warn("cannot tell which shims listen: connecting to each")
	}
	parallel(len(pods), func(i int) { r.reattachPod(ctx, pods[i], live) })
	phases.mark("pod-shims")
	ctrs := r.store.Containers()
	errs := make([]error, len(ctrs))
	parallel(len(ctrs), func(i int) { errs[i] = r.recoverContainer(ctx, ctrs[i]) })
	if err := joinErrs(errs); err != nil {
		return err
	}
	phases.mark("containers")
	r.spares.Reap(ctx)
	r.sweep(ctx)
	phases.mark("sweep")
	return nil
}

// reattachPod reconnects to the pod's shim; a shim that is gone is cleaned
// up and the pod marked not ready (a pod without pause stays ready while
// its namespaces are held: its next container starts a new shim).
func (r *Runtime) reattachPod(ctx context.Context, p *pod, live *shim.Listeners) {
	rec := p.rec
	switch {
	case rec.Shim == nil:
		r.markShimless(ctx, p)
		return
	case rec.Shim.Address == "": // a crash interrupted the shim's start
		s := r.reachShim(ctx, p)
		if s != nil && rec.NoPause && rec.State == records.PodState_POD_READY {
			r.adoptShim(ctx, p, s)
			return
		}
		if s != nil {
			logErr(ctx, s.Shutdown(ctx, rec.Id), "shut down shim", "pod", rec.Id)
		}
		r.markShimless(ctx, p)
		return
	}
	s, err := r.shims.Reattach(ctx, rec.Id, rec.Shim, live)
	if err != nil {
		log.G(ctx).WithError(err).WithField("pod", rec.Id).Warn("pod's shim is gone; cleaning up after it")
		if _, err := r.shims.Cleanup(ctx, rec.Id, rec.Shim); err != nil {
			log.G(ctx).WithError(err).WithField("pod", rec.Id).Debug("shim cleanup")
		}
		r.markShimless(ctx, p)
		return
	}
	p.shim.Store(s)
	r.checkPodNetwork(ctx, p)
	r.watchers.add(func() { r.watchSandbox(p, s) })
}

// checkPodNetwork marks a ready pod whose network namespace disappeared
// while wincri was down (an HCN namespace after an HNS restart) not ready:
// the kubelet then recreates it.
func (r *Runtime) checkPodNetwork(ctx context.Context, p *pod) {
	n, ok := r.net.(interface{ NamespaceGone(string) bool })
	if !ok || p.rec.State != records.PodState_POD_READY || !n.NamespaceGone(p.rec.NetnsPath) {
		return
	}
	log.G(ctx).WithField("pod", p.rec.Id).WithField("netns", p.rec.NetnsPath).Warn("the pod's network namespace is gone; marking the pod not ready")
	p.rec.State = records.PodState_POD_NOTREADY
	logErr(ctx, r.persistPod(p), "persist pod", "pod", p.rec.Id)
}

// adoptShim keeps the shim a crash started for a ready pod without pause.
func (r *Runtime) adoptShim(ctx context.Context, p *pod, s *shim.Shim) {
	p.shim.Store(s)
	p.rec.Shim = s.Info
	logErr(ctx, r.persistPod(p), "persist pod", "pod", p.rec.Id)
	r.watchers.add(func() { r.watchSandbox(p, s) })
}

// markShimless records that a pod has no shim any more: it is not ready,
// unless it has no pause and its namespaces are still held.
func (r *Runtime) markShimless(ctx context.Context, p *pod) {
	changed := p.rec.Shim != nil
	p.rec.Shim = nil
	if p.rec.State == records.PodState_POD_READY && !(p.rec.NoPause && podNamespacesAlive(p.rec, r.podDir(p.rec.Id))) {
		p.rec.State, changed = records.PodState_POD_NOTREADY, true
	}
	if changed {
		logErr(ctx, r.persistPod(p), "persist pod", "pod", p.rec.Id)
	}
	close(p.exited)
}

func (r *Runtime) recoverContainer(ctx context.Context, rec *records.Container) error {
	r.mu.RLock()
	p := r.pods[rec.PodId]
	r.mu.RUnlock()
	cfg := &runtimeapi.ContainerConfig{}
	if err := proto.Unmarshal(rec.Config, cfg); err != nil {
		return fmt.Errorf("container %s: config: %w", rec.Id, err)
	}
	c := &container{rec: rec, cfg: cfg, podID: rec.PodId}
	var s = r.podShimOf(p)
	if p == nil || rec.State == records.ContainerState_CONTAINER_CREATING {
		log.G(ctx).WithField("container", rec.Id).Info("removing container a crash left half-created or without a pod")
		if err := r.discardContainer(ctx, c, s); err != nil {
			// Keep the record: the next start tries again. One object must
			// not keep the daemon from starting.
			log.G(ctx).WithError(err).WithField("container", rec.Id).Warn("could not remove; will retry at the next start")
			return nil
		}
		return r.store.DeleteContainer(rec.Id)
	}
	switch rec.State {
	case records.ContainerState_CONTAINER_CREATED:
		if s != nil {
			r.adoptCreated(ctx, c, s)
		} else {
			r.cleanupInterruptedCreate(rec.Id, r.deadShimInfo(p))
		}
	case records.ContainerState_CONTAINER_RUNNING:
		if s == nil {
			markLost(c)
			logErr(ctx, r.persistContainer(c), "persist container", "container", rec.Id)
			// The processes of a shim that died keep running: its binary's
			// "delete" kills them and unmounts the rootfs.
			r.cleanupAfterShim(rec.Id, r.deadShimInfo(p))
			break
		}
		r.adoptRunning(ctx, c, s)
	}
	r.mu.Lock()
	r.ctrs[rec.Id] = c
	r.names[containerName(cfg.GetMetadata(), rec.PodId)] = rec.Id
	r.mu.Unlock()
	return nil
}

func (r *Runtime) podShimOf(p *pod) *shim.Shim {
	if p == nil {
		return nil
	}
	return p.shim.Load()
}

// deadShimInfo names the shim binary of a pod whose shim is gone, for its
// "delete" action (nil when the pod's handler is no longer configured).
func (r *Runtime) deadShimInfo(p *pod) *records.Shim {
	h, err := r.handlerFor(p.rec.RuntimeHandler)
	if err != nil {
		return nil
	}
	return &records.Shim{Binary: h.shim}
}

// markLost records that a container's shim vanished with it.
func markLost(c *container) {
	c.rec.State, c.rec.ExitCode = records.ContainerState_CONTAINER_EXITED, 255
	c.rec.Reason, c.rec.Message = "Unknown", "the container's shim is gone"
	if c.rec.FinishedAt == 0 {
		c.rec.FinishedAt = c.rec.StartedAt
	}
}

// adoptRunning reconnects a running container's output and watches it; an
// exit that happened while this daemon was down is recorded at once.
func (r *Runtime) adoptRunning(ctx context.Context, c *container, s *shim.Shim) {
	if _, err := r.startOutput(ctx, c, cio.ReattachLogger); err != nil {
		log.G(ctx).WithError(err).WithField("container", c.rec.Id).Warn("cannot reattach container output")
	}
	c.exited = make(chan struct{})
	// A process still running needs no question to its shim (a round trip
	// per container, most of a restart's time on a full node): the Wait
	// below follows it.
	if !taskAlive(c.rec.Pid, c.rec.StartedAt) {
		if st, done := exitedWhileDown(ctx, s, c.rec.Id); done {
			r.recordExit(c, s, st) // answer right from the first call
			return
		}
	}
	r.watchers.add(func() { r.watchContainer(c, s) })
}

// adoptCreated settles a created container whose StartContainer a crash
// interrupted: a task that runs (or ran) is adopted, one that was only
// created is deleted so that a new start can create it again.
func (r *Runtime) adoptCreated(ctx context.Context, c *container, s *shim.Shim) {
	st, err := s.Task.State(ctx, &taskapi.StateRequest{ID: c.rec.Id})
	if err != nil {
		// No task: the normal case, unless a crash cut StartContainer
		// short while the shim was creating it, which it gave up on.
		r.cleanupInterruptedCreate(c.rec.Id, s.Info)
		return
	}
	if st.Status == tasktypes.Status_CREATED {
		logErr(ctx, r.discardTask(ctx, c, s), "delete task a crash left", "container", c.rec.Id)
		return
	}
	c.rec.State, c.rec.Pid, c.rec.StartedAt = records.ContainerState_CONTAINER_RUNNING, st.Pid, time.Now().UnixNano()
	logErr(ctx, r.persistContainer(c), "persist container", "container", c.rec.Id)
	r.adoptRunning(ctx, c, s)
}

// sweep removes bundles and container snapshots that no record owns (left
// by a crash between creating them and recording them).
func (r *Runtime) sweep(ctx context.Context) {
	owned := map[string]bool{}
	for id := range r.pods {
		owned[id] = true
	}
	for id := range r.ctrs {
		owned[id] = true
	}
	netns := map[string]bool{}
	for _, p := range r.pods {
		netns[p.rec.NetnsPath] = true
	}
	nsDir := filepath.Join(r.cfg.State, "netns")
	nsEntries, _ := os.ReadDir(nsDir)
	for _, e := range nsEntries {
		if path := filepath.Join(nsDir, e.Name()); !netns[path] {
			log.G(ctx).WithField("netns", path).Info("removing orphaned network namespace")
			logErr(ctx, r.net.RemoveNamespace(ctx, path), "remove orphaned network namespace", "netns", path)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(r.cfg.State, "bundles"))
	for _, e := range entries {
		if !owned[e.Name()] {
			log.G(ctx).WithField("bundle", e.Name()).Info("removing orphaned bundle")
			logErr(ctx, r.removeBundle(ctx, e.Name(), nil), "remove orphaned bundle", "id", e.Name())
		}
	}
	dirs, _ := os.ReadDir(filepath.Join(r.cfg.Root, "containers"))
	for _, e := range dirs {
		if !owned[e.Name()] {
			log.G(ctx).WithField("container", e.Name()).Info("removing orphaned container directory")
			logErr(ctx, os.RemoveAll(r.containerDir(e.Name())), "remove orphaned container directory", "id", e.Name())
		}
	}
	sn := r.Images.Client().SnapshotService(r.Images.Snapshotter())
	var orphans []string
	sn.Walk(nsCtx(ctx), func(_ context.Context, info snapshots.Info) error {
		// In a containerd's store (plugin mode) other clients have snapshots
		// too: only wincri's own are candidates.
		ours := info.Labels[ownerLabel] == ownerValue || !r.Images.Shared()
		if ours && info.Kind == snapshots.KindActive && info.Labels["containerd.io/gc.root"] != "" && !owned[info.Name] {
			orphans = append(orphans, info.Name)
		}
		return nil
	})
	for _, id := range orphans {
		log.G(ctx).WithField("snapshot", id).Info("removing orphaned snapshot")
		logErr(ctx, r.removeBundle(ctx, id, nil), "remove orphaned snapshot", "id", id)
	}
}

// exitedWhileDown asks the shim whether the task exited while this daemon
// was not running.
func exitedWhileDown(ctx context.Context, s *shim.Shim, id string) (exitStatus, bool) {
	resp, err := s.Task.State(ctx, &taskapi.StateRequest{ID: id})
	if errdefs.IsNotFound(errgrpcFromShim(err)) {
		// The task is gone from a live shim: it exited and was deleted.
		return exitStatus{code: 255, at: time.Now(), err: fmt.Errorf("the task ended while wincri was down")}, true
	}
	if err != nil || resp.Status != tasktypes.Status_STOPPED {
		return exitStatus{}, false
	}
	return exitStatus{code: int32(resp.ExitStatus), at: resp.ExitedAt.AsTime()}, true
}

// discardContainer removes a container a crash left half-made: its task,
// bundle and snapshot.
func (r *Runtime) discardContainer(ctx context.Context, c *container, s *shim.Shim) error {
	if s != nil {
		if err := r.discardTask(ctx, c, s); err != nil {
			return err
		}
	}
	return r.removeBundle(ctx, c.rec.Id, nil)
}

// discardTask kills and deletes a container's task, draining its output
// meanwhile (a shim blocks on output nobody reads).
func (r *Runtime) discardTask(ctx context.Context, c *container, s *shim.Shim) error {
	if streams, err := cio.NewStreams(r.ioDir(c.rec.Id), c.rec.Id, c.cfg.GetStdin(), c.cfg.GetTty()); err == nil {
		if l, err := cio.StartLogger(ctx, streams, &cio.LogFile{}); err == nil {
			defer l.Close()
		}
	}
	logErr(ctx, killTask(ctx, s, c.rec.Id, 9, true), "kill task", "container", c.rec.Id)
	return deleteTask(ctx, s, c.rec.Id)
}

// deferred collects what recovery's workers start only once recovery is
// done: the Wait each running container and pod gets is a round trip that
// wakes its shim, and 220 of them at once competed with recovery for the
// CPU (a container's exited channel exists from the start, so a StopContainer
// meanwhile waits for its watcher like any other).
type deferred struct {
	mu  sync.Mutex
	fns []func()
}

func (d *deferred) add(fn func()) {
	d.mu.Lock()
	d.fns = append(d.fns, fn)
	d.mu.Unlock()
}

// run starts every collected function in its own goroutine, one at a time
// from a goroutine of its own, yielding after each: 220 goroutines made
// runnable at once queued ahead of the daemon's first answers (the server's
// start waited 60–80 ms behind them at 110 pods).
func (d *deferred) run() {
	d.mu.Lock()
	fns := d.fns
	d.fns = nil
	d.mu.Unlock()
	go func() {
		for _, fn := range fns {
			go fn()
			goruntime.Gosched()
		}
	}()
}
