// Command bigpull measures what operators of Windows nodes wait for: two pods
// pulling the same large multi-layer image at the same time. It builds the
// image from generated files (deterministic, so every run pulls the same
// bytes), pushes it to a registry, then against a CRI endpoint removes the
// image, starts -n PullImage calls of it at once and reports when the last
// one finished. While the pulls run it watches the snapshotter's directory
// and counts the snapshots created: one per layer when every layer is
// unpacked once, up to -n per layer when concurrent pulls each unpack it.
// With -metrics it also reads wincri's wincri_image_layers_unpacked_total
// and fails unless each layer was unpacked exactly once.
//
//	bigpull push -registry 127.0.0.1:5000 -repo wincri-bench/big:1
//	bigpull pull -endpoint unix:///run/wincri/wincri.sock -image registry.k8s.io/wincri-bench/big:1 -snapshots DIR
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: bigpull push|pull [flags]"))
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	switch os.Args[1] {
	case "push":
		reg := fs.String("registry", "127.0.0.1:5000", "registry host:port (plain http)")
		repo := fs.String("repo", "wincri-bench/big:1", "repository:tag to push")
		layers := fs.Int("layers", 10, "layers")
		mb := fs.Int("layer-mb", 32, "uncompressed MiB per layer")
		fs.Parse(os.Args[2:])
		push(*reg+"/"+*repo, *layers, *mb)
	case "pull":
		ep := fs.String("endpoint", "unix:///run/wincri/wincri.sock", "CRI endpoint")
		image := fs.String("image", "registry.k8s.io/wincri-bench/big:1", "image to pull")
		n := fs.Int("n", 2, "pulls started at once")
		snaps := fs.String("snapshots", "", "the overlay snapshotter's snapshots directory, to count the snapshots created")
		metrics := fs.String("metrics", "", "wincri's metrics address host:port: fail unless each layer is unpacked once")
		layers := fs.Int("layers", 10, "layers the image has (with -metrics)")
		daemon := fs.Int("daemon-pid", 0, "the runtime daemon's pid: print the CPU time it used during the pulls")
		fs.Parse(os.Args[2:])
		pull(*ep, *image, *n, *snaps, *metrics, *layers, *daemon)
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

// push builds an image of layers layers of about mb MiB each: many small
// files, one incompressible file and one compressible text file per layer,
// like the mix of a Windows base image, and pushes it.
func push(ref string, layers, mb int) {
	start := time.Now()
	tag, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		fail(err)
	}
	var ls []v1.Layer
	var total int64
	for i := range layers {
		blob, size := layerBlob(i, mb)
		total += size
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })
		if err != nil {
			fail(err)
		}
		ls = append(ls, l)
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		fail(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		fail(err)
	}
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/bin/true"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		fail(err)
	}
	if err := remote.Write(tag, img); err != nil {
		fail(err)
	}
	d, _ := img.Digest()
	fmt.Printf("bigpull: pushed %s (%s): %d layers, %d MiB uncompressed, in %s\n", ref, d, layers, total>>20, time.Since(start).Round(time.Millisecond))
}

func layerBlob(i, mb int) ([]byte, int64) {
	src := rand.NewChaCha8([32]byte{byte(i), 'b', 'i', 'g'})
	rng := rand.New(src)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	dir := fmt.Sprintf("layer%02d/", i)
	tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755})
	var size int64
	file := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: dir + name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(1700000000, 0)})
		tw.Write(b)
		size += int64(len(b))
	}
	budget := int64(mb) << 20
	for j := 0; j < 400; j++ { // small files: a quarter of the layer
		file(fmt.Sprintf("small/%04d.txt", j), text(rng, int(budget/4/400)))
	}
	random := make([]byte, budget*3/8)
	src.Read(random)
	file("random.bin", random)
	file("text.log", text(rng, int(budget*3/8)))
	tw.Close()
	zw.Close()
	return buf.Bytes(), size
}

var words = strings.Fields("the quick brown fox jumps over lazy dog assembly runtime container layer image windows server dotnet iis kubelet pod node network")

func text(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
		b = append(b, ' ')
		if rng.IntN(12) == 0 {
			b = strconv.AppendInt(b, rng.Int64N(1e9), 10)
			b = append(b, '\n')
		}
	}
	return b[:n]
}

func pull(ep, image string, n int, snaps, metrics string, layers, daemon int) {
	conn, err := grpc.NewClient(ep, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err)
	}
	is := runtimeapi.NewImageServiceClient(conn)
	ctx := context.Background()
	spec := &runtimeapi.ImageSpec{Image: image}
	if _, err := is.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: spec}); err != nil {
		fail(fmt.Errorf("remove %s before pulling: %v", image, err))
	}
	settle(snaps)
	before := unpacked(metrics)
	watch := newSnapshotWatch(snaps)
	cpu0, cpuOK := cpuSeconds(daemon)
	start := time.Now()
	done := make([]time.Duration, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec}); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			done[i] = time.Since(start)
		}()
	}
	wg.Wait()
	total := time.Since(start)
	created := watch.stop()
	// Write this run's ~500 MiB out now, not during what is measured next
	// (the other runtime's critest round, in make bench).
	flushDisks()
	if len(errs) > 0 {
		fail(fmt.Errorf("pull %s: %v", image, errs))
	}
	line := fmt.Sprintf("bigpull: %d concurrent pulls of %s: total %.2f s (each:", n, image, total.Seconds())
	for _, d := range done {
		line += fmt.Sprintf(" %.2f", d.Seconds())
	}
	line += ")"
	if cpu1, ok := cpuSeconds(daemon); daemon > 0 && ok && cpuOK {
		user, system := cpu1.user-cpu0.user, cpu1.system-cpu0.system
		line += fmt.Sprintf(", daemon CPU %.2f s (user %.2f, system %.2f)", user+system, user, system)
	}
	if snaps != "" {
		line += fmt.Sprintf(", snapshots created %d", created)
	}
	if metrics != "" {
		u := unpacked(metrics) - before
		line += fmt.Sprintf(", layers unpacked %d", u)
		fmt.Println(line)
		if u != layers {
			fail(fmt.Errorf("%d layers unpacked for an image of %d layers", u, layers))
		}
		return
	}
	fmt.Println(line)
}

// cpuTime is a process's CPU time in seconds: in user mode (the daemon's
// own code, gzip, digests) and in system mode (the kernel: file creation
// and writes), which vary apart.
type cpuTime struct{ user, system float64 }

var unpackedRE = regexp.MustCompile(`(?m)^wincri_image_layers_unpacked_total ([0-9.e+]+)$`)

// unpacked reads wincri_image_layers_unpacked_total from addr (0 without).
func unpacked(addr string) int {
	if addr == "" {
		return 0
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := unpackedRE.FindSubmatch(b)
	if m == nil {
		fail(fmt.Errorf("no wincri_image_layers_unpacked_total at %s", addr))
	}
	f, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		fail(err)
	}
	return int(f)
}

// snapshotWatch polls the overlay snapshotter's directory and collects the
// snapshot ids (directory names) that appear: a snapshot lives at least as
// long as the extraction into it, far longer than the 20 ms poll.
type snapshotWatch struct {
	dir  string
	seen map[string]bool
	quit chan struct{}
	wg   sync.WaitGroup
}

func newSnapshotWatch(dir string) *snapshotWatch {
	w := &snapshotWatch{dir: dir, seen: map[string]bool{}, quit: make(chan struct{})}
	if dir == "" {
		return w
	}
	old := map[string]bool{}
	for _, e := range readDir(dir) {
		old[e] = true
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			for _, e := range readDir(dir) {
				if !old[e] {
					w.seen[e] = true
				}
			}
			select {
			case <-w.quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return w
}

// settle waits until the removed image's snapshots are gone from dir (the
// count has not changed for a second) and flushes dirty pages to disk, so
// that each measurement starts from a quiet machine.
func settle(dir string) {
	last, since := -1, time.Now()
	for dir != "" && time.Since(since) < time.Second {
		if n := len(readDir(dir)); n != last {
			last, since = n, time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	flushDisks()
}

func (w *snapshotWatch) stop() int {
	close(w.quit)
	w.wg.Wait()
	return len(w.seen)
}

func readDir(dir string) []string {
	es, _ := os.ReadDir(dir)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bigpull:", err)
	os.Exit(1)
}
