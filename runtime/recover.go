package runtime

import (
	"context"

	"fmt"
	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/core/snapshots"
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
func (r *Runtime) recover(ctx context.Context) error {
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
		r.reattachPod(ctx, p)
		r.pods[rec.Id] = p
		r.names[podName(cfg.GetMetadata())] = rec.Id
	}
	for _, rec := range r.store.Containers() {
		if err := r.recoverContainer(ctx, rec); err != nil {
			return err
		}
	}
	r.sweep(ctx)
	return nil
}

// reattachPod reconnects to the pod's shim; a shim that is gone is cleaned
// up and the pod marked not ready.
func (r *Runtime) reattachPod(ctx context.Context, p *pod) {
	rec := p.rec
	if rec.Shim == nil {
		close(p.exited)
		return
	}
	s, err := r.shims.Connect(ctx, rec.Id, rec.Shim)
	if err != nil {
		log.G(ctx).WithError(err).WithField("pod", rec.Id).Warn("pod's shim is gone; cleaning up after it")
		if _, err := r.shims.Cleanup(ctx, rec.Id, rec.Shim); err != nil {
			log.G(ctx).WithError(err).WithField("pod", rec.Id).Debug("shim cleanup")
		}
		rec.Shim = nil
		if rec.State == records.PodState_POD_READY {
			rec.State = records.PodState_POD_NOTREADY
		}
		logErr(ctx, r.persistPod(p), "persist pod", "pod", rec.Id)
		close(p.exited)
		return
	}
	p.shim.Store(s)
	go r.watchSandbox(p, s)
}

func (r *Runtime) recoverContainer(ctx context.Context, rec *records.Container) error {
	p := r.pods[rec.PodId]
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
	case records.ContainerState_CONTAINER_CREATED, records.ContainerState_CONTAINER_RUNNING:
		if s == nil {
			markLost(c)
			logErr(ctx, r.persistContainer(c), "persist container", "container", rec.Id)
			break
		}
		if err := r.reattachLogger(ctx, c); err != nil {
			log.G(ctx).WithError(err).WithField("container", rec.Id).Warn("cannot reattach container output")
		}
		if rec.State == records.ContainerState_CONTAINER_RUNNING {
			c.exited = make(chan struct{})
			if st, done := exitedWhileDown(ctx, s, rec.Id); done {
				r.recordExit(c, s, st) // answer right from the first call
			} else {
				go r.watchContainer(c, s)
			}
		}
	}
	r.ctrs[rec.Id] = c
	r.names[containerName(cfg.GetMetadata(), rec.PodId)] = rec.Id
	return nil
}

func (r *Runtime) podShimOf(p *pod) *shim.Shim {
	if p == nil {
		return nil
	}
	return p.shim.Load()
}

// markLost records that a container's shim vanished with it.
func markLost(c *container) {
	c.rec.State, c.rec.ExitCode = records.ContainerState_CONTAINER_EXITED, 255
	c.rec.Reason, c.rec.Message = "Unknown", "the container's shim is gone"
	if c.rec.FinishedAt == 0 {
		c.rec.FinishedAt = c.rec.StartedAt
	}
}

func (r *Runtime) reattachLogger(ctx context.Context, c *container) error {
	streams, err := cio.NewStreams(r.ioDir(c.rec.Id), c.rec.Id, c.cfg.GetStdin(), c.cfg.GetTty())
	if err != nil {
		return err
	}
	lf, err := cio.OpenLog(c.rec.LogPath)
	if err != nil {
		return err
	}
	c.logger, err = cio.StartLogger(ctx, streams, lf)
	if err != nil {
		lf.Close()
	}
	return err
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
	entries, _ := os.ReadDir(filepath.Join(r.cfg.State, "bundles"))
	for _, e := range entries {
		if !owned[e.Name()] {
			log.G(ctx).WithField("bundle", e.Name()).Info("removing orphaned bundle")
			logErr(ctx, r.removeBundle(ctx, e.Name()), "remove orphaned bundle", "id", e.Name())
		}
	}
	sn := r.Images.Client().SnapshotService(r.Images.Snapshotter())
	var orphans []string
	sn.Walk(nsCtx(ctx), func(_ context.Context, info snapshots.Info) error {
		if info.Kind == snapshots.KindActive && info.Labels["containerd.io/gc.root"] != "" && !owned[info.Name] {
			orphans = append(orphans, info.Name)
		}
		return nil
	})
	for _, id := range orphans {
		log.G(ctx).WithField("snapshot", id).Info("removing orphaned snapshot")
		logErr(ctx, r.removeBundle(ctx, id), "remove orphaned snapshot", "id", id)
	}
}

// exitedWhileDown asks the shim whether the task exited while this daemon
// was not running.
func exitedWhileDown(ctx context.Context, s *shim.Shim, id string) (exitStatus, bool) {
	resp, err := s.Task.State(ctx, &taskapi.StateRequest{ID: id})
	if err != nil || resp.Status != tasktypes.Status_STOPPED {
		return exitStatus{}, false
	}
	return exitStatus{code: int32(resp.ExitStatus), at: resp.ExitedAt.AsTime()}, true
}

// discardContainer kills and deletes a container's task, draining its
// output meanwhile (a shim blocks on output nobody reads), and removes its
// bundle and snapshot.
func (r *Runtime) discardContainer(ctx context.Context, c *container, s *shim.Shim) error {
	if s != nil {
		if streams, err := cio.NewStreams(r.ioDir(c.rec.Id), c.rec.Id, c.cfg.GetStdin(), c.cfg.GetTty()); err == nil {
			if l, err := cio.StartLogger(ctx, streams, &cio.LogFile{}); err == nil {
				defer l.Close()
			}
		}
		logErr(ctx, killTask(ctx, s, c.rec.Id, 9, true), "kill task", "container", c.rec.Id)
		if err := deleteTask(ctx, s, c.rec.Id); err != nil {
			return err
		}
	}
	return r.removeBundle(ctx, c.rec.Id)
}
