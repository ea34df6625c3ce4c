package runtime

import (
	"fmt"
	"strings"

	runhcsoptions "github.com/Microsoft/hcsshim/cmd/containerd-shim-runhcs-v1/options"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/errdefs"
	"github.com/pelletier/go-toml/v2"
	"google.golang.org/protobuf/proto"

	"github.com/wincri/wincri/runtime/config"
	"github.com/wincri/wincri/runtime/spares"
)

// handler is a runtime handler (RuntimeClass) ready to start shims with.
type handler struct {
	name     string
	shim     string
	platform string
	// opts are the shim's typed options, sent at start and in Create.
	opts proto.Message
	// podAnnotations and containerAnnotations are the annotation patterns
	// passed to the shim.
	podAnnotations, containerAnnotations []string
}

// spare is the handler as the spare-shim pool knows it.
func (h handler) spare() spares.Handler {
	return spares.Handler{Name: h.name, Shim: h.shim, Opts: h.opts}
}

// loadHandlers decodes every handler's options into the shim's own options
// type, so a typo in the config fails at start-up rather than at a pod.
func loadHandlers(cfg *config.Config) (map[string]handler, error) {
	out := map[string]handler{}
	for name, rt := range cfg.Runtimes {
		h := handler{name: name, shim: rt.Shim, platform: rt.Platform, podAnnotations: rt.PodAnnotations, containerAnnotations: rt.ContainerAnnotations}
		opts := optionsFor(rt.Shim)
		if opts != nil && len(rt.Options) > 0 {
			b, err := toml.Marshal(rt.Options)
			if err != nil {
				return nil, fmt.Errorf("runtimes.%s.options: %w", name, err)
			}
			dec := toml.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(opts); err != nil {
				return nil, fmt.Errorf("runtimes.%s.options: %w", name, err)
			}
		}
		h.opts = opts
		out[name] = h
	}
	return out, nil
}

// optionsFor returns an empty options message of the shim's type.
func optionsFor(shim string) proto.Message {
	switch {
	case strings.Contains(shim, "runc"):
		return &runcoptions.Options{}
	case strings.Contains(shim, "runhcs"):
		return &runhcsoptions.Options{}
	}
	return nil
}

// handlerFor resolves a pod's RuntimeClass handler ("" is the default).
func (r *Runtime) handlerFor(name string) (handler, error) {
	if name == "" {
		name = r.cfg.DefaultRuntime
	}
	h, ok := r.handlers[name]
	if !ok {
		return handler{}, fmt.Errorf("runtime handler %q is not configured: %w", name, errdefs.ErrInvalidArgument)
	}
	return h, nil
}
