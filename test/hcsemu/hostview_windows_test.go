package hcsemu

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/Microsoft/hcsshim"
	"github.com/Microsoft/hcsshim/hcn"
)

// runningSystem creates and starts a container on a fresh base layer with
// extra Container fields (JSON, without braces) and returns its handle and
// root directory.
func runningSystem(t *testing.T, s *Server, id, extra string) (string, string) {
	t.Helper()
	me := uint32(os.Getpid())
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "Files"), 0o755); err != nil {
		t.Fatal(err)
	}
	doc := strings.TrimSuffix(containerJSON(base, mountedScratch(t, s, t.TempDir(), base)), "}}") + "," + extra + "}}"
	h, herr := s.createSystem(me, []string{id, doc})
	if herr != nil {
		t.Fatal(herr)
	}
	if _, herr := s.startSystem(me, h[:1]); herr != nil {
		t.Fatal(herr)
	}
	s.mu.Lock()
	root := s.systems[id].root
	s.mu.Unlock()
	return h[0], root
}

// TestMappedDirectoriesInTheContainer: a mapped directory is seen at its
// container path while the system runs, read-only when asked, writes
// through to the host otherwise; one added by a modify request appears and
// goes with its removal; all go when the system stops, and the host
// directories keep their files.
func TestMappedDirectoriesInTheContainer(t *testing.T) {
	s := start(t)
	me := uint32(os.Getpid())
	ro, rw, later := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{ro, rw, later} {
		if err := os.WriteFile(filepath.Join(d, "flag"), []byte(d), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, root := runningSystem(t, s, "mapped", `"MappedDirectories":[{"HostPath":`+quote(ro)+`,"ContainerPath":"C:\\ro","ReadOnly":true},`+
		`{"HostPath":`+quote(rw)+`,"ContainerPath":"C:\\data\\rw"}]`)
	in := func(p string) string { return filepath.Join(root, p) }
	if b, err := os.ReadFile(in(`ro\flag`)); err != nil || string(b) != ro {
		t.Fatalf("the read-only mapping's file in the container: %q %v", b, err)
	}
	if err := os.WriteFile(in(`ro\new`), []byte("x"), 0o644); err == nil {
		t.Error("a file was written into a read-only mapped directory")
	}
	if err := os.WriteFile(in(`data\rw\new`), []byte("x"), 0o644); err != nil {
		t.Fatalf("writing into a read-write mapped directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "new")); err != nil || string(b) != "x" {
		t.Fatalf("a write in the container did not reach the host directory: %q %v", b, err)
	}
	modify := func(req string) *hcsError {
		_, herr := s.modifySystem(me, []string{h, `{"ResourcePath":"Container/MappedDirectories","RequestType":` + req + `}}`})
		return herr
	}
	add := `"Add","Settings":{"HostPath":` + quote(later) + `,"ContainerPath":"C:\\later"`
	if herr := modify(add); herr != nil {
		t.Fatal(herr)
	}
	if b, err := os.ReadFile(in(`later\flag`)); err != nil || string(b) != later {
		t.Fatalf("a directory added while running: %q %v", b, err)
	}
	if herr := modify(`"Remove","Settings":{"HostPath":` + quote(later) + `,"ContainerPath":"C:\\later"`); herr != nil {
		t.Fatal(herr)
	}
	if _, err := os.Stat(in(`later\flag`)); err == nil {
		t.Error("a removed mapping is still seen in the container")
	}
	if _, herr := s.stopSystem(me, []string{h}, "Forced"); herr != nil {
		t.Fatal(herr)
	}
	for _, p := range []string{`ro\flag`, `data\rw\flag`} {
		if _, err := os.Stat(in(p)); err == nil {
			t.Errorf("%s is still in the root after the system stopped", p)
		}
	}
	for _, d := range []string{ro, rw, later} {
		if _, err := os.Stat(filepath.Join(d, "flag")); err != nil {
			t.Errorf("the host directory lost its file: %v", err)
		}
	}
}

// TestEndpointAddressAndPortMapping: an endpoint's address reaches what
// listens on the host stack (where container processes listen here) while
// the endpoint exists; a PortMapping forwards its external port to it; a
// second mapping of a taken port is refused; the endpoint's HNS statistics
// count the traffic; deleting the endpoint undoes all of it.
func TestEndpointAddressAndPortMapping(t *testing.T) {
	s := start(t)
	if _, err := s.AddNetwork(`{"Name":"dp","Type":"L2Bridge","SchemaVersion":{"Major":2,"Minor":0},
		"Ipams":[{"Type":"Static","Subnets":[{"IpAddressPrefix":"10.94.0.0/16"}]}]}`); err != nil {
		t.Fatal(err)
	}
	network, err := hcn.GetNetworkByName("dp")
	if err != nil {
		t.Fatal(err)
	}
	// The "container": a listener on all addresses answering a token.
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	token := fmt.Sprintf("hcsemu-%d", time.Now().UnixNano())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, token)
			c.Close()
		}
	}()
	inner := ln.Addr().(*net.TCPAddr).Port
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	outer := free.Addr().(*net.TCPAddr).Port
	free.Close()
	answers := func(addr string) bool {
		c, err := net.DialTimeout("tcp4", addr, 3*time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line) == token
	}
	pm := func(ext int) hcn.EndpointPolicy {
		return hcn.EndpointPolicy{Type: hcn.PortMapping, Settings: json.RawMessage(fmt.Sprintf(`{"Protocol":6,"InternalPort":%d,"ExternalPort":%d}`, inner, ext))}
	}
	ep, err := network.CreateEndpoint(&hcn.HostComputeEndpoint{Name: "a", IpConfigurations: []hcn.IpConfig{{IpAddress: "10.94.0.7", PrefixLength: 16}},
		Policies: []hcn.EndpointPolicy{pm(outer)}})
	if err != nil {
		t.Fatal(err)
	}
	podAddr, hostAddr := fmt.Sprintf("10.94.0.7:%d", inner), fmt.Sprintf("127.0.0.1:%d", outer)
	if !answers(podAddr) || !answers(hostAddr) {
		t.Fatalf("with the endpoint: its address answers %v, the mapped host port %v; want both", answers(podAddr), answers(hostAddr))
	}
	stats, err := hcsshim.GetHNSEndpointStats(ep.Id)
	if err != nil || stats.BytesReceived == 0 || stats.BytesSent == 0 || stats.PacketsReceived == 0 || stats.PacketsSent == 0 {
		t.Fatalf("endpoint statistics after traffic: %+v %v; want every counter moved", stats, err)
	}
	if _, err := network.CreateEndpoint(&hcn.HostComputeEndpoint{Name: "b", IpConfigurations: []hcn.IpConfig{{IpAddress: "10.94.0.8", PrefixLength: 16}},
		Policies: []hcn.EndpointPolicy{pm(outer)}}); err == nil {
		t.Error("a second endpoint mapping the same host port was created")
	}
	if err := ep.Delete(); err != nil {
		t.Fatal(err)
	}
	if answers(podAddr) || answers(hostAddr) {
		t.Fatalf("after the endpoint's deletion: its address answers %v, the mapped port %v; want neither", answers(podAddr), answers(hostAddr))
	}
}

// TestContainerNetworkOfProcess: HcsemuContainerNetwork answers a process
// of a running container with its host name and its namespace's endpoints
// (DNS included), and refuses a process in no container.
func TestContainerNetworkOfProcess(t *testing.T) {
	s := start(t)
	me := uint32(os.Getpid())
	if _, err := s.AddNetwork(`{"Name":"cn","Type":"L2Bridge","SchemaVersion":{"Major":2,"Minor":0}}`); err != nil {
		t.Fatal(err)
	}
	network, err := hcn.GetNetworkByName("cn")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := (&hcn.HostComputeNamespace{}).Create()
	if err != nil {
		t.Fatal(err)
	}
	ep, err := network.CreateEndpoint(&hcn.HostComputeEndpoint{Name: "pod", IpConfigurations: []hcn.IpConfig{{IpAddress: "10.95.0.3", PrefixLength: 24}},
		Dns: hcn.Dns{ServerList: []string{"10.10.10.10"}, Search: []string{"google.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Delete()
	if err := hcn.AddNamespaceEndpoint(ns.Id, ep.Id); err != nil {
		t.Fatal(err)
	}
	h, _ := runningSystem(t, s, "cn", `"GuestOs":{"HostName":"test-hostname"},"Networking":{"Namespace":"`+ns.Id+`"}`)
	p, herr := s.createProcess(me, []string{h, `{"CommandLine":"cmd /c ping -n 30 127.0.0.1"}`})
	if herr != nil {
		t.Fatal(herr)
	}
	s.mu.Lock()
	var pid uint32
	for id := range s.systems["cn"].procs {
		pid = id
	}
	s.mu.Unlock()
	out, herr := s.containerNetwork(pid, nil)
	if herr != nil {
		t.Fatal(herr)
	}
	var cn ContainerNetwork
	if err := json.Unmarshal([]byte(out[0]), &cn); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cn.Endpoints)
	if cn.HostName != "test-hostname" || len(cn.Endpoints) != 1 || !strings.Contains(string(b), "10.10.10.10") || !strings.Contains(string(b), "google.com") {
		t.Fatalf("container network %s", out[0])
	}
	if _, herr := s.containerNetwork(me, nil); herr == nil {
		t.Error("a process in no container got a container network")
	}
	if _, herr := s.stopSystem(me, []string{h}, "Forced"); herr != nil {
		t.Fatal(herr)
	}
	_, _ = s.closeHandle(me, p[:1])
}

// TestCommandsFromTheContainersPath: a command named without a path runs
// from the container's default PATH in its own layers (System32, Windows,
// WindowsPowerShell) before Wine's, which stands in for a System32 the
// image does not have.
func TestCommandsFromTheContainersPath(t *testing.T) {
	root := t.TempDir()
	ps := filepath.Join(root, `Windows\System32\WindowsPowerShell\v1.0\powershell.exe`)
	if err := os.MkdirAll(filepath.Dir(ps), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ps, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	sys := &system{root: root}
	if host, image := hostCommandLine(sys, `powershell -c "echo hello"`); !strings.EqualFold(image, ps) || !strings.HasSuffix(host, ` -c "echo hello"`) {
		t.Errorf("powershell: image %q, command line %q; want the container's %s", image, host, ps)
	}
	if _, image := hostCommandLine(sys, `ping -n 1 localhost`); strings.HasPrefix(strings.ToLower(image), strings.ToLower(root)) || !strings.HasSuffix(strings.ToLower(image), `ping.exe`) {
		t.Errorf("ping (not in the image): image %q, want Wine's", image)
	}
	if _, image := hostCommandLine(sys, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -c x`); !strings.EqualFold(image, ps) {
		t.Errorf("by its container path: image %q", image)
	}
}

// TestGracefulShutdown: HcsShutDownComputeSystem gives each process
// CTRL_SHUTDOWN_EVENT; a process without a handler ends, one that holds the
// event keeps the system running until it is terminated; a system whose
// processes all end stops as GracefulExit.
func TestGracefulShutdown(t *testing.T) {
	s := start(t)
	me := uint32(os.Getpid())
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "held")
	run := func(h, mode string) *process {
		params, _ := json.Marshal(map[string]any{"CommandLine": syscall.EscapeArg(self),
			"Environment": map[string]string{helperEnv: mode, helperEnv + "_PATH": marker}})
		if _, herr := s.createProcess(me, []string{h, string(params)}); herr != nil {
			t.Fatal(herr)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		procs := s.procs
		return procs[len(procs)-1]
	}
	state := func(id string) (string, string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if sys := s.systems[id]; sys != nil {
			return sys.state, sys.exit
		}
		return "gone", ""
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	h, _ := runningSystem(t, s, "held", `"GuestOs":{"HostName":"held"}`)
	up := func(suffix string) func() bool {
		return func() bool { _, err := os.Stat(marker + suffix); return err == nil }
	}
	holder, plain := run(h, "hold-shutdown"), run(h, "plain")
	wait("the holder's handler", up(".ready"))
	wait("the plain process", up(".plain"))
	if _, herr := s.shutdownSystem(me, []string{h}); herr != nil {
		t.Fatal(herr)
	}
	wait("the process without a handler to end", plain.exited.Load)
	wait("the holding process to see the event", func() bool { _, err := os.Stat(marker); return err == nil })
	if st, _ := state("held"); holder.exited.Load() || st != "Running" {
		t.Fatalf("after shutdown with a process holding the event: holder exited %v, system %s; want running", holder.exited.Load(), st)
	}
	if _, herr := s.stopSystem(me, []string{h}, "Forced"); herr != nil {
		t.Fatal(herr)
	}
	wait("the holder to be terminated", holder.exited.Load)

	h2, _ := runningSystem(t, s, "plain", `"GuestOs":{"HostName":"plain"}`)
	os.Remove(marker + ".plain")
	run(h2, "plain")
	wait("the second plain process", up(".plain"))
	if _, herr := s.shutdownSystem(me, []string{h2}); herr != nil {
		t.Fatal(herr)
	}
	wait("the system to stop", func() bool { st, _ := state("plain"); return st == "Stopped" })
	if _, exit := state("plain"); exit != "GracefulExit" {
		t.Errorf("exit type %q, want GracefulExit", exit)
	}
}

// TestOperationsTimeOutAndCancel: through computecore.dll, a shutdown's
// operation completes when the system has stopped: while a process holds
// the event, HcsWaitForOperationResult times out with
// HCS_E_OPERATION_TIMEOUT, HcsCancelOperation ends the operation (and is
// refused once it has completed); a shutdown whose processes end completes
// with the system stopped.
func TestOperationsTimeOutAndCancel(t *testing.T) {
	s := start(t)
	me := uint32(os.Getpid())
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "held")
	wait := func(op uintptr, ms uint32) uint32 {
		var doc *uint16
		return call(t, "HcsWaitForOperationResult", op, uintptr(ms), uintptr(unsafe.Pointer(&doc)))
	}
	system := func(id, mode string) uintptr {
		h, _ := runningSystem(t, s, id, `"GuestOs":{"HostName":"`+id+`"}`)
		params, _ := json.Marshal(map[string]any{"CommandLine": syscall.EscapeArg(self),
			"Environment": map[string]string{helperEnv: mode, helperEnv + "_PATH": marker}})
		if _, herr := s.createProcess(me, []string{h, string(params)}); herr != nil {
			t.Fatal(herr)
		}
		var sys uintptr
		fmt.Sscan(h, &sys)
		return sys
	}
	held := system("held", "hold-shutdown")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(marker + ".ready"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the holding process did not start")
		}
	}
	op := uintptr(call(t, "HcsCreateOperation", 0, 0))
	if hr := call(t, "HcsShutDownComputeSystem", held, op, 0); hr != 0 {
		t.Fatalf("HcsShutDownComputeSystem: %#x", hr)
	}
	if hr := wait(op, 300); hr != 0x80370118 {
		t.Errorf("waiting 300 ms for a shutdown a process holds: %#x, want HCS_E_OPERATION_TIMEOUT", hr)
	}
	if hr := call(t, "HcsCancelOperation", op); hr != 0 {
		t.Errorf("HcsCancelOperation in flight: %#x", hr)
	}
	if hr := wait(op, 0); hr != 0x80004004 {
		t.Errorf("a cancelled operation's result: %#x, want E_ABORT", hr)
	}
	if hr := call(t, "HcsCancelOperation", op); hr == 0 {
		t.Error("cancelling a completed operation succeeded")
	}
	call(t, "HcsCloseOperation", op)
	op = uintptr(call(t, "HcsCreateOperation", 0, 0))
	if hr := call(t, "HcsTerminateComputeSystem", held, op, 0); hr != 0 || wait(op, 10000) != 0 {
		t.Fatalf("terminate: %#x", hr)
	}
	call(t, "HcsCloseOperation", op)

	plain := system("plain", "plain")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(marker + ".plain"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the plain process did not start")
		}
	}
	op = uintptr(call(t, "HcsCreateOperation", 0, 0))
	defer call(t, "HcsCloseOperation", op)
	if hr := call(t, "HcsShutDownComputeSystem", plain, op, 0); hr != 0 {
		t.Fatalf("HcsShutDownComputeSystem: %#x", hr)
	}
	if hr := wait(op, 30000); hr != 0 {
		t.Fatalf("a shutdown whose process ends: %#x", hr)
	}
	s.mu.Lock()
	st := s.systems["plain"].state
	s.mu.Unlock()
	if st != "Stopped" {
		t.Errorf("the shutdown completed with the system %s", st)
	}
}
