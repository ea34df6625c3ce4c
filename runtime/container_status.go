package runtime

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
)

// ContainerStatus reports a container; verbose adds its pid and OCI spec.
func (r *Runtime) ContainerStatus(_ context.Context, id string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	c, err := r.lookupContainer(id)
	if err != nil {
		return nil, err
	}
	rec := c.snapshot()
	given := c.cfg.GetImage()
	if given == nil { // never nil in a status: the kubelet reads its Image
		given = &runtimeapi.ImageSpec{Image: rec.ImageRef}
	}
	image, imageRef := r.statusImage(rec.ImageId, given)
	st := &runtimeapi.ContainerStatus{
		Id:          rec.Id,
		Metadata:    c.cfg.GetMetadata(),
		State:       containerState(rec.State),
		CreatedAt:   rec.CreatedAt,
		StartedAt:   rec.StartedAt,
		FinishedAt:  rec.FinishedAt,
		ExitCode:    rec.ExitCode,
		Image:       image,
		ImageRef:    imageRef,
		ImageId:     rec.ImageId,
		Reason:      rec.Reason,
		Message:     rec.Message,
		Labels:      c.cfg.GetLabels(),
		Annotations: c.cfg.GetAnnotations(),
		Mounts:      r.statusMounts(c.cfg.GetMounts()),
		LogPath:     rec.LogPath,
	}
	spec := r.containerSpecOf(c)
	if spec != nil && (spec.Linux != nil || spec.Windows != nil) {
		st.Resources = &runtimeapi.ContainerResources{Linux: c.cfg.GetLinux().GetResources(), Windows: c.cfg.GetWindows().GetResources()}
	}
	if spec != nil && spec.Process != nil {
		u := spec.Process.User
		gids := make([]int64, 0, len(u.AdditionalGids))
		for _, g := range u.AdditionalGids {
			gids = append(gids, int64(g))
		}
		st.User = &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: int64(u.UID), Gid: int64(u.GID), SupplementalGroups: gids}}
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: st}
	if verbose {
		b, _ := json.Marshal(map[string]any{"sandboxID": rec.PodId, "pid": rec.Pid, "snapshotKey": rec.SnapshotKey, "runtimeSpec": spec, "config": c.cfg})
		resp.Info = map[string]string{"info": string(b)}
	}
	return resp, nil
}

// statusImage is what a container's status names as its image, as
// containerd's CRI does. The image: its first tag when it has one (the
// kubelet passes the image id to CreateContainer, and shows and compares with
// the pod's spec what comes back here), else the spec CreateContainer was
// given. The ref: a repo digest when the image has one, else its id.
func (r *Runtime) statusImage(imageID string, spec *runtimeapi.ImageSpec) (*runtimeapi.ImageSpec, string) {
	img, err := r.Images.Get(imageID)
	if err != nil {
		return spec, imageID
	}
	if tags := img.RepoTags(); len(tags) > 0 {
		spec = &runtimeapi.ImageSpec{Image: tags[0]}
	}
	if digests := img.RepoDigests(); len(digests) > 0 {
		return spec, digests[0]
	}
	return spec, imageID
}

// imageRef is what kubelet shows as the image a container runs: a repo
// digest when the image has one, else its id.
func (r *Runtime) imageRef(imageID string) string {
	_, ref := r.statusImage(imageID, nil)
	return ref
}

// containerSpecOf is the container's OCI spec, read from its bundle once.
func (r *Runtime) containerSpecOf(c *container) *specs.Spec {
	if s := c.spec.Load(); s != nil {
		return s
	}
	s := r.readSpec(c.rec.Id)
	if s != nil {
		c.spec.Store(s)
	}
	return s
}

// readSpec reads the OCI spec in id's bundle (nil if gone).
func (r *Runtime) readSpec(id string) *specs.Spec {
	b, err := os.ReadFile(filepath.Join(r.bundleDir(id), "config.json"))
	if err != nil {
		return nil
	}
	var s specs.Spec
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	return &s
}

func containerState(s records.ContainerState) runtimeapi.ContainerState {
	switch s {
	case records.ContainerState_CONTAINER_CREATED:
		return runtimeapi.ContainerState_CONTAINER_CREATED
	case records.ContainerState_CONTAINER_RUNNING:
		return runtimeapi.ContainerState_CONTAINER_RUNNING
	case records.ContainerState_CONTAINER_EXITED:
		return runtimeapi.ContainerState_CONTAINER_EXITED
	}
	return runtimeapi.ContainerState_CONTAINER_UNKNOWN
}

// ListContainers lists containers matching the filter.
func (r *Runtime) ListContainers(f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	var out []*runtimeapi.Container
	for _, c := range r.allContainers() {
		rec := c.snapshot()
		if f.GetId() != "" && !strings.HasPrefix(rec.Id, f.GetId()) {
			continue
		}
		if f.GetPodSandboxId() != "" && !strings.HasPrefix(rec.PodId, f.GetPodSandboxId()) {
			continue
		}
		if f.GetState() != nil && f.GetState().State != containerState(rec.State) {
			continue
		}
		if !matchLabels(f.GetLabelSelector(), c.cfg.GetLabels()) {
			continue
		}
		out = append(out, &runtimeapi.Container{
			Id: rec.Id, PodSandboxId: rec.PodId, Metadata: c.cfg.GetMetadata(),
			Image:    &runtimeapi.ImageSpec{Image: rec.ImageRef},
			ImageRef: r.imageRef(rec.ImageId), ImageId: rec.ImageId,
			State: containerState(rec.State), CreatedAt: rec.CreatedAt,
			Labels: c.cfg.GetLabels(), Annotations: c.cfg.GetAnnotations(),
		})
	}
	return out
}

// statusMounts reports the config's mounts, with the image id each image
// volume resolved to.
func (r *Runtime) statusMounts(in []*runtimeapi.Mount) []*runtimeapi.Mount {
	out := make([]*runtimeapi.Mount, 0, len(in))
	for _, m := range in {
		if ref := m.GetImage().GetImage(); ref != "" {
			if img, err := r.Images.Get(ref); err == nil {
				m = proto.Clone(m).(*runtimeapi.Mount)
				m.Image.ImageRef = img.ID
			}
		}
		out = append(out, m)
	}
	return out
}
