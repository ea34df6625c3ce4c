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

// TestPodUsageRateIsTheSumOfItsMembers: the pause is read now, a
// container's reading may be older (the stats cache); the pod's rate stays
// the container's, never 0 while its reading is unchanged nor double when
// it catches up, and a member without a reading drops out.
func TestPodUsageRateIsTheSumOfItsMembers(t *testing.T) {
	p := NewSampler()
	t0 := time.Unix(5000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	usage := func(s int, cpu uint64) Usage { u := Empty(at(s)); u.CPU = cpu; return u }
	pod := func(now, read int, cpu uint64) (Usage, uint64) {
		total, c := p.PodUsage([]Member{{ID: "p", Usage: usage(now, 1e6)}, {ID: "c", Usage: usage(read, cpu)}}, at(now))
		return total, c.UsageNanoCores.Value
	}
	pod(10, 7, 0)
	for _, step := range []struct {
		now, read int
		cpu       uint64
	}{{15, 12, 1.25e9}, {20, 12, 1.25e9}, {25, 22, 3.75e9}} {
		total, rate := pod(step.now, step.read, step.cpu)
		if rate != 2.5e8 || total.CPU != step.cpu+1e6 || !total.At.Equal(at(step.now)) {
			t.Errorf("at %ds (container read at %ds): pod rate %d, cpu %d, at %v; want 2.5e8, %d, %v",
				step.now, step.read, rate, total.CPU, total.At, uint64(step.cpu+1e6), at(step.now))
		}
	}
	// The container gone: the pause alone, and its rate (none used).
	if total, c := p.PodUsage([]Member{{ID: "p", Usage: usage(30, 1e6)}, {ID: "c"}}, at(30)); c.UsageNanoCores.Value != 0 || total.CPU != 1e6 {
		t.Errorf("pause alone: rate %d, cpu %d", c.UsageNanoCores.Value, total.CPU)
	}
	// Nothing read: an empty reading at now, rate 0.
	if total, c := p.PodUsage(nil, at(40)); c.UsageNanoCores.Value != 0 || !total.Valid() || !total.At.Equal(at(40)) {
		t.Errorf("no reading: %v rate %d", total, c.UsageNanoCores.Value)
	}
}
