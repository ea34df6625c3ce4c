package images

import (
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/diff/apply"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/plugins/diff/walking"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay/overlayutils"
	"github.com/moby/sys/userns"
)

const snapshotterName = "overlayfs"

type snapshotter struct {
	snapshots.Snapshotter
	Capabilities []string
}

// newSnapshotter opens the overlay snapshotter the way containerd's overlayfs
// plugin does by default, and says what it can do.
func newSnapshotter(root string) (snapshotter, error) {
	opts := []overlay.Opt{overlay.AsynchronousRemove}
	caps := []string{"only-remap-ids"}
	if ok, err := overlayutils.SupportsIDMappedMounts(); err == nil && ok {
		opts = append(opts, overlay.WithRemapIDs)
		caps = append(caps, "remap-ids")
	}
	if !userns.RunningInUserNS() {
		caps = append(caps, snapshots.RebaseCap)
	}
	sn, err := overlay.NewSnapshotter(root, opts...)
	if err != nil {
		return snapshotter{}, err
	}
	return snapshotter{Snapshotter: sn, Capabilities: caps}, nil
}

type diffService struct {
	diffComparer
	diffApplier
}

func newDiffService(cs content.Store) diffService {
	return diffService{walking.NewWalkingDiff(cs), apply.NewFileSystemApplier(cs)}
}
