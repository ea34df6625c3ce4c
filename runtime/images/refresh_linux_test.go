package images

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// putImage writes an image with no layers into the store's content and
// creates its record under name, as another client of a shared store
// (ctr images import) would.
func putImage(t *testing.T, s *Store, name string) {
	t.Helper()
	ctx := s.nsContext(context.Background())
	blob := func(mt string, v any) ocispec.Descriptor {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
		if err := content.WriteBlob(ctx, s.contentStore(), d.Digest.String(), bytes.NewReader(b), d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cfg := blob(ocispec.MediaTypeImageConfig, ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers"}})
	mf := blob(ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}})
	if _, err := s.imageService().Create(ctx, images.Image{Name: name, Target: mf}); err != nil {
		t.Fatal(err)
	}
}

// A removal that falls between Refresh's read of a record and its indexing
// must not leave the removed image listed.
func TestRefreshRacingRemove(t *testing.T) {
	s, err := Open(context.Background(), Options{Root: t.TempDir(), Platform: platforms.Only(ocispec.Platform{OS: "linux", Architecture: "amd64"})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const name = "registry.k8s.io/side/loaded:1"
	putImage(t, s, name)
	s.Refresh(context.Background(), name)
	if _, err := s.Get(name); err != nil {
		t.Fatalf("after a refresh of a record another client created: %v", err)
	}
	refreshRead = func() {
		refreshRead = nil
		if err := s.Remove(context.Background(), name); err != nil {
			t.Errorf("remove: %v", err)
		}
	}
	defer func() { refreshRead = nil }()
	s.Refresh(context.Background(), name)
	if img, err := s.Get(name); err == nil {
		t.Fatalf("a removed image is listed after a refresh that raced its removal: %s", img.ID)
	}
	if n := len(s.List()); n != 0 {
		t.Fatalf("%d images listed, want none", n)
	}
}
