package images

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// Remove removes what name refers to. Given an image id or a repo digest it
// removes the image with every reference. Given a repo tag it removes that tag
// only, and the image with it when no other tag is left. Removing an image
// that is not there succeeds (CRI's RemoveImage is idempotent). Content and
// snapshots no image needs any more are garbage-collected before it returns.
func (s *Store) Remove(ctx context.Context, name string) error {
	ctx = s.nsContext(ctx)
	s.mu.Lock()
	id, err := s.resolveLocked(name)
	if err != nil {
		s.mu.Unlock()
		if errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	img := s.byID[id]
	drop := append([]string{}, img.References...)
	if tag, ok := s.tagOf(name, img); ok && len(img.RepoTags()) > 1 {
		drop = []string{tag}
	} else {
		drop = append(drop, id)
	}
	is := s.imageService()
	err = s.inTx(ctx, func(ctx context.Context) error {
		for _, r := range drop {
			if err := is.Delete(ctx, r); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("remove image record %s: %w", r, err)
			}
		}
		return nil
	})
	if err == nil {
		for _, r := range drop {
			s.unindexLocked(r)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if drop[len(drop)-1] != id {
		return nil // untagged only: everything is still referenced
	}
	if err := s.GC(ctx); err != nil {
		return fmt.Errorf("image %s removed, but garbage collection failed: %w", id, err)
	}
	return nil
}

// tagOf returns the repo tag that name spells, if name is a tag of img.
func (s *Store) tagOf(name string, img *Image) (string, bool) {
	ref, err := NormalizeRef(name)
	if err != nil {
		return "", false
	}
	n, err := reference.ParseNamed(ref)
	if err != nil {
		return "", false
	}
	if _, ok := n.(reference.Tagged); !ok {
		return "", false
	}
	if _, ok := n.(reference.Digested); ok {
		return "", false
	}
	for _, r := range img.References {
		if r == ref {
			return ref, true
		}
	}
	return "", false
}
