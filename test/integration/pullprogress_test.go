//go:build linux

package integration

import (
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wincri/wincri/test/testutil"
)

// TestPullLogsExtraction: a pull's progress log covers the unpack, not only
// the download: while a large layer is extracted, lines report a layer
// being extracted and the bytes extracted so far.
func TestPullLogsExtraction(t *testing.T) {
	reg := testutil.NewRegistry(t)
	rng := rand.NewChaCha8([32]byte{1})
	var layers []map[string][]byte
	for i := range 2 {
		b := make([]byte, 32<<20) // incompressible: the gunzip and write take a while
		rng.Read(b)
		layers = append(layers, map[string][]byte{"blob" + strconv.Itoa(i): b})
	}
	reg.Push(t, "e2e/big:1", testutil.Image(t, "", layers...))
	d := testutil.NewDaemon(t, daemonBin, testutil.Options{
		Hosts:        map[string]string{"registry.k8s.io": testutil.Mirror(reg.Host)},
		RegistryKeys: "pull_progress_interval = \"20ms\"\n",
	})
	d.Start(t)
	pull(t, d, "registry.k8s.io/e2e/big:1")
	b, err := os.ReadFile(d.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	during := regexp.MustCompile(`msg="pulling image".*bytes_extracted=([1-9][0-9]*) .*layers_extracting=[1-9] .*ref="?registry.k8s.io/e2e/big:1`)
	m := during.FindAllSubmatch(b, -1)
	if len(m) == 0 {
		t.Fatalf("no progress line during extraction in the log:\n%s", grepLines(b, "pulling image"))
	}
	t.Logf("%d progress lines during extraction, the last at %s bytes extracted", len(m), m[len(m)-1][1])
}

func grepLines(b []byte, s string) string {
	var out []byte
	for _, l := range regexp.MustCompile(`(?m)^.*`+regexp.QuoteMeta(s)+`.*$`).FindAll(b, 20) {
		out = append(append(out, l...), '\n')
	}
	return string(out)
}

// TestConcurrentPullsUnpackOnce: two pulls of one image under two names,
// at the same time, unpack each layer once: the second waits for the
// first's unpack instead of doing it again.
func TestConcurrentPullsUnpackOnce(t *testing.T) {
	reg := testutil.NewRegistry(t)
	rng := rand.NewChaCha8([32]byte{2})
	var layers []map[string][]byte
	for i := range 4 {
		b := make([]byte, 4<<20)
		rng.Read(b)
		layers = append(layers, map[string][]byte{"l" + strconv.Itoa(i): b})
	}
	img := testutil.Image(t, "", layers...)
	reg.Push(t, "e2e/twice:a", img)
	reg.Push(t, "e2e/twice:b", img)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	// Hold the last layer's download so that both pulls are under way.
	last, _ := ls[len(ls)-1].Digest()
	release := reg.Stall(last.String())
	d := testutil.NewDaemon(t, daemonBin, testutil.Options{Hosts: map[string]string{"registry.k8s.io": testutil.Mirror(reg.Host)}})
	d.Start(t)
	var wg sync.WaitGroup
	for _, tag := range []string{"a", "b"} {
		wg.Add(1)
		go func() { defer wg.Done(); pull(t, d, "registry.k8s.io/e2e/twice:"+tag) }()
	}
	time.Sleep(time.Second)
	release()
	wg.Wait()
	b, err := os.ReadFile(d.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		dg, _ := l.Digest()
		if n := regexp.MustCompile(`msg="layer extracted".*layer="?`+regexp.QuoteMeta(dg.String())).FindAll(b, -1); len(n) != 1 {
			t.Errorf("layer %d unpacked %d times by two concurrent pulls", i, len(n))
		}
	}
}
