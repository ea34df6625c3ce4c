package images

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/log"
)

// FsUsage is what the image filesystem uses.
type FsUsage struct {
	Mountpoint string
	Bytes      int64
	Inodes     int64
	Timestamp  time.Time
}

// usageMaxAge is how long a measured usage is served while no image was
// pulled, removed or collected (containerd's snapshot syncer runs every 10 s).
const usageMaxAge = 10 * time.Second

// usageCache holds the last measurement and the store generation it saw.
type usageCache struct {
	gen atomic.Uint64 // bumped by every pull, removal and GC

	mu   sync.Mutex
	last FsUsage
	seen uint64
}

// changed marks the cached usage stale.
func (c *usageCache) changed() { c.gen.Add(1) }

// Usage is what images take on disk: the content store's blobs and every
// snapshot's usage, as containerd's ImageFsInfo sums them. Committed
// snapshots report the usage recorded when they were committed (no walk of
// their files: Windows base layers are gigabytes); only active ones (writable
// layers) are measured. A snapshot or blob removed while summing is skipped,
// never an error. The result is cached until the store changes or for
// usageMaxAge.
func (s *Store) Usage(ctx context.Context) (FsUsage, error) {
	c := &s.usage
	c.mu.Lock()
	defer c.mu.Unlock()
	gen := c.gen.Load()
	if !c.last.Timestamp.IsZero() && gen == c.seen && time.Since(c.last.Timestamp) < usageMaxAge {
		return c.last, nil
	}
	// The directory images live in: the store's root standalone (content
	// and snapshots below it); inside a containerd, its snapshotter's root
	// (as containerd's CRI reports it), not the plugin's empty directory.
	mount := s.opts.Root
	if s.shared {
		mount = s.snapRoot
	}
	u := FsUsage{Mountpoint: mount, Timestamp: time.Now()}
	ctx = s.nsContext(ctx)
	sn := s.client.SnapshotService(s.snapshotter)
	err := sn.Walk(ctx, func(ctx context.Context, info snapshots.Info) error {
		su, err := sn.Usage(ctx, info.Name)
		if err != nil {
			log.G(ctx).WithError(err).WithField("snapshot", info.Name).Debug("image fs usage: snapshot skipped")
			return nil
		}
		u.Bytes += su.Size
		u.Inodes += su.Inodes
		return nil
	})
	if err != nil {
		return FsUsage{}, err
	}
	if err := s.contentStore().Walk(ctx, func(info content.Info) error {
		u.Bytes += info.Size
		u.Inodes++
		return nil
	}); err != nil {
		return FsUsage{}, err
	}
	c.last, c.seen = u, gen
	return u, nil
}
