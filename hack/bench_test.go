//go:build linux

// Package hack holds the project's scripts; this test checks the awk
// programs that turn make bench's outputs into verdicts.
package hack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// benchOut is a harness bench.sh output with the given p50 per call.
func benchOut(p50 map[string]float64) string {
	var b strings.Builder
	b.WriteString("file operation n min_ms mean_ms p50_ms p90_ms p99_ms max_ms\n")
	for _, op := range []string{"CreateContainer", "StartContainer", "StatusImage"} {
		if v, ok := p50[op]; ok {
			fmt.Fprintf(&b, "x.json (par=1)    %s    100 1 1 %.2f 1 1 1\n", op, v)
		}
	}
	return b.String()
}

func writeFiles(t *testing.T, files map[string]string) (string, []string) {
	dir := t.TempDir()
	var names []string
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Join(dir, name))
	}
	return dir, names
}

func runAwk(t *testing.T, prog string, files ...string) string {
	t.Helper()
	out, err := exec.Command("awk", append([]string{"-f", prog}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("awk -f %s: %v\n%s", prog, err, out)
	}
	return string(out)
}

func missed(t *testing.T, out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "targets missed: ") {
			return strings.TrimPrefix(l, "targets missed: ")
		}
	}
	t.Fatalf("no 'targets missed' line in:\n%s", out)
	return ""
}

// A call wincri has no figure for in one round (it crashed, a spec failed)
// is a missed target, not a "-" left out of the count; a round whose
// output is empty misses every target.
func TestBenchRoundsMissingFigureIsMissed(t *testing.T) {
	good := map[string]float64{"CreateContainer": 10, "StartContainer": 50, "StatusImage": 0.5}
	noStart := map[string]float64{"CreateContainer": 8, "StatusImage": 0.4}
	_, names := writeFiles(t, map[string]string{
		"containerd-1.txt": benchOut(good), "wincri-1.txt": benchOut(map[string]float64{"CreateContainer": 8, "StartContainer": 40, "StatusImage": 0.4}),
		"containerd-2.txt": benchOut(good), "wincri-2.txt": benchOut(noStart),
	})
	out := runAwk(t, "benchrounds.awk", names...)
	if got := missed(t, out); got != "1" {
		t.Errorf("a call without a wincri figure in round 2: targets missed %s, want 1:\n%s", got, out)
	}
	if !strings.Contains(out, "r2:no wincri figure") {
		t.Errorf("the missing figure is not named:\n%s", out)
	}

	_, names = writeFiles(t, map[string]string{"containerd-1.txt": benchOut(good), "wincri-1.txt": ""})
	out = runAwk(t, "benchrounds.awk", names...)
	if got := missed(t, out); got != "4" { // 3 calls + the round without output
		t.Errorf("a wincri round with no output: targets missed %s, want 4:\n%s", got, out)
	}
}

// The runtime and the round come from each file's name, so rounds that run
// wincri first are read right whatever order the files are given in.
func TestBenchRoundsSideFromName(t *testing.T) {
	fast := map[string]float64{"CreateContainer": 5, "StartContainer": 25, "StatusImage": 0.25}
	slow := map[string]float64{"CreateContainer": 10, "StartContainer": 50, "StatusImage": 0.5}
	_, names := writeFiles(t, map[string]string{"wincri-1.txt": benchOut(fast), "containerd-1.txt": benchOut(slow)})
	// wincri's file first, as when round 2 runs wincri first.
	out := runAwk(t, "benchrounds.awk", names[0], names[1])
	out2 := runAwk(t, "benchrounds.awk", names[1], names[0])
	for _, o := range []string{out, out2} {
		if got := missed(t, o); got != "0" || !strings.Contains(o, "0.50") {
			t.Errorf("wincri twice as fast: want ratios 0.50 and nothing missed:\n%s", o)
		}
	}
}

// A round without wincri's bigpull figure fails the target instead of
// being left out of the median and the worst round.
func TestBigpullRoundsMissingRound(t *testing.T) {
	line := func(total float64) string {
		return fmt.Sprintf("bigpull: 2 concurrent pulls of x: total %.2f s (per pull 1 1 s), snapshots created 10, layers unpacked 10\n", total)
	}
	_, names := writeFiles(t, map[string]string{
		"bigpull-containerd-1.txt": line(3), "bigpull-wincri-1.txt": line(1),
		"bigpull-containerd-2.txt": line(3), "bigpull-wincri-2.txt": "",
	})
	out := runAwk(t, "bigpullrounds.awk", names...)
	if !strings.Contains(out, "NOT met") || !strings.Contains(out, "rounds without a figure 1") {
		t.Errorf("a round without a wincri figure must fail the target:\n%s", out)
	}
	_, names = writeFiles(t, map[string]string{
		"bigpull-containerd-1.txt": line(3), "bigpull-wincri-1.txt": line(1),
		"bigpull-wincri-2.txt": line(1), "bigpull-containerd-2.txt": line(3),
	})
	if out := runAwk(t, "bigpullrounds.awk", names...); !strings.Contains(out, ": met") {
		t.Errorf("3x faster in every round must meet the target:\n%s", out)
	}
}

// The daemon's CPU of a round's fastest run is printed with its kernel
// part, from bigpull's "daemon CPU T s (user U, system S)".
func TestBigpullRoundsCPU(t *testing.T) {
	line := func(total, user, system float64) string {
		return fmt.Sprintf("bigpull: 2 concurrent pulls of x: total %.2f s (each: 1 1), daemon CPU %.2f s (user %.2f, system %.2f), snapshots created 10\n", total, user+system, user, system)
	}
	_, names := writeFiles(t, map[string]string{
		"bigpull-containerd-1.txt": line(3, 1.25, 0.75) + line(2.5, 1.5, 0.5),
		"bigpull-wincri-1.txt":     line(1.5, 1.25, 1.0) + line(1.75, 1.0, 0.25),
	})
	out := runAwk(t, "bigpullrounds.awk", names...)
	// The fastest run of each runtime: containerd 2.5 s (2.00 of CPU, 0.50
	// of it kernel), wincri 1.5 s (2.25, 1.00).
	for _, want := range []string{"2.00 / 2.25", "0.50 / 1.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q (CPU of each runtime's fastest run) in:\n%s", want, out)
		}
	}
}
