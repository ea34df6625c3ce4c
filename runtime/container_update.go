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

// UpdateContainerResources changes a container's CPU and memory limits,
// in the running task and in what is reported and persisted.
func (r *Runtime) UpdateContainerResources(ctx context.Context, id string, res *runtimeapi.LinuxContainerResources) error {
	return r.updateResources(ctx, id, res, true)
}

// updateResources applies an update; withNRI lets NRI plugins amend it
// first (not for the updates they ask for themselves).
func (r *Runtime) updateResources(ctx context.Context, id string, res *runtimeapi.LinuxContainerResources, withNRI bool) error {
	c, err := r.lookupContainer(id)
	if err != nil {
		return err
	}
	if res == nil {
		return nil
	}
	if err := checkUpdateResources(res); err != nil {
		return err
	}
	p, _ := r.lookupPod(c.podID)
	if withNRI && p != nil {
		if res, err = r.nri.updateContainer(ctx, p, c, res); err != nil {
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
	if spec == nil || spec.Linux == nil {
		return fmt.Errorf("container %s has no Linux spec: %w", c.rec.Id, errdefs.ErrFailedPrecondition)
	}
	if c.rec.State == records.ContainerState_CONTAINER_RUNNING {
		resources := linuxResources(spec.Linux.Resources, res)
		if err := r.fitResources(ctx, c.rec.Id, resources); err != nil {
			return err
		}
		a, err := typeurl.MarshalAnyToProto(resources)
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
	if cfg.Linux == nil {
		cfg.Linux = &runtimeapi.LinuxContainerConfig{}
	}
	cfg.Linux.Resources = res
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
