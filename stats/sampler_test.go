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
	// The same reading again (two lists answered from the stats cache), or
	// an older one, changes nothing: the last rate stands (it was 0 before).
	for _, again := range []CPUSample{{At: t0.Add(4 * time.Second), Usage: 1e6 + 2e9}, {At: t0, Usage: 0}} {
		if r, ok := p.Rate("c", again); !ok || r != 2e9 {
			t.Fatalf("a reading no newer than the last gave %d %v, want the last rate 2e9", r, ok)
		}
	}
	p.KeepIf(func(string) bool { return false })
	if _, ok := p.Rate("c", CPUSample{At: t0.Add(5 * time.Second), Usage: 5e9}); ok {
		t.Fatal("rate after the object was forgotten")
	}
}
