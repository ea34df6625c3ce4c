package images

import (
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/plugins/diff/windows"
	winsn "github.com/containerd/containerd/v2/plugins/snapshots/windows"
	"github.com/containerd/log"
)

const snapshotterName = "windows"

type snapshotter struct {
	snapshots.Snapshotter
	Capabilities []string
}

// newSnapshotter opens containerd's windows snapshotter (WCIFS layers).
func newSnapshotter(root string) (snapshotter, error) {
	sn, err := winsn.NewWindowsSnapshotter(root)
	if err != nil {
		return snapshotter{}, err
	}
	return snapshotter{Snapshotter: sn}, nil
}

// SnapshotterCapabilities: the windows snapshotter reports none.
func SnapshotterCapabilities() []string { return nil }

// SnapshotterName is the snapshotter images are unpacked into (a
// containerd's, in plugin mode, is found by this name).
const SnapshotterName = snapshotterName

type diffService struct {
	diffComparer
	diffApplier
}

// newDiffService returns containerd's windows differ, which imports layers
// through the Host Compute Service. Without HCS (e.g. under Wine) it cannot
// be created; pulls then fail with the reason.
func newDiffService(cs content.Store) diffService {
	d, err := windows.NewWindowsDiff(cs)
	if err != nil {
		log.L.WithError(err).Error("windows layer differ unavailable: image pulls will fail")
		return diffService{unavailableDiff{err}, unavailableDiff{err}}
	}
	return diffService{d, d}
}
