package images

import (
	"context"
	"time"

	"github.com/containerd/continuity/fs"
)

// FsUsage is what the image filesystem uses.
type FsUsage struct {
	Mountpoint string
	Bytes      int64
	Inodes     int64
	Timestamp  time.Time
}

// Usage measures the bytes and inodes used under the store's root (content,
// snapshots and metadata): what images take on disk.
func (s *Store) Usage(ctx context.Context) (FsUsage, error) {
	now := time.Now()
	u, err := fs.DiskUsage(ctx, s.opts.Root)
	if err != nil {
		return FsUsage{}, err
	}
	return FsUsage{Mountpoint: s.opts.Root, Bytes: u.Size, Inodes: u.Inodes, Timestamp: now}, nil
}
