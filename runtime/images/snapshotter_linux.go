package images

import (
	"slices"

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
	caps := SnapshotterCapabilities()
	if slices.Contains(caps, "remap-ids") {
		opts = append(opts, overlay.WithRemapIDs)
	}
	sn, err := overlay.NewSnapshotter(root, opts...)
	if err != nil {
		return snapshotter{}, err
	}
	return snapshotter{Snapshotter: sn, Capabilities: caps}, nil
}

// SnapshotterName is the snapshotter images are unpacked into (a
// containerd's, in plugin mode, is found by this name).
const SnapshotterName = snapshotterName

// SnapshotterCapabilities are what the overlay snapshotter can do on this
// host, as containerd's overlayfs plugin reports them.
func SnapshotterCapabilities() []string {
	caps := []string{"only-remap-ids"}
	if ok, err := overlayutils.SupportsIDMappedMounts(); err == nil && ok {
		caps = append(caps, "remap-ids")
	}
	if !userns.RunningInUserNS() {
		caps = append(caps, snapshots.RebaseCap)
	}
	return caps
}

type diffService struct {
	diffComparer
	diffApplier
}

func newDiffService(cs content.Store) diffService {
	return diffService{walking.NewWalkingDiff(cs), apply.NewFileSystemApplier(cs)}
}
