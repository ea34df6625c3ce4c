package images

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is one image as CRI sees it: a config digest (the id) and every
// reference that names it.
type Image struct {
	// ID is the digest of the image config, as kubelet expects.
	ID string
	// Target is the descriptor the references point at (manifest or index).
	Target ocispec.Descriptor
	// References are the repo tags and repo digests naming the image, sorted.
	References []string
	// Size is the image's content size for this platform, in bytes.
	Size int64
	// Spec is the image config (user, env, entrypoint, ...).
	Spec ocispec.Image
	// ChainID identifies the unpacked root filesystem snapshot.
	ChainID string
	// Pinned images are never garbage-collected by kubelet.
	Pinned bool

	// tags and digests split References (kept in step by the index, so a
	// list or status parses nothing).
	tags, digests []string
}

// RepoTags returns the references that carry a tag.
func (i *Image) RepoTags() []string { return i.tags }

// RepoDigests returns the references that carry a digest.
func (i *Image) RepoDigests() []string { return i.digests }

// splitRefs recomputes tags and digests from References.
func (i *Image) splitRefs() {
	i.tags, i.digests = nil, nil
	for _, r := range i.References {
		n, err := reference.ParseNamed(r)
		if err != nil {
			continue
		}
		if _, ok := n.(reference.Digested); ok {
			i.digests = append(i.digests, r)
		} else if _, ok := n.(reference.Tagged); ok {
			i.tags = append(i.tags, r)
		}
	}
}

// describe reads the config of target for this platform.
func (s *Store) describe(ctx context.Context, target ocispec.Descriptor) (*Image, error) {
	cs := s.contentStore()
	cfgDesc, err := images.Config(ctx, cs, target, s.platform)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	spec, err := readJSON[ocispec.Image](ctx, cs, cfgDesc)
	if err != nil {
		return nil, err
	}
	size, err := (&images.Image{Target: target}).Size(ctx, cs, s.platform)
	if err != nil {
		return nil, fmt.Errorf("image size: %w", err)
	}
	return &Image{
		ID:      cfgDesc.Digest.String(),
		Target:  target,
		Size:    size,
		Spec:    spec,
		ChainID: identity.ChainID(spec.RootFS.DiffIDs).String(),
	}, nil
}

// index records that ref names img (img may already be indexed under another
// reference). A ref that named another image is moved.
func (s *Store) index(img *Image, ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexLocked(img, ref)
}

func (s *Store) indexLocked(img *Image, ref string) {
	s.usage.changed()
	if old, ok := s.byRef[ref]; ok && old != img.ID {
		s.unindexLocked(ref)
	}
	cur, ok := s.byID[img.ID]
	if !ok {
		cur = img
		cur.References = nil
		cur.Pinned = false
		s.byID[img.ID] = cur
		s.byRef[img.ID] = img.ID
	}
	s.byRef[ref] = img.ID
	if ref == img.ID {
		return
	}
	i := sort.SearchStrings(cur.References, ref)
	if i == len(cur.References) || cur.References[i] != ref {
		cur.References = append(cur.References, "")
		copy(cur.References[i+1:], cur.References[i:])
		cur.References[i] = ref
		cur.splitRefs()
	}
	for _, p := range s.opts.PinnedImages {
		if p == ref {
			cur.Pinned = true
		}
	}
}

// unindexLocked forgets ref; an image left with no reference but its id is
// dropped by the caller deleting its id record.
func (s *Store) unindexLocked(ref string) {
	s.usage.changed()
	id, ok := s.byRef[ref]
	if !ok {
		return
	}
	delete(s.byRef, ref)
	img := s.byID[id]
	if ref == id {
		delete(s.byID, id)
		return
	}
	i := sort.SearchStrings(img.References, ref)
	if i < len(img.References) && img.References[i] == ref {
		img.References = append(img.References[:i], img.References[i+1:]...)
		img.splitRefs()
	}
	img.Pinned = false
	for _, r := range img.References {
		for _, p := range s.opts.PinnedImages {
			if p == r {
				img.Pinned = true
			}
		}
	}
}

// List returns a snapshot of every image, sorted by id.
func (s *Store) List() []Image {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Image, 0, len(s.byID))
	for _, img := range s.byID {
		c := *img
		c.References = append([]string(nil), img.References...)
		c.tags, c.digests = append([]string(nil), img.tags...), append([]string(nil), img.digests...)
		out = append(out, c)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Get resolves a CRI image name to an image: an image id (full digest, bare
// hex, or a unique hex prefix of at least 12 characters), a repo tag or repo
// digest in any form docker accepts ("busybox" is docker.io/library/busybox:latest).
// It returns an errdefs.ErrNotFound error when nothing matches.
func (s *Store) Get(name string) (Image, error) {
	if name == "" {
		return Image{}, fmt.Errorf("image name must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, err := s.resolveLocked(name)
	if err != nil {
		return Image{}, err
	}
	img := *s.byID[id]
	img.References = append([]string(nil), img.References...)
	img.tags, img.digests = append([]string(nil), img.tags...), append([]string(nil), img.digests...)
	return img, nil
}

func (s *Store) resolveLocked(name string) (string, error) {
	if d, err := digest.Parse(name); err == nil {
		if _, ok := s.byID[d.String()]; ok {
			return d.String(), nil
		}
		return "", fmt.Errorf("image %q: %w", name, errdefs.ErrNotFound)
	}
	if isHex(name) && len(name) == 64 {
		if _, ok := s.byID["sha256:"+name]; ok {
			return "sha256:" + name, nil
		}
	}
	if ref, err := NormalizeRef(name); err == nil {
		if id, ok := s.byRef[ref]; ok {
			return id, nil
		}
	}
	if isHex(name) && len(name) >= 12 {
		var match string
		for id := range s.byID {
			if strings.HasPrefix(strings.TrimPrefix(id, "sha256:"), name) {
				if match != "" {
					return "", fmt.Errorf("image id prefix %q is ambiguous: %w", name, errdefs.ErrInvalidArgument)
				}
				match = id
			}
		}
		if match != "" {
			return match, nil
		}
	}
	return "", fmt.Errorf("image %q: %w", name, errdefs.ErrNotFound)
}

// NormalizeRef returns the fully qualified form of a docker reference
// ("busybox" -> "docker.io/library/busybox:latest").
func NormalizeRef(name string) (string, error) {
	n, err := reference.ParseDockerRef(name)
	if err != nil {
		return "", fmt.Errorf("invalid image reference %q: %v: %w", name, err, errdefs.ErrInvalidArgument)
	}
	return n.String(), nil
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}
