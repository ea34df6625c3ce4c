package hcsemu

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A mapped directory appears inside a container at its container path, as
// the silo's bind filter shows it: the emulator bind-mounts the host path
// over ROOT\ContainerPath (read-only when ReadOnly is set) with the host's
// mount(8), which Wine runs as a Unix program, and unmounts it when the
// system stops, when the mapping is removed and when the emulator closes.
// The root is a plain directory, so without the unmount a later removal of
// it would reach into the host directory: every path out unmounts first.

var (
	kernel32             = windows.NewLazySystemDLL("kernel32.dll")
	procWineUnixFileName = kernel32.NewProc("wine_get_unix_file_name")
)

// mount is one mapping in place.
type mount struct {
	target string // the Unix path of ROOT\ContainerPath
	host   string // the Unix path of the host directory or file
}

// unixPath is Wine's Unix path of a Windows path.
func unixPath(p string) (string, error) {
	if err := procWineUnixFileName.Find(); err != nil {
		return "", fmt.Errorf("not under Wine: mapped directories cannot be shown in a container here: %v", err)
	}
	w, err := windows.UTF16PtrFromString(p)
	if err != nil {
		return "", err
	}
	r, _, _ := procWineUnixFileName.Call(uintptr(unsafe.Pointer(w)))
	if r == 0 {
		return "", fmt.Errorf("%s has no Unix path", p)
	}
	s := windows.BytePtrToString((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&r))))
	heapFree(r)
	if strings.ContainsAny(s, "'\n") {
		return "", fmt.Errorf("%q: a quote or newline in a path is refused", s)
	}
	return s, nil
}

var (
	procGetProcessHeap = kernel32.NewProc("GetProcessHeap")
	procHeapFree       = kernel32.NewProc("HeapFree")
)

func heapFree(p uintptr) {
	h, _, _ := procGetProcessHeap.Call()
	procHeapFree.Call(h, 0, p)
}

// spawnMu serialises the emulator's process starts. Wine starts a Unix
// program (runUnix) by forking this process; a container process started
// at the same moment once failed with "Internal error" (TestWindowsKubelet
// in the clean-clone make test of 2026-12-07 21:02, while the layer holds
// of hold_windows.go ran chattr beside two container starts). The cause
// inside Wine is not known; one start at a time avoids the overlap.
var spawnMu sync.Mutex

// runUnix runs a POSIX shell script on the host and returns its output and
// exit status. Wine starts a Unix program without a Windows process to wait
// for, so the script reports its status in a file the emulator waits for.
func runUnix(script string) (string, error) {
	dir, err := os.MkdirTemp("", "hcsemu-unix-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	ud, err := unixPath(dir)
	if err != nil {
		return "", err
	}
	full := fmt.Sprintf("(%s) >'%s/out' 2>&1; echo $? >'%s/status.tmp'; mv '%s/status.tmp' '%s/status'", script, ud, ud, ud, ud)
	cl, err := windows.UTF16PtrFromString(`Z:\bin\sh -c ` + syscall.EscapeArg(full))
	if err != nil {
		return "", err
	}
	var si windows.StartupInfo
	si.Cb = uint32(unsafe.Sizeof(si))
	var pi windows.ProcessInformation
	spawnMu.Lock()
	err = windows.CreateProcess(nil, cl, nil, nil, false, 0, nil, nil, &si, &pi)
	spawnMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("starting /bin/sh: %v", err)
	}
	// For a Unix program Wine hands back no process handle (0) and
	// leaves garbage in the thread handle (measured: 0x349c60, then 0):
	// closing that value could close a handle of this process that has it
	// (a Go runtime event, which then killed the test binary with
	// "setevent failed; errno=6"). Only a real process's handles are closed.
	if pi.Process != 0 {
		windows.CloseHandle(pi.Thread)
		windows.CloseHandle(pi.Process)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		st, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue
		}
		out, _ := os.ReadFile(filepath.Join(dir, "out"))
		if code := strings.TrimSpace(string(st)); code != "0" {
			return string(out), fmt.Errorf("%s: exit status %s: %s", script, code, strings.TrimSpace(string(out)))
		}
		return string(out), nil
	}
	return "", fmt.Errorf("%s: no status after 30s", script)
}

// mountMapped bind-mounts a mapped directory (or file) at its container
// path in the system's root.
func (sys *system) mountMapped(hostPath, containerPath string, readOnly bool) (*mount, error) {
	host := volumePathToDrive(hostPath)
	fi, err := os.Stat(host)
	if err != nil {
		return nil, err
	}
	target := sys.containerPath(containerPath)
	if target == containerPath {
		return nil, fmt.Errorf("container path %q is not in the container", containerPath)
	}
	if fi.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return nil, err
	}
	m := &mount{}
	if m.host, err = unixPath(host); err != nil {
		return nil, err
	}
	if m.target, err = unixPath(target); err != nil {
		return nil, err
	}
	opts := "--bind"
	if readOnly {
		opts = "--bind -o ro"
	}
	if _, err := runUnix(fmt.Sprintf("mount %s '%s' '%s'", opts, m.host, m.target)); err != nil {
		return nil, err
	}
	live.Lock()
	live.targets[m.target] = true
	live.Unlock()
	return m, nil
}

func (m *mount) unmount() error {
	// A lazy unmount if a process of the system still holds it: the
	// mapping leaves the root at once either way.
	if _, err := runUnix(fmt.Sprintf("umount '%s' || umount -l '%s'", m.target, m.target)); err != nil {
		return err
	}
	live.Lock()
	delete(live.targets, m.target)
	live.Unlock()
	return nil
}

// live are the mounts in place, so that one the emulator failed to undo is
// seen (Mounted) instead of only logged.
var live = struct {
	sync.Mutex
	targets map[string]bool
}{targets: map[string]bool{}}

// Mounted lists the Unix paths of the mapped directories the emulator has
// mounted and not unmounted, sorted.
func Mounted() []string {
	live.Lock()
	defer live.Unlock()
	out := make([]string, 0, len(live.targets))
	for t := range live.targets {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// mountAll maps the document's directories at start; on a failure the
// ones mounted are unmounted.
func (sys *system) mountAll() (map[string]*mount, *hcsError) {
	mounts := map[string]*mount{}
	for _, md := range sys.doc.Container.MappedDirectories {
		m, err := sys.mountMapped(md.HostPath, md.ContainerPath, md.ReadOnly)
		if err != nil {
			unmountAll(mounts)
			return nil, fail(hrPathNotFound, "mapping %s at %s: %v", md.HostPath, md.ContainerPath, err)
		}
		mounts[strings.ToLower(md.ContainerPath)] = m
	}
	return mounts, nil
}

// unmountAll undoes every mapping of the system (with the server's lock
// held, or once the system is stopped and no longer changes); it is safe to
// call again.
func (sys *system) unmountAll() { unmountAll(sys.mounts) }

func unmountAll(mounts map[string]*mount) {
	for k, m := range mounts {
		if err := m.unmount(); err != nil {
			fmt.Fprintf(os.Stderr, "hcsemu: %v\n", err)
			continue // kept: Close tries again, and Mounted lists it
		}
		delete(mounts, k)
	}
}

// volumePathToDrive turns a host path that names its volume by GUID
// (\\?\Volume{GUID}\dir, as hcsshim's fs.ResolvePath gives a mapped file's
// source) into the drive path of that volume, as HCS resolves it; other
// paths, and volumes the host does not know, stay as they are.
func volumePathToDrive(p string) string {
	const prefix = `\\?\Volume{`
	end := strings.Index(p, `}\`)
	if !strings.HasPrefix(strings.ToLower(p), strings.ToLower(prefix)) || end < 0 {
		return p
	}
	vol, rest := p[:end+2], p[end+2:]
	buf := make([]uint16, 1024)
	var n uint32
	if windows.GetVolumePathNamesForVolumeName(windows.StringToUTF16Ptr(vol), &buf[0], uint32(len(buf)), &n) != nil || buf[0] == 0 {
		return p
	}
	return windows.UTF16ToString(buf) + rest
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
