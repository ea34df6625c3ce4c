// Command images serves, from a loopback registry, the images Kubernetes'
// node e2e suite pulls for its [NodeConformance] specs, under their real
// names below registry.k8s.io (a runtime reaches them through its mirror
// config). Nothing here is downloaded: the bases are the conformance
// harness's Debian-built images (its OCI layout), and agnhost is built from
// Kubernetes' own source (test/images/agnhost) by the caller.
//
// Every image that is not what its name says upstream is a stand-in, listed
// in docs/node-conformance.md (each carries the label
// io.wincri.node-e2e.stand-in-for naming what it stands in for, which also
// makes every name its own image):
//
//	busybox:1.37.0-2            the harness's Debian busybox (1.29-2) plus /bin/nmeter
//	                            (test/nodee2e/nmeter: Debian's busybox has no nmeter)
//	agnhost:2.66.1, 2.55        agnhost v1.37.2 from source on that busybox, with this
//	                            host's (Debian's) curl and bash, Debian's netcat-openbsd
//	                            as /usr/bin/nc, and their libraries (upstream: alpine
//	                            with curl, bash, netcat-openbsd and more); its TLS
//	                            pair /localhost.crt and .key from the same source
//	nginx:1.27.0-2, 1.28.0-2    the harness's Debian nginx (1.14-2)
//	nonewprivs:1.4              the harness's nonewprivs (1.3)
//	glibc-dns-testing:2.1.1     busybox (dynamic, on glibc: hostname -f reads /etc/hosts)
//	nonroot:1.5                 busybox run as user 1234, as upstream's Dockerfile
//	pause:3.10.2                the harness's pause (3.10, also served as itself)
//	resource-consumer:1.14      (with -consumer) test/images/resource-consumer from
//	                            source on that busybox, without upstream's stress
//	                            (its memory load): the cluster test's HPA workload
//
// Usage: images -layout DIR -agnhost BIN -nmeter BIN [-hostbin /usr/bin/curl,...] [-consumer DIR] -addr 127.0.0.1:PORT
// It pushes everything, prints "ready" and serves until killed.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const e2e = "registry.k8s.io/e2e-test-images/"

func main() {
	layoutDir := flag.String("layout", "", "the conformance harness's OCI image layout")
	agnhost := flag.String("agnhost", "", "agnhost binary built from k8s.io/kubernetes test/images/agnhost, with porter's localhost.crt and localhost.key beside it")
	nmeter := flag.String("nmeter", "", "static test/nodee2e/nmeter binary")
	hostbins := flag.String("hostbin", "/usr/bin/curl,/bin/bash", "programs (with the libraries ldd names) to add to agnhost: PATH or PATH=PATH-IN-IMAGE, comma-separated")
	addr := flag.String("addr", "127.0.0.1:5001", "loopback address to serve on")
	consumer := flag.String("consumer", "", "directory holding test/images/resource-consumer's consumer and consume-cpu binaries (adds resource-consumer:1.14)")
	flag.Parse()
	if *layoutDir == "" || *agnhost == "" || *nmeter == "" {
		log.Fatal("images: -layout, -agnhost and -nmeter are required")
	}
	imgs, err := build(*layoutDir, *agnhost, *nmeter, strings.Split(*hostbins, ","))
	if err == nil && *consumer != "" {
		imgs[e2e+"resource-consumer:1.14"], err = consumerImage(imgs[e2e+"busybox:1.37.0-2"], *consumer)
	}
	if err != nil {
		log.Fatalf("images: %v", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("images: %v", err)
	}
	go func() { log.Fatal(http.Serve(ln, registry.New(registry.Logger(log.New(io.Discard, "", 0))))) }()
	for _, ref := range sortedKeys(imgs) {
		dst, err := name.ParseReference(*addr+"/"+strings.TrimPrefix(ref, "registry.k8s.io/"), name.Insecure)
		if err != nil {
			log.Fatalf("images: %v", err)
		}
		if err := remote.Write(dst, imgs[ref]); err != nil {
			log.Fatalf("images: push %s: %v", ref, err)
		}
	}
	fmt.Printf("ready: %d images on %s\n", len(imgs), *addr)
	select {}
}

// build returns every image by its upstream reference.
func build(layoutDir, agnhostBin, nmeterBin string, hostbins []string) (map[string]v1.Image, error) {
	p, err := layout.FromPath(layoutDir)
	if err != nil {
		return nil, err
	}
	from := func(ref string) (v1.Image, error) { return fromLayout(p, ref) }
	debianBusybox, err := from(e2e + "busybox:1.29-2")
	if err != nil {
		return nil, err
	}
	nmeter, err := os.ReadFile(nmeterBin)
	if err != nil {
		return nil, err
	}
	busybox, err := addFiles(debianBusybox, file{h: tar.Header{Name: "bin/nmeter", Mode: 0o755}, body: nmeter})
	if err != nil {
		return nil, err
	}
	nginx, err := from(e2e + "nginx:1.14-2")
	if err != nil {
		return nil, err
	}
	nnp, err := from(e2e + "nonewprivs:1.3")
	if err != nil {
		return nil, err
	}
	pause, err := from("registry.k8s.io/pause:3.10")
	if err != nil {
		return nil, err
	}
	nonroot, err := configure(busybox, func(c *v1.Config) { c.User = "1234" })
	if err != nil {
		return nil, err
	}
	imgs := map[string]v1.Image{
		e2e + "busybox:1.37.0-2":        busybox,
		e2e + "glibc-dns-testing:2.1.1": busybox,
		e2e + "nginx:1.27.0-2":          nginx,
		e2e + "nginx:1.28.0-2":          nginx,
		e2e + "nonewprivs:1.4":          nnp,
		e2e + "nonroot:1.5":             nonroot,
		"registry.k8s.io/pause:3.10.2":  pause,
		"registry.k8s.io/pause:3.10":    pause, // containerd-ref.sh's sandbox image
	}
	tools, err := hostPrograms(hostbins)
	if err != nil {
		return nil, err
	}
	withTools, err := addFiles(busybox, tools...)
	if err != nil {
		return nil, err
	}
	for _, version := range []string{"2.66.1", "2.55"} {
		img, err := agnhostImage(withTools, agnhostBin, version)
		if err != nil {
			return nil, err
		}
		imgs[e2e+"agnhost:"+version] = img
	}
	// Each name its own image, as upstream: a runtime names a container's
	// image by the image's first tag, which must be the one the pod asked for.
	for ref, img := range imgs {
		labelled, err := configure(img, func(c *v1.Config) {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			c.Labels["io.wincri.node-e2e.stand-in-for"] = ref
		})
		if err != nil {
			return nil, err
		}
		imgs[ref] = labelled
	}
	return imgs, nil
}

func fromLayout(p layout.Path, ref string) (v1.Image, error) {
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] != ref && d.Annotations["io.containerd.image.name"] != ref {
			continue
		}
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			cm, err := child.IndexManifest()
			if err != nil {
				return nil, err
			}
			if len(cm.Manifests) != 1 {
				return nil, fmt.Errorf("%s: %d manifests, want one", ref, len(cm.Manifests))
			}
			return child.Image(cm.Manifests[0].Digest)
		}
		return idx.Image(d.Digest)
	}
	return nil, fmt.Errorf("%s is not in the harness's layout (run ../shared/harness/setup.sh)", ref)
}

// agnhostImage is upstream's Dockerfile on a busybox base: /agnhost (and
// agnhost-2), /uploads, user-defined-in-image (1000) in
// group-defined-in-image (50000), entrypoint /agnhost, cmd pause. The version
// file keeps the two tags distinct images, as they are upstream.
func agnhostImage(base v1.Image, bin, version string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	passwd, err := fileIn(base, "etc/passwd")
	if err != nil {
		return nil, err
	}
	group, err := fileIn(base, "etc/group")
	if err != nil {
		return nil, err
	}
	crt, err := os.ReadFile(filepath.Join(filepath.Dir(bin), "localhost.crt"))
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(filepath.Join(filepath.Dir(bin), "localhost.key"))
	if err != nil {
		return nil, err
	}
	img, err := addFiles(base,
		file{h: tar.Header{Name: "agnhost", Mode: 0o755}, body: data},
		file{h: tar.Header{Name: "localhost.crt", Mode: 0o644}, body: crt},
		file{h: tar.Header{Name: "localhost.key", Mode: 0o644}, body: key},
		file{h: tar.Header{Name: "agnhost-2", Typeflag: tar.TypeSymlink, Linkname: "agnhost"}},
		file{h: tar.Header{Name: "uploads/", Typeflag: tar.TypeDir, Mode: 0o755}},
		file{h: tar.Header{Name: "home/user-defined-in-image/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 1000, Gid: 1000}},
		file{h: tar.Header{Name: "etc/passwd", Mode: 0o644}, body: append(passwd, "user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"...)},
		file{h: tar.Header{Name: "etc/group", Mode: 0o644}, body: append(group, "user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n"...)},
		file{h: tar.Header{Name: "agnhost-version", Mode: 0o644}, body: []byte(version + "\n")})
	if err != nil {
		return nil, err
	}
	return configure(img, func(c *v1.Config) {
		c.Entrypoint, c.Cmd, c.User = []string{"/agnhost"}, []string{"pause"}, ""
	})
}

// consumerImage is upstream's resource-consumer Dockerfile on busybox:
// /consumer (the entrypoint, serving :8080) and /consume-cpu/consume-cpu,
// which it runs from / for every CPU load it is asked for.
func consumerImage(base v1.Image, dir string) (v1.Image, error) {
	consumer, err := os.ReadFile(filepath.Join(dir, "consumer"))
	if err != nil {
		return nil, err
	}
	cpu, err := os.ReadFile(filepath.Join(dir, "consume-cpu"))
	if err != nil {
		return nil, err
	}
	img, err := addFiles(base,
		file{h: tar.Header{Name: "consumer", Mode: 0o755}, body: consumer},
		file{h: tar.Header{Name: "consume-cpu/", Typeflag: tar.TypeDir, Mode: 0o755}},
		file{h: tar.Header{Name: "consume-cpu/consume-cpu", Mode: 0o755}, body: cpu})
	if err != nil {
		return nil, err
	}
	return configure(img, func(c *v1.Config) {
		c.Entrypoint, c.Cmd, c.WorkingDir = []string{"/consumer"}, nil, "/"
		c.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
		c.Labels = map[string]string{"io.wincri.node-e2e.stand-in-for": e2e + "resource-consumer:1.14"}
	})
}

// hostPrograms returns programs (each "PATH" or "PATH=PATH-IN-IMAGE") and
// every library ldd says they load, each library at its path on this host.
func hostPrograms(paths []string) ([]file, error) {
	seen := map[string]bool{}
	var files []file
	add := func(path, dst string) error {
		if seen[dst] {
			return nil
		}
		seen[dst] = true
		body, err := os.ReadFile(path) // follows links: the library itself
		if err != nil {
			return err
		}
		files = append(files, file{h: tar.Header{Name: strings.TrimPrefix(dst, "/"), Mode: 0o755}, body: body})
		return nil
	}
	for _, arg := range paths {
		if arg == "" {
			continue
		}
		p, dst, ok := strings.Cut(arg, "=")
		if !ok {
			dst = p
		}
		if err := add(p, dst); err != nil {
			return nil, err
		}
		out, err := exec.Command("ldd", p).Output()
		if err != nil {
			return nil, fmt.Errorf("ldd %s: %v", p, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
				err = add(f[2], f[2])
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				err = add(f[0], f[0])
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

type file struct {
	h    tar.Header
	body []byte
}

// addFiles adds a layer holding files to img.
func addFiles(img v1.Image, files ...file) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := f.h
		h.Size = int64(len(f.body))
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(img, layer)
}

// fileIn reads a regular file from the top-most layer of img that holds it.
func fileIn(img v1.Image, path string) ([]byte, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s not in the base image: %v", path, err)
		}
		if strings.TrimPrefix(h.Name, "./") == path {
			return io.ReadAll(tr)
		}
	}
}

func configure(img v1.Image, f func(*v1.Config)) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	f(&cf.Config)
	return mutate.ConfigFile(img, cf)
}

func sortedKeys(m map[string]v1.Image) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
