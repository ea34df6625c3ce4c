package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"google.golang.org/protobuf/proto"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/shim"
)

// watchSandbox marks the pod not ready when its pause process exits. It
// signals the exit before taking the pod's lock: StopPodSandbox holds that
// lock while it waits for the exit. A pod without pause only loses its
// shim: it stays ready, and its next container starts a new shim.
func (r *Runtime) watchSandbox(p *pod, s *shim.Shim) {
	if p.rec.NoPause { // fixed at creation
		s.OnDead(func() {
			if !r.closing.Load() && p.shim.CompareAndSwap(s, nil) {
				log.L.WithField("pod", p.rec.Id).Warn("pod's shim is gone; its next container starts a new one")
			}
		})
		return
	}
	st := waitTask(context.Background(), s, p.rec.Id, "")
	if st.err != nil && r.closing.Load() {
		return // our own shutdown closed the connection; the pod runs on
	}
	if st.err != nil {
		// The shim died: forget it, and let its binary kill and unmount
		// what it left of the sandbox.
		p.shim.CompareAndSwap(s, nil)
		r.cleanupAfterShim(p.rec.Id, s.Info)
	}
	close(p.exited)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rec.State == records.PodState_POD_READY {
		p.rec.State = records.PodState_POD_NOTREADY
		logErr(context.Background(), r.persistPod(p), "persist pod state", "pod", p.rec.Id)
		log.L.WithField("pod", p.rec.Id).WithField("exit", st.code).WithError(st.err).Info("pod sandbox exited")
	}
}

// ensurePodShim returns the pod's shim, starting a new one for a ready pod
// without pause whose shim is gone (its namespaces outlive it); nil for no
// pod or a pod that is not running.
func (r *Runtime) ensurePodShim(ctx context.Context, p *pod) (*shim.Shim, error) {
	if p == nil {
		return nil, nil
	}
	if s := p.shim.Load(); s != nil || !p.rec.NoPause {
		return s, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.shim.Load(); s != nil || p.rec.State != records.PodState_POD_READY {
		return s, nil
	}
	h, err := r.handlerFor(p.rec.RuntimeHandler)
	if err != nil {
		return nil, err
	}
	p.rec.Shim = &records.Shim{Binary: h.shim, Bundle: r.bundleDir(p.rec.Id)}
	if err := r.persistPod(p); err != nil {
		return nil, err
	}
	started, err := r.launchShim(ctx, p, h, nil) // the bundle is there: no spare
	if err != nil {
		return nil, err
	}
	s, err := started()
	if err != nil {
		return nil, fmt.Errorf("restart shim of pod %s: %w", p.rec.Id, err)
	}
	if err := r.persistPod(p); err != nil {
		return nil, err
	}
	go r.watchSandbox(p, s)
	return s, nil
}

// StopPodSandbox stops every container of the pod and the pause process,
// tears down the pod network and shuts the shim down. Stopping a stopped or
// unknown pod succeeds.
func (r *Runtime) StopPodSandbox(ctx context.Context, id string) error {
	defer r.activity.begin()()
	p, err := ifKnown(r.lookupPod(id))
	if p == nil {
		return err
	}
	for _, c := range r.podContainers(p.rec.Id) {
		if err := r.stopContainer(ctx, c, 0); err != nil {
			return fmt.Errorf("stop container %s: %w", c.rec.Id, err)
		}
	}
	if p.shim.Load() != nil || p.snapshot().State == records.PodState_POD_READY {
		if err := r.nri.stopPod(ctx, p); err != nil {
			log.G(ctx).WithError(err).WithField("pod", p.rec.Id).Warn("NRI StopPodSandbox")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.shim.Load(); s != nil {
		if !p.rec.NoPause {
			if err := r.stopPause(ctx, p, s); err != nil {
				return err
			}
		}
		// The shim ignores Shutdown while it holds a task: delete whatever
		// a crash may have left (deleting what is gone succeeds).
		for _, c := range r.podContainers(p.rec.Id) {
			logErr(ctx, deleteTask(ctx, s, c.rec.Id), "delete leftover task", "container", c.rec.Id)
		}
		// Forgotten before it goes: the connection its shutdown closes is
		// not a shim that died (watchSandbox would say so).
		p.shim.Store(nil)
		logErr(ctx, s.Shutdown(ctx, p.rec.Id), "shut down shim", "pod", p.rec.Id)
		p.rec.Shim = nil
	}
	if p.rec.NetworkSetUp {
		if err := r.net.Detach(ctx, netPod(p.rec.Id, p.cfg), p.rec.NetnsPath); err != nil {
			return err
		}
		p.rec.NetworkSetUp = false
	}
	if err := r.net.RemoveNamespace(ctx, p.rec.NetnsPath); err != nil {
		return fmt.Errorf("remove network namespace: %w", err)
	}
	p.rec.NetnsPath = ""
	if err := unmountPodShm(r.podDir(p.rec.Id)); err != nil {
		return fmt.Errorf("unmount pod /dev/shm: %w", err)
	}
	if err := unpinPodNamespaces(r.podDir(p.rec.Id)); err != nil {
		return fmt.Errorf("release pod namespaces: %w", err)
	}
	p.rec.State = records.PodState_POD_NOTREADY
	return r.persistPod(p)
}

// stopPause kills the pod's pause process and deletes its task (the caller
// holds p.mu).
func (r *Runtime) stopPause(ctx context.Context, p *pod, s *shim.Shim) error {
	if err := killTask(ctx, s, p.rec.Id, 9, true); err != nil && !shimGone(s) {
		return fmt.Errorf("kill pause of pod %s: %w", p.rec.Id, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("pause of pod %s did not exit: %w", p.rec.Id, context.DeadlineExceeded)
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := deleteTask(ctx, s, p.rec.Id); err != nil {
		return fmt.Errorf("delete pause task of pod %s: %w", p.rec.Id, err)
	}
	return nil
}

// RemovePodSandbox stops the pod if needed, then removes its containers and
// every trace of it. Removing an unknown pod succeeds.
func (r *Runtime) RemovePodSandbox(ctx context.Context, id string) error {
	defer r.activity.begin()()
	p, err := ifKnown(r.lookupPod(id))
	if p == nil {
		return err
	}
	if err := r.StopPodSandbox(ctx, p.rec.Id); err != nil {
		return err
	}
	for _, c := range r.podContainers(p.rec.Id) {
		if err := r.RemoveContainer(ctx, c.rec.Id); err != nil {
			return err
		}
	}
	// Its containers' snapshots and bundles must be gone before the pod's
	// (their mounts are below it); one whose removal fails fails this call,
	// which kubelet retries, while the removal is retried in the background.
	if err := r.cleanups.Wait(ctx, p.rec.Id); err != nil {
		return fmt.Errorf("pod %s: removing its containers' files: %w: %w", p.rec.Id, err, errdefs.ErrUnavailable)
	}
	if err := r.nri.removePod(ctx, p); err != nil {
		log.G(ctx).WithError(err).WithField("pod", p.rec.Id).Warn("NRI RemovePodSandbox")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := r.teardownPod(ctx, p); err != nil {
		return err
	}
	if err := r.store.DeletePod(p.rec.Id); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.pods, p.rec.Id)
	r.mu.Unlock()
	r.stats.Forget(p.rec.Id, "pod:"+p.rec.Id)
	r.releaseName(podName(p.cfg.GetMetadata()), p.rec.Id)
	return nil
}

// cleanupAfterShim runs the shim binary's "delete" for a task whose shim
// died: it kills the task's processes and unmounts its rootfs.
func (r *Runtime) cleanupAfterShim(id string, info *records.Shim) {
	if info == nil {
		return
	}
	ctx := context.Background()
	bundle := proto.Clone(info).(*records.Shim)
	bundle.Bundle = r.bundleDir(id)
	if _, err := r.shims.Cleanup(ctx, id, bundle); err != nil {
		log.G(ctx).WithError(err).WithField("id", id).Debug("cleanup after dead shim")
	}
}

// cleanupInterruptedCreate runs the shim binary's "delete" for a task the
// shim was asked to create but does not hold: a crash of ours cut the
// creation short (createBegun). The delete kills what runc started and
// unmounts the rootfs (runc's shim), or terminates the compute system
// (hcsshim's).
func (r *Runtime) cleanupInterruptedCreate(id string, info *records.Shim) {
	marker := filepath.Join(r.bundleDir(id), createBegun)
	if _, err := os.Stat(marker); err == nil {
		log.L.WithField("id", id).Info("cleaning up a task creation a crash interrupted")
		r.cleanupAfterShim(id, info)
		logErr(context.Background(), os.Remove(marker), "remove create marker", "id", id)
	}
}

// shimGone says whether the shim's connection is lost.
func shimGone(s *shim.Shim) bool {
	select {
	case <-s.Dead():
		return true
	default:
		return false
	}
}
