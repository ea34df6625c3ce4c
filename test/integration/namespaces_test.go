//go:build linux

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

// TestPodNamespaces checks what containers of one pod share, for a pod
// without pause (namespaces held by bind mounts) and one with a shared PID
// namespace (namespaces held by the pause process): network, IPC and UTS
// always, with the pod's hostname; PID only when the pod asks.
func TestPodNamespaces(t *testing.T) {
	e := newPodEnv(t)
	for _, cfg := range bothPodKinds("solo") {
		shared := hasPause(cfg)
		podID, _ := e.runPodWith(cfg)
		resp, err := e.d.Runtime.PodSandboxStatus(testutil.Ctx(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID, Verbose: true})
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Pid          uint32
			NetNamespace string
		}
		if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
			t.Fatal(err)
		}
		if (info.Pid != 0) != shared {
			t.Errorf("%s: pause pid %d, want one only with a shared PID namespace", cfg.Metadata.Name, info.Pid)
		}
		var netIno uint64
		if fi, err := os.Stat(info.NetNamespace); err == nil {
			netIno = fi.Sys().(*syscall.Stat_t).Ino
		}
		links := map[string][]string{}
		for _, name := range []string{"a", "b"} {
			id := e.create(podID, cfg, name, "sleep", "3600")
			e.start(id)
			out := e.exec(id, "/testproc", "readlink", "/proc/self/ns/net", "/proc/self/ns/ipc", "/proc/self/ns/uts", "/proc/self/ns/pid")
			links[name] = strings.Fields(out)
			if h := strings.TrimSpace(e.exec(id, "/testproc", "hostname")); h != cfg.Hostname {
				t.Errorf("%s/%s: hostname %q, want %q", cfg.Metadata.Name, name, h, cfg.Hostname)
			}
			// wincri brings the loopback up itself (the conflist has no
			// loopback plugin): IFF_UP is bit 0 of the flags.
			if f, err := strconv.ParseUint(strings.TrimSpace(e.exec(id, "/testproc", "cat", "/sys/class/net/lo/flags")), 0, 32); err != nil || f&1 == 0 {
				t.Errorf("%s/%s: lo flags %#x (%v): not up", cfg.Metadata.Name, name, f, err)
			}
		}
		a, b := links["a"], links["b"]
		if len(a) != 4 || len(b) != 4 {
			t.Fatalf("%s: namespace links %v %v", cfg.Metadata.Name, a, b)
		}
		if a[0] != fmt.Sprintf("net:[%d]", netIno) {
			t.Errorf("%s: container network namespace %s is not the pod's %s (inode %d)", cfg.Metadata.Name, a[0], info.NetNamespace, netIno)
		}
		for i, kind := range []string{"net", "ipc", "uts"} {
			if a[i] != b[i] {
				t.Errorf("%s: containers do not share the %s namespace: %s vs %s", cfg.Metadata.Name, kind, a[i], b[i])
			}
		}
		if (a[3] == b[3]) != shared {
			t.Errorf("%s: PID namespaces %s and %s; shared wanted: %v", cfg.Metadata.Name, a[3], b[3], shared)
		}
	}
	e.removeAll()
}

// exec runs a command in a container and returns its stdout.
func (e *podEnv) exec(id string, cmd ...string) string {
	e.t.Helper()
	ex, err := e.d.Runtime.ExecSync(testutil.Ctx(e.t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 10})
	if err != nil || ex.ExitCode != 0 {
		e.t.Fatalf("exec %v: %v (exit %d, stderr %q)", cmd, err, ex.GetExitCode(), ex.GetStderr())
	}
	return string(ex.Stdout)
}
