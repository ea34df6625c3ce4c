package images

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/core/diff"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
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
