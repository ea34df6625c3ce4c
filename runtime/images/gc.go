package images

import (
	"context"
	"sync"
	"time"

	"github.com/containerd/log"
)

// gcDelay is how long a requested collection waits for more removals to
// share it with (a pod's containers, kubelet's container GC).
const gcDelay = 500 * time.Millisecond

// gcScheduler runs a garbage collection soon after it is asked for one,
// one at a time, coalescing requests: what a removed container leaves
// (its snapshot's directory) is only freed by a collection.
type gcScheduler struct {
	kick chan struct{}
	quit chan struct{}
	done sync.WaitGroup
}

func (g *gcScheduler) start(ctx context.Context, gc func(context.Context) error) {
	g.kick, g.quit = make(chan struct{}, 1), make(chan struct{})
	g.done.Go(func() {
		for {
			select {
			case <-g.quit:
				return
			case <-g.kick:
			}
			select {
			case <-g.quit:
				return
			case <-time.After(gcDelay):
			}
			if err := gc(ctx); err != nil {
				log.G(ctx).WithError(err).Warn("background garbage collection failed")
			}
		}
	})
}

func (g *gcScheduler) soon() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

func (g *gcScheduler) stop() {
	if g.quit != nil {
		close(g.quit)
		g.done.Wait()
	}
}

// GCSoon asks for a garbage collection within about gcDelay, shared with
// the other requests of that moment. Inside a containerd it does nothing:
// containerd's scheduler collects after every deletion its database sees.
func (s *Store) GCSoon() { s.gc.soon() }
