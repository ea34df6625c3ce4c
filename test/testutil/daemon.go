//go:build linux

package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/config"
)

// BuildDaemon builds cmd/wincri into dir and returns the binary's path;
// with WINCRI_RACE=1 in the environment it is built with the race detector.
func BuildDaemon(dir string) (string, error) {
	bin := filepath.Join(dir, "wincri")
	args := []string{"build", "-o", bin}
	if os.Getenv("WINCRI_RACE") == "1" {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/wincri/wincri/cmd/wincri")...).CombinedOutput()
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

	env    []string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	conn   *grpc.ClientConn
}

// Mirror returns hosts.toml text sending a registry's pulls to mirror (host:port, plain HTTP).
func Mirror(mirror string) string {
	return fmt.Sprintf("server = \"http://%s\"\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", mirror, mirror)
}

// Options configure a test daemon.
type Options struct {
	// Hosts maps a registry host (or "_default") to its hosts.toml.
	Hosts map[string]string
	// CNI is the conflist put in the daemon's CNI conf dir ("" for none).
	// "$DIR" in it is replaced by the daemon's directory.
	CNI string
	// SandboxImage is the pause image ("" keeps the default).
	SandboxImage string
	// Env is added to the daemon's environment (e.g. WINCRI_FAILPOINTS=...).
	Env []string
	// Extra is appended to config.toml (whole tables, e.g. "[metrics]\n...").
	Extra string
	// RegistryKeys are added to the [registry] table (e.g. "pull_progress_interval = \"50ms\"\n").
	RegistryKeys string
}

// NewDaemon prepares a daemon in a fresh directory.
func NewDaemon(t testing.TB, bin string, o Options) *Daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "wincri-test-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Bin: bin, Dir: dir, Socket: filepath.Join(dir, "wincri.sock"), env: o.Env}
	files := map[string]string{}
	for host, toml := range o.Hosts {
		files[filepath.Join("certs.d", host, "hosts.toml")] = toml
	}
	if o.CNI != "" {
		files[filepath.Join("cni", "10-test.conflist")] = strings.ReplaceAll(o.CNI, "$DIR", dir)
	}
	sandbox := ""
	if o.SandboxImage != "" {
		sandbox = fmt.Sprintf("sandbox_image = %q\n", o.SandboxImage)
	}
	files["config.toml"] = fmt.Sprintf("root = %q\nstate = %q\nlisten = %q\nlog_level = \"debug\"\n%s[registry]\nconfig_path = %q\n%s[cni]\nconf_dir = %q\nbin_dirs = [\"/usr/lib/cni\", \"/opt/cni/bin\"]\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "s"), "unix://"+d.Socket, sandbox,
		filepath.Join(dir, "certs.d"), o.RegistryKeys, filepath.Join(dir, "cni")) + o.Extra
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		d.Kill(t)
		if b, err := os.ReadFile(d.LogPath()); err == nil && bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			t.Errorf("the daemon (built with -race) reported a data race")
		}
		if t.Failed() {
			if b, err := os.ReadFile(d.LogPath()); err == nil {
				t.Logf("wincri log:\n%s", tail(string(b), 80))
			}
		}
		killShims(dir)
		UnmountBelow(dir)
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
	cmd.Env = append(os.Environ(), d.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	conn, err := DialCRI(d.Socket, 30*time.Second, exited)
	if err != nil {
		cmd.Process.Kill()
		if errors.Is(err, errExited) {
			<-exited
			b, _ := os.ReadFile(d.LogPath())
			return fmt.Errorf("wincri exited during start-up (%v):\n%s", waitErr, tail(string(b), 20))
		}
		return err
	}
	d.cmd, d.exited, d.conn = cmd, exited, conn
	d.Runtime = runtimeapi.NewRuntimeServiceClient(conn)
	d.Images = runtimeapi.NewImageServiceClient(conn)
	return nil
}

var errExited = errors.New("the server exited")

// DialCRI waits until a CRI server listens on the unix socket (for at most
// timeout, or until exited is closed) and returns a client connection.
func DialCRI(socket string, timeout time.Duration, exited <-chan struct{}) (*grpc.ClientConn, error) {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			return nil, errExited
		default:
		}
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("nothing listened on %s within %s", socket, timeout)
		}
	}
	return grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
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

// Exited reports whether the daemon process has exited (e.g. at a failpoint).
func (d *Daemon) Exited() bool {
	if d.exited == nil {
		return true
	}
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

// Forget drops a daemon that exited by itself, so it can be started again.
func (d *Daemon) Forget() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	d.cmd = nil
}

// Shims returns the pids of the shim processes serving this daemon's pods
// (their command line names its directory), not its idle spare shims.
func (d *Daemon) Shims() []int { return d.shims(false) }

// AllowedSpares is how many idle spare shims the daemon's config lets it
// keep: one per handler of containerd-shim-runc-v2 with spare_shims on
// (see runtime/spares), none with it off.
func (d *Daemon) AllowedSpares() int {
	cfg, err := config.Load(d.ConfigPath())
	if err != nil || !cfg.SpareShims {
		return 0
	}
	n := 0
	for _, h := range cfg.Runtimes {
		if filepath.Base(h.Shim) == "containerd-shim-runc-v2" {
			n++
		}
	}
	return n
}

// leftShims returns the shims a daemon without pods must not have: every
// pod's shim, and all its spare shims when there are more than allowed
// (a leaked spare is a leak like any other).
func (d *Daemon) leftShims(allowed int) []int {
	left := d.Shims()
	if spares := d.SpareShims(); len(spares) > allowed {
		left = append(left, spares...)
	}
	return left
}

// WaitNoShimsLeft waits up to 30 s until the daemon runs no pod's shim and
// no more spare shims than AllowedSpares, and returns the ids (and working
// directories) of the shims still running beyond that.
func (d *Daemon) WaitNoShimsLeft() []string {
	allowed := d.AllowedSpares()
	for deadline := time.Now().Add(30 * time.Second); len(d.leftShims(allowed)) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	var left []string
	for _, pid := range d.leftShims(allowed) {
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		left = append(left, fmt.Sprintf("%s (pid %d in %s)", shimID(pid), pid, cwd))
	}
	return left
}

// SpareShims returns the pids of the daemon's idle spare shims: the shim
// servers (not a "start" still running) that work in a directory under its
// state's spares/ (a pod takes one by renaming that directory to its bundle).
func (d *Daemon) SpareShims() []int { return d.shims(true) }

func (d *Daemon) shims(spare bool) []int {
	var pids []int
	spares := filepath.Join(d.Dir, "s", "spares") + "/"
	for _, pid := range shimsBelow(d.Dir) {
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err != nil || strings.HasPrefix(cwd, spares) != spare {
			continue
		}
		// The shim binary's "start" action forks the spare and exits; an
		// exiting process has released its memory, so its command line
		// reads empty, while its working directory is still there.
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if spare && (len(b) == 0 || strings.HasSuffix(string(b), "\x00start\x00")) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// shimID is the -id a shim process was started with.
func shimID(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(string(b), "\x00")
	for i, a := range args {
		if a == "-id" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return "?"
}

func shimsBelow(dir string) []int {
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), "containerd-shim") && strings.Contains(string(b), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killShims kills what a failed test left running, and the containers with it.
func killShims(dir string) {
	for _, pid := range shimsBelow(dir) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Mounts returns the mount points below the daemon's directory.
func (d *Daemon) Mounts() []string {
	var out []string
	b, _ := os.ReadFile("/proc/self/mounts")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], d.Dir+"/") {
			out = append(out, f[1])
		}
	}
	return out
}

// UnmountBelow lazily unmounts whatever a killed process left mounted in dir.
func UnmountBelow(dir string) {
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

// SetEnv replaces the extra environment of the next Start.
func (d *Daemon) SetEnv(env ...string) { d.env = env }
