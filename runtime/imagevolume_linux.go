package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// imageVolumeKey names the read-only view snapshot of a container's n-th
// image volume; removeBundle finds them by the prefix.
func imageVolumeKey(id string, n int) string { return id + "-imagevolume-" + strconv.Itoa(n) }

// imageVolumeMounts mounts each image volume of the config read-only on the
// host (a view snapshot under the bundle) and returns the bind mounts that
// put them (or their sub-path) into the container.
func (r *Runtime) imageVolumeMounts(ctx context.Context, id string, mounts []*runtimeapi.Mount) ([]specs.Mount, error) {
	var out []specs.Mount
	sn := r.Images.Client().SnapshotService(r.Images.Snapshotter())
	for n, m := range mounts {
		ref := m.GetImage().GetImage()
		if ref == "" {
			continue
		}
		if !m.Readonly {
			return nil, fmt.Errorf("image volume at %s must be read-only: %w", m.ContainerPath, errdefs.ErrInvalidArgument)
		}
		img, err := r.Images.Get(ref)
		if err != nil {
			return nil, fmt.Errorf("image volume at %s: %w", m.ContainerPath, err)
		}
		key := imageVolumeKey(id, n)
		labels := map[string]string{"containerd.io/gc.root": time.Now().UTC().Format(time.RFC3339)}
		ms, err := sn.View(nsCtx(ctx), key, img.ChainID, snapshots.WithLabels(labels))
		if errdefs.IsAlreadyExists(err) {
			ms, err = sn.Mounts(nsCtx(ctx), key)
		}
		if err != nil {
			return nil, fmt.Errorf("image volume at %s: view of %s: %w", m.ContainerPath, img.ID, err)
		}
		target := filepath.Join(r.bundleDir(id), "imagevolumes", strconv.Itoa(n))
		if err := os.MkdirAll(target, 0o711); err != nil {
			return nil, err
		}
		if err := mount.All(ms, target); err != nil {
			return nil, fmt.Errorf("mount image volume %s: %w", img.ID, err)
		}
		src := target
		if sub := m.GetImageSubPath(); sub != "" {
			src = filepath.Join(target, filepath.Clean("/"+sub))
			if _, err := os.Stat(src); err != nil {
				return nil, fmt.Errorf("image volume at %s: sub-path %q not in image %s: %w", m.ContainerPath, sub, ref, errdefs.ErrInvalidArgument)
			}
		}
		out = append(out, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: src, Options: []string{"rbind", "ro", "rprivate"}})
	}
	return out, nil
}

// removeImageVolumes unmounts a container's image volumes and removes
// their view snapshots.
func (r *Runtime) removeImageVolumes(ctx context.Context, id string) error {
	if err := mount.UnmountRecursive(filepath.Join(r.bundleDir(id), "imagevolumes"), 0); err != nil && !os.IsNotExist(err) {
		return err
	}
	sn := r.Images.Client().SnapshotService(r.Images.Snapshotter())
	var keys []string
	sn.Walk(nsCtx(ctx), func(_ context.Context, info snapshots.Info) error {
		if strings.HasPrefix(info.Name, id+"-imagevolume-") {
			keys = append(keys, info.Name)
		}
		return nil
	})
	for _, k := range keys {
		if err := sn.Remove(nsCtx(ctx), k); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	return nil
}
