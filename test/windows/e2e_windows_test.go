package windowse2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Microsoft/go-winio"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/hcsemu"
)

// env is what one test run shares: the emulator, the registry, the
// artifacts and the running wincri.exe.
type env struct {
	t        *testing.T
	bin      string // directory with wincri.exe, the shim, cni\, winproc.exe
	dir      string
	emu      *hcsemu.Server
	reg      *registry
	pipe     string
	daemon   *exec.Cmd
	exited   chan struct{}
	conn     *grpc.ClientConn
	rt       runtimeapi.RuntimeServiceClient
	img      runtimeapi.ImageServiceClient
	image    string // the workload image
	escImage string // the same, built with ArgsEscaped
	started  string // when the test started (names the directory of kept logs)
	// onCall, if set, sees each line of the emulator's call log as the
	// call returns to its caller.
	onCall atomic.Pointer[func(string)]
}

func newEnv(t *testing.T) *env {
	bin := os.Getenv("WINCRI_WINDOWS_E2E")
	if bin == "" {
		t.Skip("WINCRI_WINDOWS_E2E is not set: run hack/windows-e2e.sh, which builds wincri.exe, the runhcs shim, the CNI plugins and the emulated HCS/HCN DLLs")
	}
	emu, err := hcsemu.Start()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "hcsemu.log"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, bin: bin, dir: t.TempDir(), emu: emu, reg: startRegistry(t), started: time.Now().Format("20060102-150405"),
		pipe: fmt.Sprintf(`\\.\pipe\wincri-e2e-%d`, os.Getpid())}
	emu.Log = func(l string) {
		fmt.Fprintln(logf, l)
		if f := e.onCall.Load(); f != nil {
			(*f)(l)
		}
	}
	t.Cleanup(func() {
		e.stopDaemon()
		emu.KillCallers() // the shims
		emu.Close()
		logf.Close()
		if t.Failed() {
			dumpFile(t, "hcsemu calls", logf.Name())
			dumpFile(t, "wincri log", e.logPath())
			e.keepLogs(logf.Name(), e.logPath())
		}
	})
	if _, err := emu.AddNetwork(`{"Name":"cbr0","Type":"L2Bridge","SchemaVersion":{"Major":2,"Minor":0},
		"Ipams":[{"Type":"Static","Subnets":[{"IpAddressPrefix":"10.88.0.0/16","Routes":[{"NextHop":"10.88.0.1","DestinationPrefix":"0.0.0.0/0"}]}]}]}`); err != nil {
		t.Fatal(err)
	}
	winproc := filepath.Join(bin, "winproc.exe")
	e.reg.pushWindowsImage(t, "e2e/pause", "1", winproc, []string{`C:\winproc.exe`, "pause"}, false)
	e.image = e.reg.pushWindowsImage(t, "e2e/winproc", "1", winproc, []string{`C:\winproc.exe`, "tick", "hello"}, false)
	e.escImage = e.reg.pushWindowsImage(t, "e2e/escaped", "1", winproc, []string{`C:\winproc.exe tick escaped`}, true)
	e.writeConfig()
	e.startDaemon()
	return e
}

func dumpFile(t *testing.T, what, path string) {
	b, _ := os.ReadFile(path)
	s := string(b)
	if len(s) > 60000 {
		s = "...\n" + s[len(s)-60000:]
	}
	t.Logf("%s (%s):\n%s", what, path, s)
}

// keepLogs copies the whole of each file (the test log has only their
// tails) into a directory of its own beside the binaries, outside the test's
// temporary directories, for a failure that does not come back on demand.
func (e *env) keepLogs(files ...string) {
	dir := filepath.Join(e.bin, "failed", strings.ReplaceAll(e.t.Name(), "/", "_")+"-"+e.started)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Logf("keeping the logs: %v", err)
		return
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
		}
		if err != nil {
			e.t.Logf("keeping %s: %v", f, err)
		}
	}
	e.t.Logf("full logs kept in %s", dir)
}

func (e *env) writeConfig() {
	t := e.t
	certs := filepath.Join(e.dir, "certs.d", e.reg.addr)
	cniConf := filepath.Join(e.dir, "cni-conf")
	for _, d := range []string{certs, cniConf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(certs, "hosts.toml"), fmt.Sprintf("server = \"http://%s\"\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", e.reg.addr, e.reg.addr))
	write(t, filepath.Join(cniConf, "10-cbr0.conflist"), fmt.Sprintf(`{
  "cniVersion": "1.0.0", "name": "cbr0",
  "plugins": [{
    "type": "win-bridge", "ApiVersion": 2, "capabilities": {"portMappings": true, "dns": true},
    "ipam": {"type": "host-local", "subnet": "10.88.0.0/16", "dataDir": %q},
    "dns": {"Nameservers": ["10.96.0.10"], "Search": ["svc.cluster.local"]},
    "policies": [{"Name": "EndpointPolicy", "Value": {"Type": "OutBoundNAT", "Settings": {"Exceptions": ["10.88.0.0/16"]}}}]
  }]
}`, filepath.Join(e.dir, "ipam")))
	shim := filepath.Join(e.bin, "containerd-shim-runhcs-v1.exe")
	write(t, filepath.Join(e.dir, "config.toml"), fmt.Sprintf(`root = %q
state = %q
listen = "npipe://%s"
log_level = "debug"
sandbox_image = "%s/e2e/pause:1"
default_runtime = "runhcs-wcow-process"
[runtimes.runhcs-wcow-process]
shim = %q
platform = "windows"
options = { SandboxIsolation = 0, ScrubLogs = true, IoRetryTimeoutInSec = 300 }
container_annotations = ["io.microsoft.container.*"]
[runtimes.runhcs-wcow-hypervisor]
shim = %q
platform = "windows"
options = { SandboxIsolation = 1, ScrubLogs = true, ScaleCpuLimitsToSandbox = true, IoRetryTimeoutInSec = 300 }
pod_annotations = ["io.microsoft.virtualmachine.*"]
container_annotations = ["io.microsoft.container.*"]
[runtimes.runhcs-wcow-hypervisor-cpu]
shim = %q
platform = "windows"
options = { SandboxIsolation = 1, ScrubLogs = true, IoRetryTimeoutInSec = 300 }
pod_annotations = ["io.microsoft.virtualmachine.computetopology.processor.*"]
[registry]
config_path = %q
[cni]
bin_dirs = [%q]
conf_dir = %q
`, filepath.Join(e.dir, "root"), filepath.Join(e.dir, "state"), strings.ReplaceAll(e.pipe, `\`, "/"), e.reg.addr,
		shim, shim, shim, filepath.Join(e.dir, "certs.d"), filepath.Join(e.bin, "cni"), cniConf))
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *env) logPath() string { return filepath.Join(e.dir, "wincri.log") }

// startDaemon starts wincri.exe and connects to its pipe.
func (e *env) startDaemon() {
	t := e.t
	logf, err := os.OpenFile(e.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(e.bin, "wincri.exe"), "--config", filepath.Join(e.dir, "config.toml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	e.daemon, e.exited = cmd, make(chan struct{})
	go func(ch chan struct{}) { cmd.Wait(); close(ch) }(e.exited)
	if err := e.dial(); err != nil {
		dumpFile(t, "wincri log", e.logPath())
		t.Fatal(err)
	}
}

// dial waits for the pipe; under Wine the first client of a new go-winio
// listener is swallowed, so one throw-away connection goes first.
func (e *env) dial() error {
	timeout := time.Second
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		select {
		case <-e.exited:
			return fmt.Errorf("wincri.exe exited")
		default:
		}
		if c, err := winio.DialPipe(e.pipe, &timeout); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listened on %s", e.pipe)
		}
	}
	conn, err := grpc.NewClient("passthrough:///wincri", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return winio.DialPipeContext(ctx, e.pipe) }))
	if err != nil {
		return err
	}
	e.conn, e.rt, e.img = conn, runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	return nil
}

func (e *env) stopDaemon() {
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
	if e.daemon != nil {
		e.daemon.Process.Kill()
		<-e.exited
		e.daemon = nil
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}
