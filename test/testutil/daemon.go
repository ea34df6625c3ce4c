//go:build linux

package testutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// BuildDaemon builds cmd/wincri into dir and returns the binary's path.
func BuildDaemon(dir string) (string, error) {
	bin := filepath.Join(dir, "wincri")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/wincri/wincri/cmd/wincri").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/wincri: %v\n%s", err, out)
	}
	return bin, nil
}

// Daemon is a wincri process serving on a socket in its own directory.
type Daemon struct {
	Bin     string
	Dir     string // holds root/, state/, certs.d/, config.toml, wincri.log
	Socket  string
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	conn   *grpc.ClientConn
}

// Mirror returns hosts.toml text sending a registry's pulls to mirror (host:port, plain HTTP).
func Mirror(mirror string) string {
	return fmt.Sprintf("server = \"http://%s\"\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", mirror, mirror)
}

// NewDaemon prepares a daemon in a fresh directory. hosts maps a registry
// host (or "_default") to its hosts.toml; extra is appended to config.toml.
func NewDaemon(t testing.TB, bin string, hosts map[string]string, extra string) *Daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "wincri-test-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Bin: bin, Dir: dir, Socket: filepath.Join(dir, "wincri.sock")}
	for host, toml := range hosts {
		p := filepath.Join(dir, "certs.d", host, "hosts.toml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(toml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf("root = %q\nstate = %q\nlisten = %q\nlog_level = \"debug\"\n[registry]\nconfig_path = %q\n[cni]\nconf_dir = %q\n%s",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), "unix://"+d.Socket,
		filepath.Join(dir, "certs.d"), filepath.Join(dir, "cni"), extra)
	if err := os.WriteFile(d.ConfigPath(), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Kill(t)
		if t.Failed() {
			if b, err := os.ReadFile(d.LogPath()); err == nil {
				t.Logf("wincri log:\n%s", tail(string(b), 60))
			}
		}
		unmountBelow(dir)
		os.RemoveAll(dir)
	})
	return d
}

// ConfigPath is the daemon's config file.
func (d *Daemon) ConfigPath() string { return filepath.Join(d.Dir, "config.toml") }

// LogPath is where the daemon's output goes.
func (d *Daemon) LogPath() string { return filepath.Join(d.Dir, "wincri.log") }

// Start runs the daemon and waits until it answers Version.
func (d *Daemon) Start(t testing.TB) {
	t.Helper()
	if err := d.TryStart(); err != nil {
		t.Fatal(err)
	}
}

// TryStart is Start returning the error, for tests of start-up failures.
func (d *Daemon) TryStart() error {
	logf, err := os.OpenFile(d.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(d.Bin, "--config", d.ConfigPath())
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			b, _ := os.ReadFile(d.LogPath())
			return fmt.Errorf("wincri exited during start-up (%v):\n%s", waitErr, tail(string(b), 20))
		default:
		}
		if c, err := net.Dial("unix", d.Socket); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return fmt.Errorf("wincri did not listen on %s within 30s", d.Socket)
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn, err := grpc.NewClient("unix://"+d.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cmd.Process.Kill()
		return err
	}
	d.cmd, d.exited, d.conn = cmd, exited, conn
	d.Runtime = runtimeapi.NewRuntimeServiceClient(conn)
	d.Images = runtimeapi.NewImageServiceClient(conn)
	return nil
}

// Stop sends SIGTERM and waits for the daemon to exit.
func (d *Daemon) Stop(t testing.TB) { d.signal(t, syscall.SIGTERM) }

// Kill sends SIGKILL (a crash) and waits for the daemon to exit.
func (d *Daemon) Kill(t testing.TB) { d.signal(t, syscall.SIGKILL) }

func (d *Daemon) signal(t testing.TB, sig syscall.Signal) {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("wincri did not exit within 15s of %v", sig)
		d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
}

// Ctx is a context for one CRI call.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// unmountBelow lazily unmounts whatever a killed daemon left mounted in dir.
func unmountBelow(dir string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			syscall.Unmount(f[1], syscall.MNT_DETACH)
		}
	}
}
