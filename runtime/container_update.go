package runtime

import (
	"context"
	"fmt"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
)

// UpdateContainerResources changes a container's limits (its platform's
// part of res), in the running task and in what is reported and persisted.
func (r *Runtime) UpdateContainerResources(ctx context.Context, id string, res *runtimeapi.ContainerResources) error {
	return r.updateResources(ctx, id, res, true)
}

// updateResources applies an update; withNRI lets NRI plugins amend it
// first (not for the updates they ask for themselves).
func (r *Runtime) updateResources(ctx context.Context, id string, res *runtimeapi.ContainerResources, withNRI bool) error {
	c, err := r.lookupContainer(id)
	if err != nil {
		return err
	}
	if res.GetLinux() == nil && res.GetWindows() == nil {
		return nil
	}
	p, _ := r.lookupPod(c.podID)
	if withNRI && p != nil && res.GetLinux() != nil {
		res = &runtimeapi.ContainerResources{Linux: res.GetLinux(), Windows: res.GetWindows()}
		if res.Linux, err = r.nri.updateContainer(ctx, p, c, res.Linux); err != nil {
			return fmt.Errorf("NRI UpdateContainer: %w", err)
		}
		defer r.nri.event(context.WithoutCancel(ctx), "post-update", p, c)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State == records.ContainerState_CONTAINER_EXITED {
		return fmt.Errorf("container %s has exited: %w", c.rec.Id, errdefs.ErrFailedPrecondition)
	}
	spec := r.containerSpecOf(c)
	if spec == nil {
		return fmt.Errorf("container %s has no spec: %w", c.rec.Id, errdefs.ErrFailedPrecondition)
	}
	// The platform's part: checked, merged into the spec, and what the
	// shim's Update takes (nil when the request has nothing for it).
	update, err := r.resourceUpdate(ctx, c.rec.Id, spec, res)
	if err != nil || update == nil {
		return err
	}
	if c.rec.State == records.ContainerState_CONTAINER_RUNNING {
		a, err := typeurl.MarshalAnyToProto(update)
		if err != nil {
			return err
		}
		s := r.podShim(c.podID)
		if s == nil {
			return fmt.Errorf("pod of container %s is not running: %w", c.rec.Id, errdefs.ErrFailedPrecondition)
		}
		if _, err := s.Task.Update(ctx, &taskapi.UpdateTaskRequest{ID: c.rec.Id, Resources: a}); err != nil {
			return fmt.Errorf("update container %s: %w", c.rec.Id, errgrpcFromShim(err))
		}
	}
	cfg := proto.Clone(c.cfg).(*runtimeapi.ContainerConfig)
	setConfigResources(cfg, res)
	raw, err := proto.Marshal(cfg)
	if err != nil {
		return err
	}
	c.cfg, c.rec.Config = cfg, raw
	return r.persistContainer(c)
}

// ReopenContainerLog reopens a running container's log after rotation.
func (r *Runtime) ReopenContainerLog(_ context.Context, id string) error {
	c, err := r.lookupContainer(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State != records.ContainerState_CONTAINER_RUNNING || c.logger == nil {
		return fmt.Errorf("container %s is not running: %w", c.rec.Id, errdefs.ErrFailedPrecondition)
	}
	return c.logger.Log.Reopen()
}
