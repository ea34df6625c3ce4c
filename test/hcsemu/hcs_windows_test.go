package hcsemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var computecore = windows.NewLazySystemDLL("computecore.dll")

// call runs one computecore export through the emulated DLL.
func call(t *testing.T, name string, args ...uintptr) uint32 {
	t.Helper()
	r, _, _ := computecore.NewProc(name).Call(args...)
	return uint32(r)
}

func wstr(s string) uintptr {
	p, _ := windows.UTF16PtrFromString(s)
	return uintptr(unsafe.Pointer(p))
}

// createSystem calls HcsCreateComputeSystem and returns its HRESULT and
// the emulator's reason.
func createSystem(t *testing.T, s *Server, id, doc string) (uint32, string) {
	op := call(t, "HcsCreateOperation", 0, 0)
	defer call(t, "HcsCloseOperation", uintptr(op))
	var sys uintptr
	hr := call(t, "HcsCreateComputeSystem", wstr(id), wstr(doc), uintptr(op), 0, uintptr(unsafe.Pointer(&sys)))
	calls := s.Calls("HcsCreateComputeSystem")
	return hr, calls[len(calls)-1].Err
}

// TestHCSRejects: the emulated HCS refuses documents that real HCS
// refuses, through the same DLL boundary the shim uses, and says why.
func TestHCSRejects(t *testing.T) {
	s := start(t)
	layer := t.TempDir()
	cases := []struct{ name, doc, reason string }{
		{"not JSON", `{`, "not JSON"},
		{"schema 1", `{"SchemaVersion":{"Major":1,"Minor":0},"Container":{}}`, "SchemaVersion"},
		{"no layers", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"Storage":{}}}`, "Layers is empty"},
		{"missing layer", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"Storage":{"Layers":[{"Id":"x","Path":"C:\\nope"}],"Path":"\\\\?\\Volume{0}\\"}}}`, "does not exist"},
		{"root not mounted", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"Storage":{"Layers":[{"Id":"x","Path":` + quote(layer) + `}],"Path":"\\\\?\\Volume{1}\\"}}}`, "not a prepared layer mount"},
		{"utility VM", `{"SchemaVersion":{"Major":2,"Minor":1},"VirtualMachine":{}}`, "utility VM"},
		{"unknown field", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"Storage":{},"Memroy":{"SizeInMB":64}}}`, `unknown field "Memroy"`},
		{"odd memory", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"Memory":{"SizeInMB":63}}}`, "multiple of 2"},
		{"two CPU limits", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"Processor":{"Count":1,"Weight":2}}}`, "want one"},
		{"registry hive", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"RegistryChanges":{"AddValues":[{"Key":{"Hive":"Users","Name":"x"},"Name":"v","Type":"String"}]}}}`, `hive "Users"`},
		{"registry type", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"RegistryChanges":{"AddValues":[{"Key":{"Hive":"System","Name":"x"},"Name":"v","Type":"Text"}]}}}`, `type "Text"`},
		{"devices", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"AssignedDevices":[{"Type":"Gpu"}]}}`, "AssignedDevices: not emulated"},
		{"relative mapped directory", `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"MappedDirectories":[{"HostPath":"C:\\","ContainerPath":"data"}]}}`, "is not absolute"},
	}
	for _, c := range cases {
		hr, reason := createSystem(t, s, "sys-"+strings.ReplaceAll(c.name, " ", "-"), c.doc)
		if int32(hr) >= 0 || !strings.Contains(reason, c.reason) {
			t.Errorf("%s: hr 0x%08x, reason %q (want one naming %q)", c.name, hr, reason, c.reason)
		}
	}
	if len(s.Systems()) != 0 {
		t.Fatalf("rejected documents left systems: %+v", s.Systems())
	}
}

func quote(p string) string { return `"` + strings.ReplaceAll(p, `\`, `\\`) + `"` }

// TestModifyRules: modify requests are decoded as hcsshim's
// ModifySettingRequest and refused where they are not what HCS takes for a
// process-isolated container; the limits of the accepted ones are returned.
func TestModifyRules(t *testing.T) {
	dir := quote(t.TempDir())
	ok := []struct {
		doc  string
		want Limits
	}{
		{`{"ResourcePath":"Container/Memory/SizeInMB","RequestType":"Update","Settings":256}`, Limits{MemoryMB: 256}},
		{`{"ResourcePath":"Container/Processor","RequestType":"Update","Settings":{"Maximum":5000}}`, Limits{Processor: Processor{Maximum: 5000}}},
		{`{"ResourcePath":"Container/Processor","RequestType":"Update","Settings":{"Weight":2}}`, Limits{Processor: Processor{Weight: 2}}},
		{`{"ResourcePath":"Container/MappedDirectories","RequestType":"Add","Settings":{"HostPath":` + dir + `,"ContainerPath":"C:\\data","ReadOnly":true}}`, Limits{}},
	}
	for _, c := range ok {
		if got, _, err := checkModify(c.doc); err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.doc, got, err, c.want)
		}
	}
	refused := []struct{ doc, reason string }{
		{`{"ResourcePath":"Container/Memory/SizeInMB","RequestType":"Update","Settings":255}`, "multiple of 2"},
		{`{"ResourcePath":"Container/Memory/SizeInMB","RequestType":"Update","Settings":"256"}`, "not a size"},
		{`{"ResourcePath":"Container/Memory/SizeInMB","RequestType":"Add","Settings":256}`, "want Update"},
		{`{"ResourcePath":"Container/Processor","RequestType":"Update","Settings":{"Maximum":5000,"Weight":2}}`, "want one"},
		{`{"ResourcePath":"Container/Processor","RequestType":"Update","Settings":{"Maximum":10001}}`, "outside"},
		{`{"ResourcePath":"Container/Processor","RequestType":"Update","Settings":{"Count":4096}}`, "outside"},
		{`{"ResourcePath":"Container/Processor","RequestType":"Update","Settings":{"Limit":5000}}`, "unknown field"},
		{`{"ResourcePath":"Container/MappedDirectories","RequestType":"Add","Settings":{"HostPath":"C:\\nope","ContainerPath":"C:\\data"}}`, "C:\\nope"},
		{`{"ResourcePath":"Container/Memory/SizeInMB","RequestType":"Update","Settings":256,"Extra":1}`, "unknown field"},
		{`{"ResourcePath":"Container/MappedDirectories","RequestType":"Add","Settings":{"HostPath":` + dir + `,"ContainerPath":"data"}}`, "ContainerPath"},
		{`{"ResourcePath":"VirtualMachine/ComputeTopology/Memory/SizeInMB","RequestType":"Update","Settings":256}`, "not emulated"},
		{`{"ResourcePath":"Container/Memory/SizeInMB","RequestType":"Update","Settings":256,"GuestRequest":{}}`, "GuestRequest"},
	}
	for _, c := range refused {
		if _, _, err := checkModify(c.doc); err == nil || !strings.Contains(err.msg, c.reason) {
			t.Errorf("%s: %v, want a refusal naming %q", c.doc, err, c.reason)
		}
	}
}

// TestHandlesArePerProcess: a handle works only in the process that opened
// it, as HCS and HCN handles do; another process gets an invalid handle.
func TestHandlesArePerProcess(t *testing.T) {
	s := start(t)
	id, err := s.AddNetwork(`{"Name":"perproc","Type":"L2Bridge","SchemaVersion":{"Major":2,"Minor":0}}`)
	if err != nil {
		t.Fatal(err)
	}
	out, herr := s.hcnOpen(100, []string{"network", id})
	if herr != nil {
		t.Fatal(herr)
	}
	h := out[0]
	if _, herr := s.hcnQuery(100, []string{"network", h, ""}); herr != nil {
		t.Fatalf("the opener's query: %v", herr)
	}
	if _, herr := s.hcnQuery(200, []string{"network", h, ""}); herr == nil || herr.hr != hrInvalidHandle {
		t.Errorf("another process's query: %v, want an invalid handle", herr)
	}
	if _, herr := s.closeHandle(200, []string{h}); herr == nil || herr.hr != hrInvalidHandle {
		t.Errorf("another process's close: %v, want an invalid handle", herr)
	}
	if _, herr := s.closeHandle(100, []string{h}); herr != nil {
		t.Errorf("the opener's close: %v", herr)
	}
}

// TestLayerChainChecked: a container's Storage.Layers must be the parent
// chain its Storage.Path was prepared with, in that order.
func TestLayerChainChecked(t *testing.T) {
	s := start(t)
	base, other, scratch := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{filepath.Join(base, "Files"), filepath.Join(other, "Files")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := []string{mountedScratch(t, s, scratch, base)}
	doc := func(layer string) string { return containerJSON(layer, out[0]) }
	if hr, reason := createSystem(t, s, "wrong-chain", doc(other)); int32(hr) >= 0 || !strings.Contains(reason, "are not the parent layers") {
		t.Errorf("another layer than the prepared chain: hr 0x%08x, %q", hr, reason)
	}
	if hr, reason := createSystem(t, s, "right-chain", doc(base)); int32(hr) < 0 {
		t.Errorf("the prepared chain: hr 0x%08x, %q", hr, reason)
	}

	// Mapped directories on the running system: added once at a
	// container path, removed only where mapped.
	if hr, reason := createSystem(t, s, "same-root", doc(base)); int32(hr) >= 0 || !strings.Contains(reason, "root") {
		t.Errorf("a second system on a root in use: hr 0x%08x, %q", hr, reason)
	}
	vol2 := mountedScratch(t, s, t.TempDir(), base)
	h, herr := s.createSystem(7, []string{"mapping", containerJSON(base, vol2)})
	if herr != nil {
		t.Fatal(herr)
	}
	if _, herr := s.startSystem(7, h[:1]); herr != nil {
		t.Fatal(herr)
	}
	md := func(op string) *hcsError {
		_, herr := s.modifySystem(7, []string{h[0], `{"ResourcePath":"Container/MappedDirectories","RequestType":"` + op +
			`","Settings":{"HostPath":` + quote(other) + `,"ContainerPath":"C:\\data"}}`})
		return herr
	}
	for i, c := range []struct {
		op string
		ok bool
	}{{"Remove", false}, {"Add", true}, {"Add", false}, {"Remove", true}, {"Remove", false}} {
		if herr := md(c.op); (herr == nil) != c.ok {
			t.Errorf("step %d, %s: %v, want success %v", i, c.op, herr, c.ok)
		}
	}
}

// mountedScratch activates and prepares a scratch layer on base and
// returns the volume path a container document names as its root.
func mountedScratch(t *testing.T, s *Server, scratch, base string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(scratch, "sandbox.vhdx"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.activateLayer(0, []string{"", scratch}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.releaseAll) // before the temporary directories go
	if _, err := s.prepareLayer(0, []string{"", scratch, "1", base}); err != nil {
		t.Fatal(err)
	}
	out, herr := s.layerMountPath(0, []string{"", scratch})
	if herr != nil {
		t.Fatal(herr)
	}
	return out[0]
}

func containerJSON(layer, root string) string {
	return `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{"Storage":{"Layers":[{"Id":"x","Path":` + quote(layer) +
		`}],"Path":` + quote(root) + `}}}`
}

// TestStoppedSystemGoesWithItsLastHandle: a stopped compute system stays
// while a handle to it or to one of its processes is open, and goes with
// the last one, whichever kind it is.
func TestStoppedSystemGoesWithItsLastHandle(t *testing.T) {
	s := start(t)
	me := uint32(os.Getpid()) // the caller its process's stdio goes to
	hs, _ := runningSystem(t, s, "lasthandle", "")
	h := []string{hs}
	p, herr := s.createProcess(me, []string{h[0], `{"CommandLine":"cmd /c ping -n 30 127.0.0.1"}`})
	if herr != nil {
		t.Fatal(herr)
	}
	if _, herr := s.stopSystem(me, h[:1], "Forced"); herr != nil {
		t.Fatal(herr)
	}
	listed := func() bool {
		for _, sys := range s.Systems() {
			if sys.ID == "lasthandle" {
				return true
			}
		}
		return false
	}
	if _, herr := s.closeHandle(me, h[:1]); herr != nil || !listed() {
		t.Fatalf("closing the system's handle while its process's is open: %v, listed %v", herr, listed())
	}
	if _, herr := s.closeHandle(me, p[:1]); herr != nil || listed() {
		t.Fatalf("closing the last (process) handle: %v, still listed %v", herr, listed())
	}
}

// hcsEvent is computecore's HCS_EVENT.
type hcsEvent struct {
	Type      uint32
	EventData *uint16
	Operation uintptr
}

// TestExitBeforeCallback: a process that exits before its caller sets the
// callback (hcsshim sets it after HcsCreateProcess returns; a probe's
// command can be done by then) still notifies the callback, once.
func TestExitBeforeCallback(t *testing.T) {
	s := start(t)
	hs, _ := runningSystem(t, s, "late", "")
	h := []string{hs}
	sys, _ := strconv.ParseUint(h[0], 10, 64)
	op := call(t, "HcsCreateOperation", 0, 0)
	defer call(t, "HcsCloseOperation", uintptr(op))
	var proc uintptr
	if hr := call(t, "HcsCreateProcess", uintptr(sys), wstr(`{"CommandLine":"cmd /c exit 7"}`), uintptr(op), 0, uintptr(unsafe.Pointer(&proc))); int32(hr) < 0 {
		t.Fatalf("HcsCreateProcess: 0x%08x", hr)
	}
	defer call(t, "HcsCloseProcess", proc)
	exited := func() bool {
		for _, p := range s.Processes() {
			if p.System == "late" && p.Exited {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(30 * time.Second); !exited(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the process did not exit")
		}
	}
	got := make(chan string, 4)
	cb := windows.NewCallback(func(ev *hcsEvent, _ uintptr) uintptr {
		got <- fmt.Sprintf("%#x %s", ev.Type, windows.UTF16PtrToString(ev.EventData))
		return 0
	})
	if hr := call(t, "HcsSetProcessCallback", proc, 0, 0, cb); hr != 0 {
		t.Fatalf("HcsSetProcessCallback: 0x%08x", hr)
	}
	defer call(t, "HcsSetProcessCallback", proc, 0, 0, 0)
	select {
	case ev := <-got:
		if !strings.HasPrefix(ev, fmt.Sprintf("%#x ", eventProcessExited)) || !strings.Contains(ev, `"ExitCode":7`) {
			t.Errorf("the callback got %s, want ProcessExited with exit code 7", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ProcessExited for a process that exited before its callback was set")
	}
	select {
	case ev := <-got:
		t.Errorf("a second event: %s", ev)
	case <-time.After(time.Second):
	}
}
