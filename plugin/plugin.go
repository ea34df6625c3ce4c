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
		// store) and the event exchange must be up first.
		Requires: []plugin.Type{plugins.EventPlugin, plugins.MetadataPlugin},
		Config:   config.Default(),
		InitFn:   initService,
	})
}

// service is the CRI service inside containerd.
type service struct {
	rt *runtime.Runtime
	st *server.Streaming
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
	shared := &images.Shared{
		DB: db,
		// Beside this plugin's root: <root>/io.containerd.snapshotter.v1.NAME.
		SnapshotRoot: filepath.Join(filepath.Dir(cfg.Root), string(plugins.SnapshotPlugin)+"."+images.SnapshotterName),
		Capabilities: images.SnapshotterCapabilities(),
	}
	rt, err := runtime.New(ctx, cfg, runtime.WithSharedImages(shared))
	if err != nil {
		return nil, err
	}
	if ev, err := ic.GetSingle(plugins.EventPlugin); err == nil {
		if ex, ok := ev.(*exchange.Exchange); ok {
			go followImageEvents(ctx, ex, rt.Images)
		}
	}
	st, err := server.StartStreaming(rt, cfg.Streaming.Address)
	if err != nil {
		rt.Close()
		return nil, err
	}
	log.G(ic.Context).WithField("root", cfg.Root).WithField("streaming", st.Addr()).Info("wincri CRI service ready")
	return &service{rt: rt, st: st}, nil
}

// Register puts the CRI services on containerd's gRPC server, each handler
// wrapped in wincri's own panic recovery (containerd's server has none).
func (s *service) Register(g *grpc.Server) error {
	server.Register(g, s.rt, s.st, nil)
	return nil
}

// Close stops the streaming server and closes the stores; pods keep running.
func (s *service) Close() error {
	return errors.Join(s.st.Close(), s.rt.Close())
}

// followImageEvents keeps the CRI's image index in step with what other
// clients of containerd do to images in the CRI's namespace.
func followImageEvents(ctx context.Context, ex *exchange.Exchange, is *images.Store) {
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
				is.Refresh(ctx, e.GetName())
			}
		case err := <-errs:
			if err != nil {
				log.G(ctx).WithError(err).Error("stopped following containerd's image events")
			}
			return
		}
	}
}
