// Package plugin registers wincri's CRI service as a containerd v2 plugin
// (io.containerd.grpc.v1.wincri), for a containerd binary built with it
// (cmd/containerd-wincri): kubelet then reaches wincri on containerd's own
// socket. Images live in containerd's own stores (its metadata database:
// content, images, leases, snapshotter), so `ctr -n k8s.io images ls`
// lists what the CRI pulled and an image `ctr -n k8s.io images import`
// brought is usable by pods; pods, containers and shims stay wincri's
// (records and bundles under the plugin's root and state directories).
package plugin

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	_ "github.com/containerd/containerd/api/events" // registers the image event types typeurl decodes
	"github.com/containerd/containerd/v2/core/events/exchange"
	"github.com/containerd/containerd/v2/core/metadata"
	"github.com/containerd/containerd/v2/pkg/gc"
	"github.com/containerd/typeurl/v2"

	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/log"
	"github.com/containerd/plugin"
	"github.com/containerd/plugin/registry"
	"google.golang.org/grpc"

	"github.com/wincri/wincri/runtime"
	"github.com/wincri/wincri/runtime/config"
	"github.com/wincri/wincri/runtime/images"
	"github.com/wincri/wincri/server"
)

// ID is the plugin's id: its URI is io.containerd.grpc.v1.wincri.
const ID = "wincri"

func init() {
	registry.Register(&plugin.Registration{
		Type: plugins.GRPCPlugin,
		ID:   ID,
		// The metadata database (and with it the snapshotters and content
		// store), its garbage-collection scheduler and the event exchange
		// must be up first.
		Requires: []plugin.Type{plugins.EventPlugin, plugins.MetadataPlugin, plugins.SnapshotPlugin, plugins.GCPlugin},
		Config:   config.Default(),
		InitFn:   initService,
	})
}

// service is the CRI service inside containerd.
type service struct {
	rt *runtime.Runtime
	st *server.Streaming
	// stopEvents ends the goroutine following containerd's image events
	// and waits for it.
	stopEvents func()
}

// collector is containerd's garbage-collection scheduler plugin.
type collector interface {
	ScheduleAndWait(context.Context) (gc.Stats, error)
}

func initService(ic *plugin.InitContext) (any, error) {
	cfg, ok := ic.Config.(*config.Config)
	if !ok {
		return nil, errors.New("wincri plugin: unexpected config type")
	}
	// The plugin's own directories, as containerd gives every plugin.
	cfg.Root, cfg.State = ic.Properties[plugins.PropertyRootDir], ic.Properties[plugins.PropertyStateDir]
	// Served on containerd's socket: wincri listens on none of its own. The
	// address names this instance to its shims (their socket names derive
	// from it).
	cfg.Listen = "unix://" + filepath.Join(cfg.State, "wincri.sock")
	ctx := context.Background()
	m, err := ic.GetSingle(plugins.MetadataPlugin)
	if err != nil {
		return nil, fmt.Errorf("containerd's metadata store: %w", err)
	}
	db, ok := m.(*metadata.DB)
	if !ok {
		return nil, fmt.Errorf("containerd's metadata plugin is a %T", m)
	}
	// The snapshotter's directory and capabilities as its plugin reports
	// them (a root_path in containerd's config moves the directory).
	sp := ic.Plugins().Get(plugins.SnapshotPlugin, images.SnapshotterName)
	if sp == nil {
		return nil, fmt.Errorf("containerd has no %s snapshotter plugin", images.SnapshotterName)
	}
	if err := sp.Err(); err != nil {
		return nil, fmt.Errorf("containerd's %s snapshotter: %w", images.SnapshotterName, err)
	}
	snapRoot := sp.Meta.Exports[plugins.SnapshotterRootDir]
	if snapRoot == "" {
		return nil, fmt.Errorf("containerd's %s snapshotter exports no root directory", images.SnapshotterName)
	}
	g, err := ic.GetSingle(plugins.GCPlugin)
	if err != nil {
		return nil, fmt.Errorf("containerd's garbage-collection scheduler: %w", err)
	}
	sched, ok := g.(collector)
	if !ok {
		return nil, fmt.Errorf("containerd's garbage-collection plugin is a %T", g)
	}
	shared := &images.Shared{
		DB:           db,
		SnapshotRoot: snapRoot,
		Capabilities: sp.Meta.Capabilities,
		Collect: func(ctx context.Context) error {
			_, err := sched.ScheduleAndWait(ctx)
			return err
		},
	}
	rt, err := runtime.New(ctx, cfg, runtime.WithSharedImages(shared))
	if err != nil {
		return nil, err
	}
	st, err := server.StartStreaming(rt, cfg.Streaming.Address)
	if err != nil {
		rt.Close()
		return nil, err
	}
	s := &service{rt: rt, st: st, stopEvents: func() {}}
	if ev, err := ic.GetSingle(plugins.EventPlugin); err == nil {
		if ex, ok := ev.(*exchange.Exchange); ok {
			s.stopEvents = startFollowing(ex, rt.Images.Refresh)
		}
	}
	log.G(ic.Context).WithField("root", cfg.Root).WithField("snapshots", snapRoot).WithField("streaming", st.Addr()).Info("wincri CRI service ready")
	return s, nil
}

// Register puts the CRI services on containerd's gRPC server, each handler
// wrapped in wincri's own panic recovery (containerd's server has none).
func (s *service) Register(g *grpc.Server) error {
	server.Register(g, s.rt, s.st, nil)
	return nil
}

// Close stops following image events and the streaming server, and closes
// the stores; pods keep running.
func (s *service) Close() error {
	s.stopEvents()
	return errors.Join(s.st.Close(), s.rt.Close())
}

// startFollowing runs followImageEvents until the returned function is
// called, which returns once it has stopped.
func startFollowing(ex *exchange.Exchange, refresh func(context.Context, string)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		followImageEvents(ctx, ex, refresh)
	}()
	return func() { cancel(); <-done }
}

// followImageEvents keeps the CRI's image index in step with what other
// clients of containerd do to images in the CRI's namespace (refresh
// re-reads a named image).
func followImageEvents(ctx context.Context, ex *exchange.Exchange, refresh func(context.Context, string)) {
	ch, errs := ex.Subscribe(ctx, `topic~="/images/"`, `namespace==`+images.Namespace)
	for {
		select {
		case env := <-ch:
			ev, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				continue
			}
			// ImageCreate, ImageUpdate and ImageDelete all name the image.
			if e, ok := ev.(interface{ GetName() string }); ok {
				refresh(ctx, e.GetName())
			}
		case err := <-errs:
			if err != nil && ctx.Err() == nil {
				log.G(ctx).WithError(err).Error("stopped following containerd's image events")
			}
			return
		case <-ctx.Done():
			return
		}
	}
}
