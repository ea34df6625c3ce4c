package server

import (
	"context"
	"encoding/json"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/failpoint"
)

// Status reports whether pods can run and whether their network can be set
// up, with the reason when not.
func (s *RuntimeService) Status(_ context.Context, r *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	failpoint.Panic("status-panic")
	resp := &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		condition(runtimeapi.RuntimeReady, "RuntimeNotReady", s.rt.RuntimeReady()),
		condition(runtimeapi.NetworkReady, "NetworkPluginNotReady", s.rt.NetworkReady()),
	}}}
	cfg := s.rt.Config()
	f := s.rt.Features()
	hf := &runtimeapi.RuntimeHandlerFeatures{RecursiveReadOnlyMounts: f.RecursiveReadOnlyMounts, UserNamespaces: f.UserNamespaces}
	resp.Features = &runtimeapi.RuntimeFeatures{SupplementalGroupsPolicy: f.SupplementalGroupsPolicy}
	for _, name := range cfg.RuntimeNames() {
		resp.RuntimeHandlers = append(resp.RuntimeHandlers, &runtimeapi.RuntimeHandler{Name: name, Features: hf})
		if name == cfg.DefaultRuntime {
			// The default handler is also the one named "".
			resp.RuntimeHandlers = append(resp.RuntimeHandlers, &runtimeapi.RuntimeHandler{Features: hf})
		}
	}
	if r.GetVerbose() {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, toStatus(err)
		}
		resp.Info = map[string]string{"config": string(b)}
	}
	return resp, nil
}

func condition(typ, reason string, err error) *runtimeapi.RuntimeCondition {
	c := &runtimeapi.RuntimeCondition{Type: typ, Status: err == nil}
	if err != nil {
		c.Reason = reason
		c.Message = err.Error()
	}
	return c
}
