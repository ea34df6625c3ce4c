package images

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/containerd/v2/core/content"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// readJSON reads and decodes a JSON blob from the content store.
func readJSON[T any](ctx context.Context, cs content.Provider, desc ocispec.Descriptor) (T, error) {
	var v T
	b, err := content.ReadBlob(ctx, cs, desc)
	if err != nil {
		return v, fmt.Errorf("read %s: %w", desc.Digest, err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", desc.Digest, err)
	}
	return v, nil
}
