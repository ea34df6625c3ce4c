package runtime

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/stats"
)

// needsPause says whether a pod needs a pause process, and why: for a PID
// namespace its containers share (the pause is its init), for sysctls
// (runc applies them, refusing those of host namespaces), and for a user
// namespace (the pause owns it). Other pods hold their namespaces with bind
// mounts when drop_infra is on.
func (r *Runtime) needsPause(cfg *runtimeapi.PodSandboxConfig, un *userns) string {
	switch {
	case !r.cfg.DropInfra:
		return "drop_infra is off"
	case cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetPid() == runtimeapi.NamespaceMode_POD:
		return "shared PID namespace"
	case len(cfg.GetLinux().GetSysctls()) > 0:
		return "sysctls"
	case un != nil:
		return "user namespace"
	}
	return ""
}

// networkBeforePause: on Linux CNI ADD runs while the shim and pause start,
// since the pause process only needs the namespace to exist.
const networkBeforePause = false

// pinnedNS is where a pod without pause holds its IPC or UTS namespace.
func pinnedNS(podDir, kind string) string { return filepath.Join(podDir, "ns", kind) }

// pinPodNamespaces creates the IPC and UTS namespaces of a pod without pause
// (those it does not share with the host), sets the hostname in the UTS one,
// and holds both with bind mounts at pinnedNS.
func pinPodNamespaces(podDir string, cfg *runtimeapi.PodSandboxConfig) error {
	nsOpts := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	flags, kinds := 0, []string(nil)
	if nsOpts.GetIpc() != runtimeapi.NamespaceMode_NODE {
		flags, kinds = flags|unix.CLONE_NEWIPC, append(kinds, "ipc")
	}
	uts := nsOpts.GetNetwork() != runtimeapi.NamespaceMode_NODE
	if uts {
		flags, kinds = flags|unix.CLONE_NEWUTS, append(kinds, "uts")
	}
	if flags == 0 {
		return nil
	}
	for _, k := range kinds {
		if err := os.MkdirAll(filepath.Dir(pinnedNS(podDir, k)), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(pinnedNS(podDir, k), nil, 0o400); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it ends with this goroutine, taking
		// its new namespaces with it (the bind mounts keep them).
		goruntime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(flags); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if uts {
				if err := unix.Sethostname([]byte(cfg.GetHostname())); err != nil {
					return fmt.Errorf("set hostname %q: %w", cfg.GetHostname(), err)
				}
			}
			for _, k := range kinds {
				src := fmt.Sprintf("/proc/thread-self/ns/%s", k)
				if err := unix.Mount(src, pinnedNS(podDir, k), "", unix.MS_BIND, ""); err != nil {
					return fmt.Errorf("pin %s namespace: %w", k, err)
				}
			}
			return nil
		}()
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("pod namespaces: %w", err)
	}
	return nil
}

// unpinPodNamespaces undoes pinPodNamespaces; nothing pinned is not an error.
func unpinPodNamespaces(podDir string) error {
	dir := filepath.Join(podDir, "ns")
	for _, k := range []string{"ipc", "uts"} {
		if err := unmountAll(pinnedNS(podDir, k)); err != nil {
			return err
		}
	}
	return os.RemoveAll(dir)
}

// podNamespacesAlive says whether what holds a pod's namespaces is still
// there: the pause process's (checked elsewhere), or for a pod without
// pause its bind mounts, which a reboot removes.
func podNamespacesAlive(rec *records.Pod, podDir string) bool {
	if !rec.NoPause {
		return true
	}
	paths := []string{rec.NetnsPath}
	for _, k := range []string{"ipc", "uts"} {
		if _, err := os.Stat(pinnedNS(podDir, k)); err == nil {
			paths = append(paths, pinnedNS(podDir, k))
		}
	}
	for _, p := range paths {
		var st unix.Statfs_t
		if p != "" && (unix.Statfs(p, &st) != nil || st.Type != unix.NSFS_MAGIC) {
			return false
		}
	}
	return true
}

// podNamespacePaths are the namespace files a pod's containers join, by
// kind ("net", "ipc", "uts", "pid"): the pause process's, or the pinned
// ones of a pod without pause (which has no pod PID namespace).
func podNamespacePaths(rec *records.Pod, podDir string) map[string]string {
	if !rec.NoPause {
		m := map[string]string{}
		for _, k := range []string{"net", "ipc", "uts", "pid"} {
			m[k] = fmt.Sprintf("/proc/%d/ns/%s", rec.Pid, k)
		}
		return m
	}
	return map[string]string{"net": rec.NetnsPath, "ipc": pinnedNS(podDir, "ipc"), "uts": pinnedNS(podDir, "uts")}
}

// podInterfaces reads the pod's interface counters from /proc/net/dev as
// its network namespace sees it: the pause process's, or from a thread
// inside the namespace for a pod without pause.
func podInterfaces(rec *records.Pod) []stats.InterfaceSample {
	if rec.NetnsPath == "" {
		return nil
	}
	if !rec.NoPause {
		if rec.Pid == 0 {
			return nil
		}
		return netDevOf(rec.Pid)
	}
	var out []stats.InterfaceSample
	netns.LoadNetNS(rec.NetnsPath).Do(func(ns.NetNS) error {
		f, err := os.Open("/proc/thread-self/net/dev")
		if err != nil {
			return err
		}
		defer f.Close()
		out = parseNetDev(f)
		return nil
	})
	return out
}

// netDevOf reads the network counters of the namespace process pid is in.
func netDevOf(pid uint32) []stats.InterfaceSample {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseNetDev(f)
}

// parseNetDev reads /proc/net/dev, leaving out the loopback.
func parseNetDev(rd io.Reader) []stats.InterfaceSample {
	var out []stats.InterfaceSample
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		v := strings.Fields(rest)
		if !ok || len(v) < 16 || strings.TrimSpace(name) == "lo" {
			continue
		}
		n := func(i int) uint64 { x, _ := strconv.ParseUint(v[i], 10, 64); return x }
		out = append(out, stats.InterfaceSample{Name: strings.TrimSpace(name),
			RxBytes: n(0), RxPackets: n(1), RxErrors: n(2), RxDropped: n(3),
			TxBytes: n(8), TxPackets: n(9), TxErrors: n(10), TxDropped: n(11)})
	}
	return out
}
