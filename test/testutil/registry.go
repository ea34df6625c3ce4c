// Package testutil starts what wincri's integration tests run against: an
// in-process OCI registry and the real wincri daemon.
package testutil

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is an in-memory registry on a loopback port that counts blob
// downloads, can hold one back, and can demand basic auth.
type Registry struct {
	Host string // 127.0.0.1:port

	mu       sync.Mutex
	blobGets map[string]int
	stalls   map[string]chan struct{}
	user     string
	pass     string
}

// NewRegistry starts a registry that stops with the test.
func NewRegistry(t testing.TB) *Registry {
	r := &Registry{blobGets: map[string]int{}, stalls: map[string]chan struct{}{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		user, pass := r.user, r.pass
		var stall chan struct{}
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:") {
			d := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
			r.blobGets[d]++
			stall = r.stalls[d]
		}
		r.mu.Unlock()
		if user != "" {
			if u, p, ok := req.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
				return
			}
		}
		if stall != nil {
			select {
			case <-stall:
			case <-req.Context().Done():
				return
			}
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// RequireAuth makes every request need these basic-auth credentials.
func (r *Registry) RequireAuth(user, pass string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user, r.pass = user, pass
}

// BlobGets says how many times the blob with this digest was downloaded.
func (r *Registry) BlobGets(digest string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.blobGets[digest]
}

// Stall holds back downloads of a blob until release is called.
func (r *Registry) Stall(digest string) (release func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	r.stalls[digest] = ch
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.stalls, digest)
			r.mu.Unlock()
			close(ch)
		})
	}
}

// Push uploads img as repo:tag (a path below this registry) and returns the
// reference to pull it by.
func (r *Registry) Push(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, r.remoteOpts()...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref.String()
}

// PushIndex uploads an image index as repo:tag.
func (r *Registry) PushIndex(t testing.TB, repoTag string, idx v1.ImageIndex) string {
	t.Helper()
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, r.remoteOpts()...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref.String()
}

func (r *Registry) remoteOpts() []remote.Option {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.user == "" {
		return nil
	}
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass})}
}

// Image builds a linux image of this machine's architecture whose layers
// hold the given files, one layer per map, run as user.
func Image(t testing.TB, user string, layers ...map[string][]byte) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for _, files := range layers {
		l, err := crane.Layer(files)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return linuxImage(t, ls, func(c *v1.Config) {
		c.User = user
		c.Cmd = []string{"/bin/true"}
	})
}

// linuxImage stacks layers into a linux image for this machine's
// architecture, its config set by configure.
func linuxImage(t testing.TB, layers []v1.Layer, configure func(*v1.Config)) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	configure(&cf.Config)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// IndexFor wraps img in an index that claims it is for os/arch only.
func IndexFor(t testing.TB, img v1.Image, os, arch string) v1.ImageIndex {
	t.Helper()
	return mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add:        img,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os, Architecture: arch}},
	})
}
