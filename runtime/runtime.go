// Package runtime is wincri's engine behind the CRI facade: images, pods,
// containers and their shims, and the state that survives restarts.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/containerd/log"

	"github.com/wincri/wincri/network"
	"github.com/wincri/wincri/runtime/cleanup"
	"github.com/wincri/wincri/runtime/config"
	"github.com/wincri/wincri/runtime/images"
	"github.com/wincri/wincri/runtime/shim"
	"github.com/wincri/wincri/runtime/spares"
	"github.com/wincri/wincri/runtime/statscache"
	"github.com/wincri/wincri/runtime/store"
)

// Version is wincri's version, set at build time with
// -ldflags "-X github.com/wincri/wincri/runtime.Version=...".
var Version = "0.1.0-dev"

// Runtime owns everything the CRI server acts on.
type Runtime struct {
	cfg      *config.Config
	Images   *images.Store
	store    *store.Store
	shims    *shim.Manager
	spares   *spares.Pool
	activity activity
	net      network.Manager
	handlers map[string]handler
	events   *eventHub
	stats    *statscache.Cache
	nri      *nriHooks // nil when NRI is off

	// closing is set when the daemon shuts down: the shim connections it
	// closes then must not read as dead shims.
	closing atomic.Bool
	// stopStats ends the stats cache's warm loop.
	stopStats chan struct{}
	// cleanups removes removed containers' snapshots and bundles in the
	// background, retrying failures, grouped by pod.
	cleanups *cleanup.Queue

	// watchers follow the exits of what recovery found running; they start
	// once recovery is done.
	watchers deferred

	mu    sync.RWMutex
	pods  map[string]*pod
	ctrs  map[string]*container
	names map[string]string // reserved pod and container names -> id
}

// New opens the stores under the configured root and state directories and
// reattaches to the pods and containers that were running.
func New(ctx context.Context, cfg *config.Config, opts ...Option) (_ *Runtime, retErr error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	phases := newPhases()
	for _, d := range []string{cfg.Root, cfg.State} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}
	handlers, err := loadHandlers(cfg)
	if err != nil {
		return nil, err
	}
	pinned := []string{}
	if ref, err := images.NormalizeRef(cfg.SandboxImage); err == nil {
		pinned = append(pinned, ref)
	}
	is, err := images.Open(ctx, images.Options{
		Root:                   filepath.Join(cfg.Root, "images"),
		RegistryConfigPath:     cfg.Registry.ConfigPath,
		PinnedImages:           pinned,
		PullProgressTimeout:    cfg.Registry.PullProgressTimeout.Duration,
		PullProgressInterval:   cfg.Registry.PullProgressInterval.Duration,
		MaxConcurrentDownloads: cfg.Registry.MaxConcurrentDownloads,
		MaxConcurrentUnpacks:   cfg.Registry.MaxConcurrentUnpacks,
		Shared:                 o.sharedImages,
	})
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	phases.mark("images")
	defer func() {
		if retErr != nil {
			is.Close()
		}
	}()
	st, err := store.Open(filepath.Join(cfg.Root, "state.db"))
	if err != nil {
		return nil, err
	}
	phases.mark("records")
	defer func() {
		if retErr != nil {
			st.Close()
		}
	}()
	r := &Runtime{
		cfg:      cfg,
		Images:   is,
		store:    st,
		net:      network.New(cfg.CNI.ConfDir, cfg.CNI.BinDirs, filepath.Join(cfg.State, "netns")),
		handlers: handlers,
		cleanups: cleanup.New(),
		events:   newEventHub(),
		pods:     map[string]*pod{},
		ctrs:     map[string]*container{},
		names:    map[string]string{},
	}
	r.stats = statscache.New(r.objectExists)
	r.shims, err = shim.NewManager(shim.Config{
		Namespace: images.Namespace,
		Address:   shimAddress(cfg),
		SocketDir: shimSocketDir(cfg.State),
		Events:    r.handleShimEvent,
	}, eventsAddress(cfg.State))
	if err != nil {
		return nil, err
	}
	r.spares = spares.New(spares.Config{
		Dir: filepath.Join(cfg.State, "spares"), Enabled: cfg.SpareShims, Shims: r.shims, Quiet: r.activity.quietFor,
		Handler: func(name string) (spares.Handler, error) {
			h, err := r.handlerFor(name)
			return h.spare(), err
		},
	})
	r.logMissingCgroups(ctx)
	phases.mark("shims")
	if err := r.recover(ctx, phases); err != nil {
		r.shims.Close()
		return nil, fmt.Errorf("recover state: %w", err)
	}
	r.watchers.run()
	if err := r.startNRI(cfg.NRI); err != nil {
		r.shims.Close()
		return nil, err
	}
	r.stopStats = make(chan struct{})
	go r.stats.KeepWarm(r.stopStats, r.warmStats)
	phases.mark("nri")
	log.G(ctx).WithField("pods", len(r.pods)).WithField("containers", len(r.ctrs)).WithField("phases", phases).Info("runtime ready")
	return r, nil
}

// Config returns the configuration the runtime runs with.
func (r *Runtime) Config() *config.Config { return r.cfg }

// Close releases the stores. Pods and containers keep running.
func (r *Runtime) Close() error {
	r.closing.Store(true)
	if r.stopStats != nil {
		close(r.stopStats)
	}
	r.nri.stop()
	r.mu.Lock()
	for _, p := range r.pods {
		if s := p.shim.Load(); s != nil {
			s.Close()
		}
	}
	r.mu.Unlock()
	r.spares.Close()
	r.cleanups.Close()
	return errors.Join(r.shims.Close(), r.store.Close(), r.Images.Close())
}

// RuntimeReady says why pods cannot run, or nil when they can: every
// configured handler's shim must be found.
func (r *Runtime) RuntimeReady() error {
	var errs []error
	for _, name := range r.cfg.RuntimeNames() {
		h := r.cfg.Runtimes[name]
		if _, err := exec.LookPath(h.Shim); err != nil {
			errs = append(errs, fmt.Errorf("runtime handler %s: shim %s not found", name, h.Shim))
		}
	}
	return errors.Join(errs...)
}

// NetworkReady says why pod networking is not ready, or nil when it is.
func (r *Runtime) NetworkReady() error { return r.net.Ready() }

// persistPod writes p.rec (caller holds p.mu).
func (r *Runtime) persistPod(p *pod) error { return r.store.PutPod(p.rec) }

// persistContainer writes c.rec (caller holds c.mu).
func (r *Runtime) persistContainer(c *container) error { return r.store.PutContainer(c.rec) }

func logErr(ctx context.Context, err error, msg string, fields ...any) {
	if err == nil {
		return
	}
	e := log.G(ctx).WithError(err)
	for i := 0; i+1 < len(fields); i += 2 {
		e = e.WithField(fmt.Sprint(fields[i]), fields[i+1])
	}
	e.Warn(msg)
}

// Option changes how New builds the runtime.
type Option func(*options)

type options struct {
	sharedImages *images.Shared
}

// WithSharedImages keeps images in a containerd's stores (plugin mode)
// instead of wincri's own.
func WithSharedImages(sh *images.Shared) Option {
	return func(o *options) { o.sharedImages = sh }
}
