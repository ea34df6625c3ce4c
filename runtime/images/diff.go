package images

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/diff"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

type (
	diffComparer = diff.Comparer
	diffApplier  = diff.Applier
)

// unavailableDiff fails every layer operation with the reason the platform's
// differ could not be created.
type unavailableDiff struct{ err error }

func (u unavailableDiff) Compare(context.Context, []mount.Mount, []mount.Mount, ...diff.Opt) (ocispec.Descriptor, error) {
	return ocispec.Descriptor{}, fmt.Errorf("layer differ unavailable: %v: %w", u.err, errdefs.ErrUnavailable)
}

func (u unavailableDiff) Apply(context.Context, ocispec.Descriptor, []mount.Mount, ...diff.ApplyOpt) (ocispec.Descriptor, error) {
	return ocispec.Descriptor{}, fmt.Errorf("layer differ unavailable: %v: %w", u.err, errdefs.ErrUnavailable)
}

var _ diff.Comparer = unavailableDiff{}

// extraction counts what the differ does while unpacking layers: the bytes
// of layer blobs it has read, the layers being applied now and those done.
// The pull progress log and the stall timeout read it, so a long unpack
// (a Windows base layer takes minutes) is visibly alive, and a stuck one
// is cancelled.
type extraction struct {
	bytes    atomic.Int64
	applying atomic.Int64
	layers   atomic.Int64
}

// measured wraps the platform's differ and its content store so that every
// layer applied is counted in x.
func measured(newDiff func(content.Store) diffService, cs content.Store, x *extraction) diffService {
	ds := newDiff(countingContent{Store: cs, x: x})
	ds.diffApplier = measuredApplier{Applier: ds.diffApplier, x: x}
	return ds
}

type measuredApplier struct {
	diff.Applier
	x *extraction
}

func (m measuredApplier) Apply(ctx context.Context, desc ocispec.Descriptor, mounts []mount.Mount, opts ...diff.ApplyOpt) (ocispec.Descriptor, error) {
	m.x.applying.Add(1)
	defer m.x.applying.Add(-1)
	start := time.Now()
	d, err := m.Applier.Apply(ctx, desc, mounts, opts...)
	if err == nil {
		m.x.layers.Add(1)
		log.G(ctx).WithField("layer", desc.Digest).WithField("size", desc.Size).
			WithField("duration", time.Since(start).Round(time.Millisecond)).Debug("layer extracted")
	}
	return d, err
}

// countingContent counts the bytes read through its ReaderAts: the differ
// reads each layer blob once, as it extracts it.
type countingContent struct {
	content.Store
	x *extraction
}

func (c countingContent) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	ra, err := c.Store.ReaderAt(ctx, desc)
	if err != nil {
		return nil, err
	}
	return countingReaderAt{ReaderAt: ra, x: c.x}, nil
}

type countingReaderAt struct {
	content.ReaderAt
	x *extraction
}

func (r countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.ReaderAt.ReadAt(p, off)
	r.x.bytes.Add(int64(n))
	return n, err
}
