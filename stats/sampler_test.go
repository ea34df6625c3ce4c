package stats

import (
	"testing"
	"time"
)

func TestSamplerRate(t *testing.T) {
	p := NewSampler()
	t0 := time.Unix(100, 0)
	if _, ok := p.Rate("c", CPUSample{At: t0, Usage: 1e9}); ok {
		t.Fatal("rate from a single sample")
	}
	// Half a core for 2 s.
	if r, ok := p.Rate("c", CPUSample{At: t0.Add(2 * time.Second), Usage: 2e9}); !ok || r != 5e8 {
		t.Fatalf("rate %d %v, want 5e8", r, ok)
	}
	// Counter reset (container restarted): no rate, then rates resume.
	if _, ok := p.Rate("c", CPUSample{At: t0.Add(3 * time.Second), Usage: 1e6}); ok {
		t.Fatal("rate across a counter reset")
	}
	if r, ok := p.Rate("c", CPUSample{At: t0.Add(4 * time.Second), Usage: 1e6 + 2e9}); !ok || r != 2e9 {
		t.Fatalf("rate after reset %d %v, want 2e9", r, ok)
	}
	// A stale sample changes nothing.
	if _, ok := p.Rate("c", CPUSample{At: t0, Usage: 0}); ok {
		t.Fatal("rate from an older sample")
	}
	p.Keep(map[string]bool{})
	if _, ok := p.Rate("c", CPUSample{At: t0.Add(5 * time.Second), Usage: 5e9}); ok {
		t.Fatal("rate after the object was forgotten")
	}
}
