package images

import (
	"context"

	api "github.com/containerd/containerd/api/services/introspection/v1"
	"github.com/containerd/errdefs"
)

// introspection answers the containerd client's one question during unpack:
// what the snapshotter can do. There is no plugin graph in wincri.
type introspection struct {
	snapshotter  string
	capabilities []string
}

func (i introspection) Plugins(context.Context, ...string) (*api.PluginsResponse, error) {
	return &api.PluginsResponse{Plugins: []*api.Plugin{{
		Type:         "io.containerd.snapshotter.v1",
		ID:           i.snapshotter,
		Capabilities: i.capabilities,
	}}}, nil
}

func (introspection) Server(context.Context) (*api.ServerResponse, error) {
	return nil, errdefs.ErrNotImplemented
}

func (introspection) PluginInfo(context.Context, string, string, any) (*api.PluginInfoResponse, error) {
	return nil, errdefs.ErrNotImplemented
}
