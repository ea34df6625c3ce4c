package hcsemu

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Microsoft/hcsshim"
	"github.com/Microsoft/hcsshim/hcn"
)

// runningSystem creates and starts a container on a fresh base layer with
// extra Container fields (JSON, without braces; none if empty) and returns its handle and
// root directory.
func runningSystem(t *testing.T, s *Server, id, extra string) (string, string) {
	t.Helper()
	me := uint32(os.Getpid())
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "Files"), 0o755); err != nil {
		t.Fatal(err)
	}
	doc := containerJSON(base, mountedScratch(t, s, t.TempDir(), base))
	if extra != "" {
		doc = strings.TrimSuffix(doc, "}}") + "," + extra + "}}"
	}
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
	if m := Mounted(); len(m) != 0 {
		t.Errorf("left mounted after the system stopped: %v", m)
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
