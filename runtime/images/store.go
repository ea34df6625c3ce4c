// Package images is wincri's image store: containerd's content store,
// metadata database (bbolt), snapshotter, resolver and unpacker used
// in-process, with an in-memory index that answers CRI's image calls without
// touching the disk.
package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/metadata"
	"github.com/containerd/containerd/v2/core/metadata/boltutil"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"github.com/containerd/platforms"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/semaphore"
)

const (
	// Namespace is the containerd namespace wincri keeps its images in.
	Namespace = "k8s.io"
	// managedLabel marks image records created by the CRI (containerd's key,
	// so tools that know containerd's CRI images read ours too).
	managedLabel    = "io.cri-containerd.image"
	pullLeasePrefix = "wincri-pull-"
)

// Options configures a Store.
type Options struct {
	// Root holds content/, snapshots/ and meta.db.
	Root string
	// RegistryConfigPath is the hosts.toml directory ("" for registry defaults).
	RegistryConfigPath string
	// PinnedImages are references whose images are reported pinned.
	PinnedImages []string
	// PullProgressTimeout cancels a pull that neither downloads nor extracts
	// anything for this long (0: never).
	PullProgressTimeout time.Duration
	// PullProgressInterval is how often a running pull logs its progress
	// (0: every 10 s).
	PullProgressInterval time.Duration
	// MaxConcurrentDownloads bounds layer downloads per pull.
	MaxConcurrentDownloads int
	// MaxConcurrentUnpacks bounds the layers extracted at once, store-wide.
	// Above 1, a snapshotter that can rebase (overlayfs) extracts the layers
	// of one image in parallel, each as soon as it is downloaded, and
	// stacks them in order afterwards; others extract one after the other.
	MaxConcurrentUnpacks int
	// Platform matches the manifests to pull; nil means this host's platform.
	Platform platforms.MatchComparer
	// Shared, when set, is containerd's metadata database (plugin mode): its
	// content store, images, leases and snapshotter are used instead of a
	// store of wincri's own, so an image is stored once and every client of
	// that containerd sees it.
	Shared *Shared
}

// Shared is what a containerd that hosts wincri lends its image store.
type Shared struct {
	DB *metadata.DB
	// SnapshotRoot is the directory of the snapshotter named snapshotterName.
	SnapshotRoot string
	// Capabilities are that snapshotter's (the unpacker asks for them).
	Capabilities []string
	// Collect asks containerd's garbage-collection scheduler for a
	// collection and waits for it (containerd's own CRI does the same): a
	// client of a shared database never collects it itself, which would
	// take its write lock outside the scheduler.
	Collect func(context.Context) error
}

// Store is the image store. It is safe for concurrent use.
type Store struct {
	opts        Options
	bolt        *bolt.DB
	sn          snapshots.Snapshotter
	db          *metadata.DB
	shared      bool
	client      *containerd.Client
	snapshotter string
	snapRoot    string
	platform    platforms.MatchComparer
	pulls       flights
	onPull      atomic.Pointer[func(bytes int64, d time.Duration, err error)]
	usage       usageCache
	extract     *extraction
	unpackLocks *keyedMutex         // one unpack of a layer at a time, across pulls
	unpacks     *semaphore.Weighted // nil: layers are extracted one at a time
	gc          gcScheduler

	mu    sync.RWMutex
	byID  map[string]*Image // image id (config digest) -> image
	byRef map[string]string // every reference, and the id itself -> image id
}

// Open opens (or creates) the image store under opts.Root and loads the
// index of the images it holds. Leftovers of pulls interrupted by a crash
// are garbage-collected.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := os.MkdirAll(opts.Root, 0o711); err != nil {
		return nil, err
	}
	if opts.Shared != nil {
		if opts.Shared.Collect == nil {
			return nil, errors.New("a shared image store needs the host's garbage-collection scheduler (Shared.Collect)")
		}
		if opts.Shared.DB.Snapshotter(snapshotterName) == nil {
			return nil, fmt.Errorf("containerd has no %s snapshotter (disabled?): the CRI unpacks images into it", snapshotterName)
		}
		return newStore(ctx, opts, nil, nil, opts.Shared.DB, opts.Shared.SnapshotRoot, opts.Shared.Capabilities)
	}
	cs, err := local.NewStore(filepath.Join(opts.Root, "content"))
	if err != nil {
		return nil, fmt.Errorf("content store: %w", err)
	}
	sn, err := newSnapshotter(filepath.Join(opts.Root, "snapshots"))
	if err != nil {
		return nil, fmt.Errorf("snapshotter %s: %w", snapshotterName, err)
	}
	bopts := *bolt.DefaultOptions
	bopts.NoFreelistSync = true
	bopts.Timeout = 5 * time.Second
	bdb, err := bolt.Open(filepath.Join(opts.Root, "meta.db"), 0o644, &bopts)
	if err != nil {
		sn.Snapshotter.Close()
		return nil, fmt.Errorf("open %s (is another wincri using this root?): %w", filepath.Join(opts.Root, "meta.db"), err)
	}
	db := metadata.NewDB(bdb, cs, map[string]snapshots.Snapshotter{snapshotterName: sn.Snapshotter})
	if err := db.Init(ctx); err != nil {
		bdb.Close()
		sn.Snapshotter.Close()
		return nil, fmt.Errorf("metadata: %w", err)
	}
	s, err := newStore(ctx, opts, bdb, sn.Snapshotter, db, filepath.Join(opts.Root, "snapshots"), sn.Capabilities)
	if err != nil {
		bdb.Close()
		sn.Snapshotter.Close()
		return nil, err
	}
	// Collect what interrupted pulls left in the background: it walks every
	// snapshot, and a restart must be quick (pods are waiting to be reattached).
	go func() {
		if _, err := db.GarbageCollect(context.WithoutCancel(s.nsContext(ctx))); err != nil {
			log.G(ctx).WithError(err).Warn("image garbage collection failed")
		}
	}()
	return s, nil
}

// newStore builds the Store over a metadata database, its own (bdb and sn
// set, closed by Close) or a containerd's (left alone).
func newStore(ctx context.Context, opts Options, bdb *bolt.DB, sn snapshots.Snapshotter, db *metadata.DB, snapRoot string, caps []string) (*Store, error) {
	platform := opts.Platform
	if platform == nil {
		platform = platforms.Default()
	}
	mcs := db.ContentStore()
	ext := &extraction{}
	client, err := containerd.New("",
		containerd.WithDefaultNamespace(Namespace),
		containerd.WithDefaultPlatform(platform),
		containerd.WithServices(
			containerd.WithContentStore(mcs),
			containerd.WithImageStore(metadata.NewImageStore(db)),
			containerd.WithSnapshotters(map[string]snapshots.Snapshotter{snapshotterName: db.Snapshotter(snapshotterName)}),
			containerd.WithLeasesService(metadata.NewLeaseManager(db)),
			containerd.WithDiffService(measured(newDiffService, mcs, ext)),
			containerd.WithIntrospectionService(introspection{snapshotter: snapshotterName, capabilities: caps}),
		))
	if err != nil {
		return nil, err
	}
	s := &Store{
		opts:        opts,
		bolt:        bdb,
		sn:          sn,
		db:          db,
		shared:      bdb == nil,
		client:      client,
		snapshotter: snapshotterName,
		snapRoot:    snapRoot,
		platform:    platform,
		byID:        map[string]*Image{},
		byRef:       map[string]string{},
		extract:     ext,
		unpackLocks: newKeyedMutex(),
	}
	if opts.MaxConcurrentUnpacks > 1 {
		s.unpacks = semaphore.NewWeighted(int64(opts.MaxConcurrentUnpacks))
	}
	ctx = s.nsContext(ctx)
	if err := s.dropPullLeases(ctx); err != nil {
		log.G(ctx).WithError(err).Warn("could not drop leases of interrupted pulls")
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	if !s.shared {
		// In a containerd, its scheduler collects after deletions.
		s.gc.start(context.WithoutCancel(ctx), s.GC)
	}
	return s, nil
}

// Close releases the database (not a containerd's); the Store must not be
// used afterwards.
func (s *Store) Close() error {
	s.gc.stop()
	if s.shared {
		return nil
	}
	return errors.Join(s.bolt.Close(), s.sn.Close())
}

// Shared says whether the store is a containerd's (plugin mode).
func (s *Store) Shared() bool { return s.shared }

// Client is the in-process containerd client over this store, for the
// runtime to prepare container root filesystems from images.
func (s *Store) Client() *containerd.Client { return s.client }

// SnapshotRoot is the snapshotter's directory.
func (s *Store) SnapshotRoot() string { return s.snapRoot }

// Snapshotter is the name of the snapshotter images are unpacked into.
func (s *Store) Snapshotter() string { return s.snapshotter }

func (s *Store) nsContext(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, Namespace)
}

func (s *Store) contentStore() content.Store { return s.client.ContentStore() }

func (s *Store) imageService() images.Store { return s.client.ImageService() }

// inTx runs fn with the image records it writes through imageService in one
// metadata transaction: one commit (and fsync) for an image's names, not
// one each, and all of them or none. Not in plugin mode, where containerd
// publishes image events only for writes outside a transaction.
func (s *Store) inTx(ctx context.Context, fn func(context.Context) error) error {
	if s.shared {
		return fn(ctx)
	}
	return s.db.Update(func(tx *bolt.Tx) error { return fn(boltutil.WithTransaction(ctx, tx)) })
}

// dropPullLeases deletes the leases of pulls that a crash interrupted: at
// start-up no pull is running, so every such lease is stale.
func (s *Store) dropPullLeases(ctx context.Context) error {
	ls := s.client.LeasesService()
	all, err := ls.List(ctx)
	if err != nil {
		return err
	}
	for _, l := range all {
		if len(l.ID) > len(pullLeasePrefix) && l.ID[:len(pullLeasePrefix)] == pullLeasePrefix {
			if err := ls.Delete(ctx, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// load builds the in-memory index from the image records on disk.
func (s *Store) load(ctx context.Context) error {
	recs, err := s.imageService().List(ctx)
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	for _, rec := range recs {
		// In a containerd's store every image of the namespace is the CRI's
		// (ctr -n k8s.io images import is how operators side-load one).
		if rec.Labels[managedLabel] != "managed" && !s.shared {
			continue
		}
		img, err := s.describe(ctx, rec.Target)
		if err != nil {
			log.G(ctx).WithError(err).WithField("ref", rec.Name).Warn("skipping image record whose content is unreadable")
			continue
		}
		s.index(img, rec.Name)
	}
	return nil
}

// GC garbage-collects content and snapshots that no image references
// (through containerd's scheduler in plugin mode).
func (s *Store) GC(ctx context.Context) error {
	var err error
	if s.shared {
		err = s.opts.Shared.Collect(ctx)
	} else {
		_, err = s.db.GarbageCollect(s.nsContext(ctx))
	}
	s.usage.changed()
	return err
}

// withPullLease runs fn under a lease that protects what it downloads from
// garbage collection until the image records exist. The lease is dropped even
// when ctx is cancelled.
func (s *Store) withPullLease(ctx context.Context, fn func(context.Context) error) error {
	ls := s.client.LeasesService()
	l, err := ls.Create(ctx, leases.WithRandomID(), leases.WithExpiration(24*time.Hour), withIDPrefix(pullLeasePrefix))
	if err != nil {
		return fmt.Errorf("create pull lease: %w", err)
	}
	defer func() {
		if err := ls.Delete(context.WithoutCancel(ctx), l); err != nil {
			log.G(ctx).WithError(err).Warn("delete pull lease")
		}
	}()
	return fn(leases.WithLease(ctx, l.ID))
}

func withIDPrefix(prefix string) leases.Opt {
	return func(l *leases.Lease) error {
		l.ID = prefix + l.ID
		return nil
	}
}

// Extracted is how many layers the store has unpacked and how many layer
// blob bytes that read, since it opened (for metrics).
func (s *Store) Extracted() (layers, bytes int64) {
	return s.extract.layers.Load(), s.extract.bytes.Load()
}

// refreshRead, when set (by tests), runs between Refresh's read of a
// record and its indexing: where a concurrent removal can fall.
var refreshRead func()

// Refresh re-reads one image record after another client of a shared
// store (ctr, nerdctl, a containerd plugin) created, updated or deleted it,
// so the CRI sees what they did.
func (s *Store) Refresh(ctx context.Context, name string) {
	ctx = s.nsContext(ctx)
	rec, err := s.imageService().Get(ctx, name)
	if errdefs.IsNotFound(err) {
		s.mu.Lock()
		s.unindexLocked(name)
		s.mu.Unlock()
		return
	}
	if err != nil {
		log.G(ctx).WithError(err).WithField("ref", name).Warn("re-read image record")
		return
	}
	img, err := s.describe(ctx, rec.Target)
	if err != nil {
		log.G(ctx).WithError(err).WithField("ref", name).Warn("image record's content is unreadable")
		return
	}
	if refreshRead != nil {
		refreshRead()
	}
	// Indexed under the lock Remove holds while it deletes and unindexes,
	// and only if the record is still what was read: a removal meanwhile
	// must not leave a deleted image listed.
	s.mu.Lock()
	defer s.mu.Unlock()
	now, err := s.imageService().Get(ctx, name)
	switch {
	case errdefs.IsNotFound(err):
		s.unindexLocked(name)
	case err != nil:
		log.G(ctx).WithError(err).WithField("ref", name).Warn("re-read image record")
	case now.Target.Digest == rec.Target.Digest:
		s.indexLocked(img, now.Name)
	default: // changed again: the event of that change refreshes it
	}
}
