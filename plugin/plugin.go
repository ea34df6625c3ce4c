// Package plugin registers wincri's CRI service as a containerd v2 plugin
// (io.containerd.grpc.v1.wincri), for a containerd binary built with it
// (cmd/containerd-wincri): kubelet then reaches wincri on containerd's own
// socket. This first version keeps wincri's own stores under the plugin's
// root and state directories; sharing containerd's content, image and
// snapshot stores is still to do (see issue 12).
package plugin

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/log"
	"github.com/containerd/plugin"
	"github.com/containerd/plugin/registry"
	"google.golang.org/grpc"

	"github.com/wincri/wincri/runtime"
	"github.com/wincri/wincri/runtime/config"
	"github.com/wincri/wincri/server"
)

// ID is the plugin's id: its URI is io.containerd.grpc.v1.wincri.
const ID = "wincri"

func init() {
	registry.Register(&plugin.Registration{
		Type:   plugins.GRPCPlugin,
		ID:     ID,
		Config: config.Default(),
		InitFn: initService,
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
	rt, err := runtime.New(ctx, cfg)
	if err != nil {
		return nil, err
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
