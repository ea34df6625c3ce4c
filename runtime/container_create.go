package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/failpoint"
	"github.com/wincri/wincri/runtime/validate"
)

// CreateContainer creates a container in a ready pod: its rootfs snapshot
// and bundle. Its task is created in the pod's shim by StartContainer, as
// containerd does. Whatever fails undoes what was done; a crash midway is
// undone at the next start.
func (r *Runtime) CreateContainer(ctx context.Context, podID string, cfg *runtimeapi.ContainerConfig) (_ string, retErr error) {
	defer r.activity.begin()()
	if err := validate.ContainerConfig(cfg); err != nil {
		return "", err
	}
	md := cfg.GetMetadata()
	if u := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions(); u != nil {
		if p, err := r.lookupPod(podID); err == nil && !proto.Equal(u, p.cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions()) {
			return "", fmt.Errorf("container user namespace options differ from the pod's: %w", errdefs.ErrInvalidArgument)
		}
	}
	p, err := r.lookupPod(podID)
	if err != nil {
		return "", err
	}
	prec := p.snapshot()
	if prec.State != records.PodState_POD_READY || (p.shim.Load() == nil && !prec.NoPause) {
		return "", fmt.Errorf("pod sandbox %s is not ready: %w", prec.Id, errdefs.ErrFailedPrecondition)
	}
	h, err := r.handlerFor(prec.RuntimeHandler)
	if err != nil {
		return "", err
	}
	logPath, err := containerLogPath(p.cfg.GetLogDirectory(), cfg.GetLogPath())
	if err != nil {
		return "", err
	}
	img, err := r.Images.Get(cfg.GetImage().GetImage())
	if err != nil {
		return "", fmt.Errorf("container image: %w", err)
	}
	raw, err := proto.Marshal(cfg)
	if err != nil {
		return "", err
	}
	id, name := newID(), containerName(md, prec.Id)
	if err := r.reserveName(name, id); err != nil {
		return "", err
	}
	c := &container{podID: prec.Id, cfg: cfg, rec: &records.Container{
		Id: id, PodId: prec.Id, Config: raw, State: records.ContainerState_CONTAINER_CREATING,
		ImageRef: cfg.GetImage().GetImage(), ImageId: img.ID, CreatedAt: time.Now().UnixNano(),
		LogPath: logPath, SnapshotKey: id, Platform: h.platform,
	}}
	// No record until the container is created: what a crash leaves before
	// that (bundle, snapshot) has no owner and is swept at the next start.
	defer func() {
		if retErr != nil {
			cctx := context.WithoutCancel(ctx)
			logErr(cctx, r.removeBundle(cctx, id, nil), "remove bundle of failed container", "container", id)
			r.releaseName(name, id)
		}
	}()
	un, err := podUserns(p.cfg)
	if err != nil {
		return "", err
	}
	if _, err := r.prepareSnapshot(ctx, id, img.ChainID, append(un.snapshotOpts(), rootfsSnapshotOpts(cfg)...)...); err != nil {
		return "", err
	}
	specCfg := withImageVolumes(cfg, img.Spec.Config, r.containerDir(id), h.platform != "windows")
	spec, err := r.containerSpec(ctx, specInput{id: id, podID: prec.Id, handler: h, podCfg: p.cfg, image: img, netns: prec.NetnsPath, podDir: r.podDir(prec.Id), pausePid: prec.Pid, podNS: podNamespacePaths(prec, r.podDir(prec.Id)), userns: un}, specCfg)
	if err != nil {
		return "", err
	}
	if err := r.nri.createContainer(ctx, p, c, spec); err != nil {
		return "", fmt.Errorf("NRI CreateContainer: %w", err)
	}
	if spec.Linux != nil {
		if err := r.fitResources(ctx, id, spec.Linux.Resources); err != nil {
			return "", err
		}
	}
	if err := r.writeBundle(id, spec); err != nil {
		return "", err
	}
	c.spec.Store(spec)
	failpoint.Crash("container-after-bundle")
	c.rec.State = records.ContainerState_CONTAINER_CREATED
	if err := r.persistContainer(c); err != nil {
		return "", err
	}
	r.mu.Lock()
	r.ctrs[id] = c
	r.mu.Unlock()
	r.nri.event(ctx, "post-create", p, c)
	r.emit(ctx, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, id, prec.Id)
	return id, nil
}

// containerLogPath joins the pod's log directory and the container's log
// path, refusing a path that escapes the directory.
func containerLogPath(dir, rel string) (string, error) {
	if rel == "" {
		return "", nil
	}
	if dir == "" {
		return "", fmt.Errorf("container log path %q given but the pod has no log directory: %w", rel, errdefs.ErrInvalidArgument)
	}
	full := filepath.Join(dir, rel)
	if r, err := filepath.Rel(dir, full); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("container log path %q escapes the pod log directory: %w", rel, errdefs.ErrInvalidArgument)
	}
	return full, nil
}
