//go:build linux

package testutil

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BuildTestProc builds test/testproc, static, into dir.
func BuildTestProc(dir string) (string, error) {
	bin := filepath.Join(dir, "testproc")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/wincri/wincri/test/testproc")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build test/testproc: %v\n%s", err, out)
	}
	return bin, nil
}

// ProcImage is an image holding testproc as /testproc, with the given
// entrypoint and cmd (e.g. ["/testproc","pause"] for a pause image).
func ProcImage(t testing.TB, testproc string, entrypoint, cmd []string) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(testproc)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"etc/", "tmp/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	for _, f := range [][2]string{{"etc/passwd", passwd}, {"etc/group", group}} {
		tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1]))})
		tw.Write([]byte(f[1]))
	}
	tw.WriteHeader(&tar.Header{Name: "testproc", Mode: 0o755, Size: int64(len(bin))})
	tw.Write(bin)
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	return linuxImage(t, []v1.Layer{layer}, func(c *v1.Config) {
		c.Entrypoint, c.Cmd = entrypoint, cmd
	})
}

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
	// root is also in wheel (10), as in busybox's and most distributions'.
	group = "root:x:0:\nwheel:x:10:root\nnogroup:x:65534:\n"
)

// BridgeCNI is a conflist for a test bridge network with host-local IPAM
// state under the daemon's directory (so leaked IPs are visible).
func BridgeCNI(bridge, subnet string) string {
	return fmt.Sprintf(`{"cniVersion":"1.0.0","name":"wincri-test","plugins":[
 {"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","dataDir":"$DIR/ipam","ranges":[[{"subnet":%q}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}`, bridge, subnet)
}

// PushTestImages pushes the pause and workload images of testproc the pod
// tests use (wincri-test/pause:1, wincri-test/proc:1, sleeping an hour).
func PushTestImages(t testing.TB, reg *Registry, testproc string) {
	t.Helper()
	reg.Push(t, "wincri-test/pause:1", ProcImage(t, testproc, []string{"/testproc", "pause"}, nil))
	reg.Push(t, "wincri-test/proc:1", ProcImage(t, testproc, []string{"/testproc"}, []string{"sleep", "3600"}))
}

// BuildTestBinaries builds the daemon and testproc into a new temporary
// directory, for a test package's TestMain; remove dir when done.
func BuildTestBinaries() (dir, daemon, testproc string, err error) {
	if dir, err = os.MkdirTemp("", "wincri-bin-"); err != nil {
		return "", "", "", err
	}
	if daemon, err = BuildDaemon(dir); err == nil {
		testproc, err = BuildTestProc(dir)
	}
	return dir, daemon, testproc, err
}
