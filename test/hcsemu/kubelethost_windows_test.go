package hcsemu

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/Microsoft/hcsshim"
	"github.com/Microsoft/hcsshim/hcn"
	"golang.org/x/sys/windows"
)

// What the emulated host gives the Windows kubelet only (pdh.c and
// afunix.c, installed by hack/windows-e2e.sh for programs named
// kubelet.exe): each rule is checked in this test binary run again as
// kubelet.exe, and AF_UNIX also under another name, which must not get it.

const helperEnv = "HCSEMU_KUBELET_HOST_CHECK"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "afunix":
		report(afunixChecks())
	case "afunix-leave": // bind, then exit as a killed process does: the file stays
		_, err := net.Listen("unix", os.Getenv(helperEnv+"_PATH"))
		report(err)
	case "no-afunix":
		_, err := net.Listen("unix", filepath.Join(os.TempDir(), fmt.Sprintf("hcsemu-%d.sock", os.Getpid())))
		report(wantErrno(err, 10047)) // WSAEAFNOSUPPORT: Wine's own ws2_32
	case "pdh":
		report(pdhChecks())
	case "hold-shutdown": // a container process that holds CTRL_SHUTDOWN_EVENT
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		_ = os.WriteFile(os.Getenv(helperEnv+"_PATH")+".ready", nil, 0o644)
		<-c
		_ = os.WriteFile(os.Getenv(helperEnv+"_PATH"), []byte("got it"), 0o644)
		select {}
	case "plain": // one with no handler
		_ = os.WriteFile(os.Getenv(helperEnv+"_PATH")+".plain", nil, 0o644)
		select {}
	}
}

func report(err error) {
	if err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
	os.Exit(0)
}

// runAs runs this test binary as name (a copy) in check mode and fails the
// test unless the check passed.
func runAs(t *testing.T, name, check string, env ...string) {
	t.Helper()
	if windows.NewLazySystemDLL("computenetwork.dll").Load() != nil {
		t.Skip("the emulated host is not installed in this Wine prefix (run hack/windows-e2e.sh)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), name)
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(exe)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(out, in)
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(append(os.Environ(), helperEnv+"="+check), env...)
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "ok\n") {
		t.Fatalf("%s as %s: %v\n%s", check, name, err, b)
	}
}

func TestKubeletHostAFUNIX(t *testing.T) {
	// A socket file its process left (killed) is replaced at the next bind.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	runAs(t, "kubelet.exe", "afunix-leave", helperEnv+"_PATH="+stale)
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("the first process left no socket file: %v", err)
	}
	runAs(t, "kubelet.exe", "afunix", helperEnv+"_PATH="+stale)
	runAs(t, "not-the-kubelet.exe", "no-afunix")
}

func TestKubeletHostPDH(t *testing.T) {
	runAs(t, "kubelet.exe", "pdh")
}

func wantErrno(err error, code syscall.Errno) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != code {
		return fmt.Errorf("got %v, want winsock error %d", err, code)
	}
	return nil
}

func afunixChecks() error {
	dir, err := os.MkdirTemp("", "afunix")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "k.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if a := l.Addr().String(); a != path {
		return fmt.Errorf("listener address %q, want %q", a, path)
	}
	// the path is taken while the listener lives
	if _, err := net.Listen("unix", path); wantErrno(err, 10048) != nil { // WSAEADDRINUSE
		return fmt.Errorf("second listen on %s: %v", path, err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
		return fmt.Errorf("echo: %q %v", b, err)
	}
	c.Close()
	if _, err := net.Dial("unix", filepath.Join(dir, "missing.sock")); wantErrno(err, 10061) != nil { // WSAECONNREFUSED
		return fmt.Errorf("dial of a missing socket: %v", err)
	}
	if _, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0); wantErrno(err, 10044) != nil { // WSAESOCKTNOSUPPORT
		return fmt.Errorf("datagram socket: %v", err)
	}
	// A file that is not a socket of ours is never taken over.
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("data"), 0o644); err != nil {
		return err
	}
	if _, err := net.Listen("unix", plain); wantErrno(err, 10048) != nil {
		return fmt.Errorf("listen on a plain file: %v", err)
	}
	// The file of a socket this live process closed without removing it
	// is still in use (as on Windows, where the program must remove it).
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := net.Listen("unix", path); wantErrno(err, 10048) != nil {
		return fmt.Errorf("listen over this process's own socket file: %v", err)
	}
	// The file a killed process left (TestKubeletHostAFUNIX made it) is
	// replaced; closing the listener removes it.
	stale := os.Getenv(helperEnv + "_PATH")
	l2, err := net.Listen("unix", stale)
	if err != nil {
		return fmt.Errorf("listen over a killed process's socket file: %v", err)
	}
	l2.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		return fmt.Errorf("socket file after close: %v", err)
	}
	return nil
}

var (
	pdh        = windows.NewLazySystemDLL("pdh.dll")
	pdhOpen    = pdh.NewProc("PdhOpenQuery")
	pdhAdd     = pdh.NewProc("PdhAddEnglishCounterW")
	pdhCollect = pdh.NewProc("PdhCollectQueryData")
	pdhArray   = pdh.NewProc("PdhGetFormattedCounterArrayW")
	pdhValue   = pdh.NewProc("PdhGetFormattedCounterValue")
)

type pdhItem struct {
	Name   *uint16
	Status uint32
	_      uint32
	Value  float64
}

func pdhChecks() error {
	var q uintptr
	if r, _, _ := pdhOpen.Call(0, 0, uintptr(unsafe.Pointer(&q))); r != 0 {
		return fmt.Errorf("PdhOpenQuery: %#x", r)
	}
	var file uintptr
	if r, _, _ := pdhOpen.Call(uintptr(unsafe.Pointer(windows.StringToUTF16Ptr(`C:\perf.blg`))), 0, uintptr(unsafe.Pointer(&file))); r != 0xC0000BBD {
		return fmt.Errorf("PdhOpenQuery of a log file: %#x, want PDH_INVALID_ARGUMENT", r)
	}
	add := func(path string) (uintptr, uintptr) {
		var c uintptr
		r, _, _ := pdhAdd.Call(q, uintptr(unsafe.Pointer(windows.StringToUTF16Ptr(path))), 0, uintptr(unsafe.Pointer(&c)))
		return c, r
	}
	for path, want := range map[string]uintptr{
		`\Foo\Bar`: 0xC0000BB8, `\Memory\Nope`: 0xC0000BB9, `\Processor(3)\% Processor Time`: 0xC0000BBA,
		`\Memory(x)\Committed Bytes`: 0xC0000BBA, `\\otherhost\Memory\Committed Bytes`: 0x800007D0, `Memory`: 0xC0000BC0,
	} {
		if _, r := add(path); r != want {
			return fmt.Errorf("add %s: %#x, want %#x", path, r, want)
		}
	}
	cpu, r := add(`\Processor(_Total)\% Processor Time`)
	committed, r2 := add(`\Memory\Committed Bytes`)
	rx, r3 := add(`\Network Adapter(*)\Bytes Received/sec`)
	if r|r2|r3 != 0 {
		return fmt.Errorf("add: %#x %#x %#x", r, r2, r3)
	}
	array := func(c uintptr) ([]pdhItem, uintptr) {
		var size, n uint32
		var probe [1]pdhItem
		if r, _, _ := pdhArray.Call(c, 0x200, uintptr(unsafe.Pointer(&size)), uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&probe[0]))); r != 0x800007D2 {
			return nil, r
		}
		items := make([]pdhItem, size/uint32(unsafe.Sizeof(pdhItem{}))+1)
		r, _, _ := pdhArray.Call(c, 0x200, uintptr(unsafe.Pointer(&size)), uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&items[0])))
		return items[:n], r
	}
	pdhCollect.Call(q)
	// a rate needs two samples; a count does not
	if _, r := array(cpu); r != 0xC0000BC6 {
		return fmt.Errorf("CPU rate after one sample: %#x, want PDH_INVALID_DATA", r)
	}
	if items, r := array(committed); r != 0 || len(items) != 1 || items[0].Value <= 0 {
		return fmt.Errorf("Committed Bytes: %+v %#x", items, r)
	}
	// Some CPU time between the samples: 200 ms of spinning, well above
	// /proc/stat's 10 ms ticks that Wine's GetSystemTimes reads (a fixed
	// loop count took too little once and the rate read 0).
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
	}
	pdhCollect.Call(q)
	items, r := array(cpu)
	if r != 0 || len(items) != 1 || windows.UTF16PtrToString(items[0].Name) != "_Total" || items[0].Value <= 0 || items[0].Value > 100 {
		return fmt.Errorf("%% Processor Time: %+v %#x", items, r)
	}
	if items, r := array(rx); r != 0 || len(items) == 0 {
		return fmt.Errorf("Network Adapter(*): %+v %#x", items, r)
	}
	var v struct {
		Status uint32
		_      uint32
		Value  float64
	}
	if r, _, _ := pdhValue.Call(rx, 0x200, 0, uintptr(unsafe.Pointer(&v))); r != 0xC0000BBD {
		return fmt.Errorf("one value of a wildcard counter: %#x, want PDH_INVALID_ARGUMENT", r)
	}
	if r, _, _ := pdhValue.Call(committed, 0x200, 0, uintptr(unsafe.Pointer(&v))); r != 0 || v.Value <= 0 {
		return fmt.Errorf("PdhGetFormattedCounterValue: %#x %+v", r, v)
	}
	return nil
}

// TestHNSv1EndpointList: HNS v1's endpoint list (what the Windows kubelet
// reads for network stats) shows the HCN endpoints with their network and
// address.
func TestHNSv1EndpointList(t *testing.T) {
	s := start(t)
	if _, err := s.AddNetwork(`{"Name":"cbr0","Type":"L2Bridge","SchemaVersion":{"Major":2,"Minor":0},
		"Ipams":[{"Type":"Static","Subnets":[{"IpAddressPrefix":"10.88.0.0/16"}]}]}`); err != nil {
		t.Fatal(err)
	}
	network, err := hcn.GetNetworkByName("cbr0")
	if err != nil {
		t.Fatal(err)
	}
	ep, err := network.CreateEndpoint(&hcn.HostComputeEndpoint{Name: "pod-eth0",
		IpConfigurations: []hcn.IpConfig{{IpAddress: "10.88.0.7", PrefixLength: 16}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Delete()
	list, err := hcsshim.HNSListEndpointRequest()
	if err != nil || len(list) != 1 {
		t.Fatalf("HNSListEndpointRequest: %+v %v", list, err)
	}
	got := list[0]
	if !strings.EqualFold(got.Id, ep.Id) || got.Name != "pod-eth0" || got.VirtualNetworkName != "cbr0" ||
		got.IPAddress.String() != "10.88.0.7" || got.PrefixLength != 16 || len(got.SharedContainers) != 0 {
		t.Errorf("v1 endpoint: %+v", got)
	}
}

// TestVolumePathToDrive: a mapped directory named by its volume's GUID path
// resolves to the drive; an unknown volume does not.
func TestVolumePathToDrive(t *testing.T) {
	buf := make([]uint16, 64)
	if err := windows.GetVolumeNameForVolumeMountPoint(windows.StringToUTF16Ptr(`C:\`), &buf[0], uint32(len(buf))); err != nil {
		t.Skipf("no volume GUID path for C: here: %v", err)
	}
	vol := windows.UTF16ToString(buf)
	if got := volumePathToDrive(vol + `windows`); !strings.EqualFold(got, `C:\windows`) {
		t.Errorf("%swindows -> %q", vol, got)
	}
	unknown := `\\?\Volume{12345678-0000-0000-0000-000000000000}\x`
	if got := volumePathToDrive(unknown); got != unknown {
		t.Errorf("unknown volume -> %q", got)
	}
}
