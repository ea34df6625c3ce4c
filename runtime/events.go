package runtime

import (
	"context"
	"sync"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/log"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// eventHub fans container lifecycle events out to GetContainerEvents streams.
type eventHub struct {
	mu   sync.Mutex
	subs map[chan *runtimeapi.ContainerEventResponse]struct{}
}

func newEventHub() *eventHub {
	return &eventHub{subs: map[chan *runtimeapi.ContainerEventResponse]struct{}{}}
}

// Subscribe returns a channel of events and a function to stop them.
func (h *eventHub) Subscribe() (<-chan *runtimeapi.ContainerEventResponse, func()) {
	ch := make(chan *runtimeapi.ContainerEventResponse, 256)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *eventHub) publish(ev *runtimeapi.ContainerEventResponse) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default: // a subscriber that does not keep up loses events, never blocks us
		}
	}
}

// ContainerEvents subscribes to container lifecycle events.
func (r *Runtime) ContainerEvents() (<-chan *runtimeapi.ContainerEventResponse, func()) {
	return r.events.Subscribe()
}

// emit publishes a container event with the pod's current status.
func (r *Runtime) emit(ctx context.Context, typ runtimeapi.ContainerEventType, containerID, podID string) {
	ev := &runtimeapi.ContainerEventResponse{ContainerId: containerID, ContainerEventType: typ, CreatedAt: time.Now().UnixNano()}
	if p, err := r.PodSandboxStatus(ctx, podID, false); err == nil {
		ev.PodSandboxStatus = p.Status
		ev.ContainersStatuses = p.ContainersStatuses
	}
	r.events.publish(ev)
}

// handleShimEvent takes what shims publish. Only OOM matters: exits are
// learnt from Wait.
func (r *Runtime) handleShimEvent(_, topic string, event *anypb.Any) {
	if topic != "/tasks/oom" {
		return
	}
	var oom eventstypes.TaskOOM
	if err := proto.Unmarshal(event.GetValue(), &oom); err != nil {
		log.L.WithError(err).Debug("undecodable shim event")
		return
	}
	c, err := r.lookupContainer(oom.ContainerID)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.rec.OomKilled = true
	c.mu.Unlock()
}
