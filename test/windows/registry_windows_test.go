package windowse2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
)

// registry is a read-only OCI distribution registry serving the test's
// images from memory (wincri pulls from it as from any registry).
type registry struct {
	addr  string
	mu    sync.Mutex
	blobs map[string][]byte
	refs  map[string]string // "name:tag" -> manifest digest
}

func startRegistry(t *testing.T) *registry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &registry{addr: ln.Addr().String(), blobs: map[string][]byte{}, refs: map[string]string{}}
	srv := &http.Server{Handler: http.HandlerFunc(r.serve)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *registry) serve(w http.ResponseWriter, req *http.Request) {
	p := strings.TrimPrefix(req.URL.Path, "/v2/")
	if p == "" || p == req.URL.Path {
		w.WriteHeader(http.StatusOK)
		return
	}
	i := strings.LastIndex(p, "/manifests/")
	kind, ref := "manifests", ""
	if i >= 0 {
		ref = p[i+len("/manifests/"):]
		if !strings.HasPrefix(ref, "sha256:") {
			r.mu.Lock()
			ref = r.refs[p[:i]+":"+ref]
			r.mu.Unlock()
		}
	} else if j := strings.LastIndex(p, "/blobs/"); j >= 0 {
		kind, ref = "blobs", p[j+len("/blobs/"):]
	}
	r.mu.Lock()
	b, ok := r.blobs[ref]
	r.mu.Unlock()
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if kind == "manifests" {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Docker-Content-Digest", ref)
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if req.Method != http.MethodHead {
		w.Write(b)
	}
}

func (r *registry) add(b []byte) (string, int) {
	d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
	r.mu.Lock()
	r.blobs[d] = b
	r.mu.Unlock()
	return d, len(b)
}

type layerFile struct {
	name string // under Files/, with forward slashes
	data []byte
}

// windowsLayer is a Windows container layer in the OCI tar form hcsshim
// imports: Files, Hives and UtilityVM/Files trees, directories named
// without a trailing slash as hcsshim's own export writes them.
func windowsLayer(t *testing.T, files []layerFile) (gz []byte, diffID string) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	dirs := []string{"Files", "Hives", "UtilityVM", "UtilityVM/Files"}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, f := range files {
		// Parent directories first, as hcsshim's layer writer needs them.
		parts := strings.Split(f.name, "/")
		for i := 1; i < len(parts); i++ {
			d := "Files/" + strings.Join(parts[:i], "/")
			if !seen[d] {
				seen[d] = true
				if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX}); err != nil {
					t.Fatal(err)
				}
			}
		}
		h := &tar.Header{Name: "Files/" + f.name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(f.data)), Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(raw.Bytes())
	zw.Close()
	return out.Bytes(), fmt.Sprintf("sha256:%x", sha256.Sum256(raw.Bytes()))
}

// pushWindowsImage stores a one-layer Windows image holding winproc.exe
// (and argsEscaped, as images built by docker on Windows have) under
// name:tag and returns its reference.
func (r *registry) pushWindowsImage(t *testing.T, name, tag, winproc string, cmd []string, argsEscaped bool) string {
	exe, err := os.ReadFile(winproc)
	if err != nil {
		t.Fatal(err)
	}
	return r.pushImage(t, name, []string{tag}, []layerFile{{"winproc.exe", exe}}, cmd, argsEscaped)
}

// pushImage stores a one-layer Windows image of files under name with
// each tag and returns the reference of the first.
func (r *registry) pushImage(t *testing.T, name string, tags []string, files []layerFile, cmd []string, argsEscaped bool) string {
	layer, diffID := windowsLayer(t, files)
	ld, ls := r.add(layer)
	cfg := map[string]any{
		"architecture": "amd64", "os": "windows",
		"config": map[string]any{"Cmd": cmd, "ArgsEscaped": argsEscaped, "WorkingDir": `C:\`},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	}
	cb, _ := json.Marshal(cfg)
	cd, cs := r.add(cb)
	man := map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}},
	}
	mb, _ := json.Marshal(man)
	md, _ := r.add(mb)
	r.mu.Lock()
	for _, tag := range tags {
		r.refs[name+":"+tag] = md
	}
	r.mu.Unlock()
	return r.addr + "/" + name + ":" + tags[0]
}
