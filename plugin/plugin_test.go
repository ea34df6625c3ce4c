package plugin

import (
	"context"
	"testing"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/core/events/exchange"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/wincri/wincri/runtime/images"
)

// The image-event follower refreshes the images other clients change in
// the CRI's namespace, and stops with the plugin: its stop returns once
// the goroutine has ended, and nothing is refreshed after it.
func TestImageEventFollowerStops(t *testing.T) {
	ex := exchange.NewExchange()
	refreshed := make(chan string, 4)
	stop := startFollowing(ex, func(_ context.Context, name string) { refreshed <- name })
	ctx := namespaces.WithNamespace(context.Background(), images.Namespace)
	publish := func(name string) {
		t.Helper()
		if err := ex.Publish(ctx, "/images/create", &eventstypes.ImageCreate{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	// The subscription starts in the goroutine: publish until it is heard.
	deadline := time.Now().Add(5 * time.Second)
	for heard := false; !heard; {
		publish("registry.k8s.io/a:1")
		select {
		case n := <-refreshed:
			heard = n == "registry.k8s.io/a:1"
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no refresh for an image event in the CRI's namespace")
		}
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the image-event follower did not stop")
	}
	for len(refreshed) > 0 {
		<-refreshed
	}
	publish("registry.k8s.io/b:1")
	time.Sleep(100 * time.Millisecond)
	if len(refreshed) != 0 {
		t.Fatalf("refreshed %q after the follower stopped", <-refreshed)
	}
}
