package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/cio"
	"github.com/wincri/wincri/runtime/failpoint"
	"github.com/wincri/wincri/runtime/shim"
)

// StartContainer creates the container's task in the pod's shim, with its
// output going to the CRI log, and starts it.
func (r *Runtime) StartContainer(ctx context.Context, id string) (retErr error) {
	defer r.activity.begin()()
	c, err := r.lookupContainer(id)
	if err != nil {
		return err
	}
	p, _ := r.lookupPod(c.podID)
	s, err := r.ensurePodShim(ctx, p)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State != records.ContainerState_CONTAINER_CREATED {
		return fmt.Errorf("container %s is %s, not created: %w", c.rec.Id, c.rec.State, errdefs.ErrFailedPrecondition)
	}
	if s == nil {
		return fmt.Errorf("pod sandbox %s is not running: %w", c.podID, errdefs.ErrFailedPrecondition)
	}
	defer func() {
		if retErr != nil {
			cctx := context.WithoutCancel(ctx)
			logErr(cctx, deleteTask(cctx, s, c.rec.Id), "delete task of container that failed to start", "container", c.rec.Id)
			if c.logger != nil {
				c.logger.Close()
				c.logger = nil
			}
			c.rec.State, c.rec.FinishedAt, c.rec.ExitCode = records.ContainerState_CONTAINER_EXITED, time.Now().UnixNano(), 128
			c.rec.Reason, c.rec.Message = "StartError", retErr.Error()
			logErr(cctx, r.persistContainer(c), "persist container", "container", c.rec.Id)
		}
	}()
	h, err := r.handlerFor(p.rec.RuntimeHandler) // fixed at creation
	if err != nil {
		return err
	}
	phases := newPhases()
	streams, err := r.attachOutput(ctx, c)
	if err != nil {
		return err
	}
	mounts, err := r.snapshotMounts(ctx, c.rec.SnapshotKey)
	if err != nil {
		return err
	}
	if err := r.nri.startContainer(ctx, p, c); err != nil {
		return fmt.Errorf("NRI StartContainer: %w", err)
	}
	phases.mark("prepare")
	if _, err := createTask(ctx, s, h, c.rec.Id, r.bundleDir(c.rec.Id), mounts, streams); err != nil {
		return err
	}
	phases.mark("create")
	failpoint.Crash("container-start-after-task")
	pid, err := startTask(ctx, s, c.rec.Id)
	if err != nil {
		return err
	}
	phases.mark("start")
	c.rec.Pid, c.rec.State, c.rec.StartedAt = pid, records.ContainerState_CONTAINER_RUNNING, time.Now().UnixNano()
	if err := r.persistContainer(c); err != nil {
		return err
	}
	phases.mark("record")
	log.G(ctx).WithField("container", c.rec.Id).WithField("phases", phases).Info("container started")
	c.exited = make(chan struct{})
	go r.watchContainer(c, s)
	r.primeStats(c.podID, proto.Clone(c.rec).(*records.Container))
	go func() {
		bg := context.WithoutCancel(ctx)
		r.nri.event(bg, "post-start", p, c)
		r.emit(bg, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT, c.rec.Id, c.podID)
	}()
	return nil
}

// attachOutput opens the container's CRI log and starts copying its
// output streams into it, unless that runs already (the caller holds
// c.mu). It returns the streams, for the task.
func (r *Runtime) attachOutput(ctx context.Context, c *container) (cio.Streams, error) {
	return r.startOutput(ctx, c, cio.StartLogger)
}

// startOutput is attachOutput with the way the logger opens the streams:
// cio.StartLogger for a new task, cio.ReattachLogger for a running one whose
// shim already holds their other ends (recovery).
func (r *Runtime) startOutput(ctx context.Context, c *container, start func(context.Context, cio.Streams, *cio.LogFile) (*cio.Logger, error)) (cio.Streams, error) {
	streams, err := cio.NewStreams(r.ioDir(c.rec.Id), c.rec.Id, c.cfg.GetStdin(), c.cfg.GetTty())
	if err != nil || c.logger != nil {
		return streams, err
	}
	lf, err := cio.OpenLog(c.rec.LogPath)
	if err != nil {
		return streams, fmt.Errorf("open container log: %w", err)
	}
	if c.logger, err = start(ctx, streams, lf); err != nil {
		lf.Close()
		return streams, err
	}
	return streams, nil
}

// podShim is the running shim of a pod, or nil.
func (r *Runtime) podShim(podID string) *shim.Shim {
	r.mu.RLock()
	p := r.pods[podID]
	r.mu.RUnlock()
	if p == nil {
		return nil
	}
	return p.shim.Load()
}

// watchContainer records the container's exit when its process ends.
func (r *Runtime) watchContainer(c *container, s *shim.Shim) {
	st := waitTask(context.Background(), s, c.rec.Id, "")
	if st.err != nil && r.closing.Load() {
		return // our own shutdown closed the connection; the container runs on
	}
	r.recordExit(c, s, st)
}

// recordExit drains the container's output, deletes its task and records
// how it ended.
func (r *Runtime) recordExit(c *container, s *shim.Shim, st exitStatus) {
	ctx := context.Background()
	id := c.rec.Id
	if c.logger != nil {
		drained := make(chan struct{})
		go func() { c.logger.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(2 * time.Second):
		}
		c.logger.Close()
	}
	c.mu.Lock()
	// The shim's exit time of a short-lived process can precede the start
	// time recorded after Start returned: never report an end before the start.
	c.rec.State, c.rec.ExitCode, c.rec.FinishedAt = records.ContainerState_CONTAINER_EXITED, st.code, max(st.at.UnixNano(), c.rec.StartedAt)
	switch {
	case st.err != nil:
		c.rec.Reason, c.rec.Message = "Unknown", fmt.Sprintf("lost the container's shim: %v", st.err)
	case c.rec.OomKilled:
		c.rec.Reason = "OOMKilled"
	case st.code == 0:
		c.rec.Reason = "Completed"
	default:
		c.rec.Reason = "Error"
	}
	logErr(ctx, r.persistContainer(c), "persist container exit", "container", id)
	// Only once the exit is on disk may the task go: a crash in between
	// would leave a running record with no task to find.
	if st.err == nil {
		logErr(ctx, deleteTask(ctx, s, id), "delete exited task", "container", id)
	} else {
		r.cleanupAfterShim(id, s.Info)
	}
	if c.exited != nil {
		close(c.exited)
	}
	c.mu.Unlock()
	log.L.WithField("container", id).WithField("exit", st.code).Debug("container exited")
	if p, err := r.lookupPod(c.podID); err == nil {
		r.nri.event(ctx, "stop", p, c)
	}
	r.emit(ctx, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, id, c.podID)
}

// StopContainer stops a running container: its stop signal, then SIGKILL
// after timeout seconds. Stopping a stopped or unknown container succeeds.
func (r *Runtime) StopContainer(ctx context.Context, id string, timeout int64) error {
	defer r.activity.begin()()
	c, err := ifKnown(r.lookupContainer(id))
	if c == nil {
		return err
	}
	return r.stopContainer(ctx, c, timeout)
}

func (r *Runtime) stopContainer(ctx context.Context, c *container, timeout int64) error {
	c.mu.Lock()
	state, exited, id := c.rec.State, c.exited, c.rec.Id
	c.mu.Unlock()
	if state != records.ContainerState_CONTAINER_RUNNING || exited == nil {
		return nil
	}
	s := r.podShim(c.podID)
	if s != nil && timeout > 0 {
		sig := stopSignal(r.imageStopSignal(c))
		if err := killTask(ctx, s, id, sig, false); err != nil {
			return fmt.Errorf("signal container %s: %w", id, err)
		}
		select {
		case <-exited:
			return nil
		case <-time.After(time.Duration(timeout) * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s != nil {
		if err := killTask(ctx, s, id, 9, true); err != nil {
			return fmt.Errorf("kill container %s: %w", id, err)
		}
	}
	select {
	case <-exited:
		return nil
	case <-time.After(time.Minute):
		return fmt.Errorf("container %s did not exit after SIGKILL: %w", id, context.DeadlineExceeded)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Runtime) imageStopSignal(c *container) string {
	img, err := r.Images.Get(c.rec.ImageId)
	if err != nil {
		return ""
	}
	return img.Spec.Config.StopSignal
}

// RemoveContainer removes a container (stopping it first if it runs).
// Removing an unknown container succeeds. Deleting its record is the
// commit point; its snapshot, bundle and cgroup are removed right after in
// the background (RemovePodSandbox, RemoveImage and Close wait for that),
// and if wincri dies before, the sweep at its next start removes them.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	defer r.activity.begin()()
	c, err := ifKnown(r.lookupContainer(id))
	if c == nil {
		return err
	}
	if err := r.stopContainer(ctx, c, 0); err != nil {
		return err
	}
	if p, err := r.lookupPod(c.podID); err == nil {
		r.nri.event(ctx, "remove", p, c)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logger != nil {
		c.logger.Close()
		c.logger = nil
	}
	if err := r.store.DeleteContainer(c.rec.Id); err != nil {
		return err
	}
	r.removeBundleLater(ctx, c.podID, c.rec.Id, r.containerSpecOf(c))
	r.mu.Lock()
	delete(r.ctrs, c.rec.Id)
	r.mu.Unlock()
	r.stats.Forget(c.rec.Id)
	r.releaseName(containerName(c.cfg.GetMetadata(), c.podID), c.rec.Id)
	go r.emit(context.WithoutCancel(ctx), runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT, c.rec.Id, c.podID)
	return nil
}
