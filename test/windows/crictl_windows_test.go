package windowse2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crictl runs crictl.exe (cri-tools, built by hack/windows-e2e.sh) against
// wincri.exe's pipe and returns its stdout; a failure fails the test.
func crictl(t *testing.T, e *env, args ...string) string {
	t.Helper()
	ep := "npipe://" + strings.ReplaceAll(e.pipe, `\`, "/")
	all := append([]string{"--runtime-endpoint", ep, "--image-endpoint", ep, "--timeout", "60s"}, args...)
	// A bound on each call: once (1 run in ~16) a crictl.exe that had
	// exited stayed a zombie whose exit Wine never reported, and the test
	// waited until go test's timeout; now that fails here, saying so.
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, filepath.Join(e.bin, "crictl.exe"), all...)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if c.Err() != nil {
		t.Fatalf("crictl %s: no answer within 2 minutes (%v)\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	if err != nil {
		t.Fatalf("crictl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func crictlJSON(t *testing.T, e *env, v any, args ...string) {
	t.Helper()
	out := crictl(t, e, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("crictl %s: %v in %q", strings.Join(args, " "), err, out)
	}
}

func wantIn(t *testing.T, what, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("crictl %s: no %q in:\n%s", what, s, out)
		}
	}
}

// crictlChecks reads the kubelet's running pods with crictl.exe.
func crictlChecks(t *testing.T, e *env, solo string) {
	wantIn(t, "version", crictl(t, e, "version"), "RuntimeName:  wincri", "RuntimeApiVersion:  v1")
	var info struct {
		Status struct {
			Conditions []struct {
				Type   string `json:"type"`
				Status bool   `json:"status"`
			} `json:"conditions"`
		} `json:"status"`
	}
	crictlJSON(t, e, &info, "info")
	ready := map[string]bool{}
	for _, c := range info.Status.Conditions {
		ready[c.Type] = c.Status
	}
	if !ready["RuntimeReady"] || !ready["NetworkReady"] {
		t.Errorf("crictl info: conditions %+v", info.Status.Conditions)
	}
	wantIn(t, "pull", crictl(t, e, "pull", e.image), "Image is up to date for sha256:")
	wantIn(t, "images", crictl(t, e, "images"), e.reg.addr+"/e2e/winproc", e.reg.addr+"/e2e/pause")

	pod := strings.TrimSpace(crictl(t, e, "pods", "-q", "--name", "^"+solo+"$", "--state", "ready"))
	if len(pod) != 64 {
		t.Fatalf("crictl pods: %q is not one pod id", pod)
	}
	wantIn(t, "pods", crictl(t, e, "pods"), solo, "duo-"+winNode, "Ready")
	ctr := strings.TrimSpace(crictl(t, e, "ps", "-q", "--pod", pod, "--name", "^app$", "--state", "running"))
	if len(ctr) != 64 {
		t.Fatalf("crictl ps: %q is not one container id", ctr)
	}
	wantIn(t, "ps", crictl(t, e, "ps"), "app", "ticker", "burner", "Running")

	var ip struct {
		Status struct {
			Metadata struct{ Name string } `json:"metadata"`
			State    string                `json:"state"`
			Network  struct{ IP string }   `json:"network"`
		} `json:"status"`
	}
	crictlJSON(t, e, &ip, "inspectp", pod)
	if ip.Status.Metadata.Name != solo || ip.Status.State != "SANDBOX_READY" || !strings.HasPrefix(ip.Status.Network.IP, "10.88.") {
		t.Errorf("crictl inspectp: %+v", ip.Status)
	}
	var ic struct {
		Status struct {
			Metadata struct{ Name string }  `json:"metadata"`
			State    string                 `json:"state"`
			Image    struct{ Image string } `json:"image"`
		} `json:"status"`
	}
	crictlJSON(t, e, &ic, "inspect", ctr)
	if ic.Status.Metadata.Name != "app" || ic.Status.State != "CONTAINER_RUNNING" {
		t.Errorf("crictl inspect: %+v", ic.Status)
	}
	wantIn(t, "logs", crictl(t, e, "logs", "--tail", "3", ctr), "solo ")
	wantIn(t, "exec -s", crictl(t, e, "exec", "-s", ctr, `C:\winproc.exe`, "env", "CRICTL"), "CRICTL=\n", "cwd=")

	var cs struct {
		Stats []struct {
			Attributes struct{ Id string } `json:"attributes"`
			CPU        struct {
				UsageCoreNanoSeconds struct{ Value string } `json:"usageCoreNanoSeconds"`
			} `json:"cpu"`
			Memory struct {
				WorkingSetBytes struct{ Value string } `json:"workingSetBytes"`
			} `json:"memory"`
		} `json:"stats"`
	}
	crictlJSON(t, e, &cs, "stats", "-o", "json", "--id", ctr)
	if len(cs.Stats) != 1 || cs.Stats[0].Attributes.Id != ctr || cs.Stats[0].CPU.UsageCoreNanoSeconds.Value == "" ||
		cs.Stats[0].Memory.WorkingSetBytes.Value == "" {
		t.Errorf("crictl stats: %+v", cs.Stats)
	}
	var ps struct {
		Stats []struct {
			Attributes struct{ Id string } `json:"attributes"`
			Windows    struct {
				CPU struct {
					UsageCoreNanoSeconds struct{ Value string } `json:"usageCoreNanoSeconds"`
				} `json:"cpu"`
				Containers []any `json:"containers"`
			} `json:"windows"`
		} `json:"stats"`
	}
	crictlJSON(t, e, &ps, "statsp", "-o", "json", "--id", pod)
	if len(ps.Stats) != 1 || ps.Stats[0].Attributes.Id != pod || ps.Stats[0].Windows.CPU.UsageCoreNanoSeconds.Value == "" ||
		len(ps.Stats[0].Windows.Containers) != 1 {
		t.Errorf("crictl statsp: %+v", ps.Stats)
	}
}

// crictlLifecycle runs a pod of its own with crictl.exe and stops and
// removes it, container and pod.
func crictlLifecycle(t *testing.T, e *env) {
	dir := t.TempDir()
	podJSON, ctrJSON := filepath.Join(dir, "pod.json"), filepath.Join(dir, "ctr.json")
	write(t, podJSON, `{"metadata": {"name": "crictl-pod", "namespace": "default", "uid": "crictl-pod-uid"}, "log_directory": `+quote(dir)+`}`)
	write(t, ctrJSON, `{"metadata": {"name": "crictl-ctr"}, "image": {"image": `+quote(e.image)+`},
		"command": ["C:\\winproc.exe", "tick", "from-crictl"], "log_path": "ctr.log"}`)
	pod := strings.TrimSpace(crictl(t, e, "runp", podJSON))
	ctr := strings.TrimSpace(crictl(t, e, "create", pod, ctrJSON, podJSON))
	crictl(t, e, "start", ctr)
	waitFor(t, "crictl-ctr's output", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "ctr.log"))
		return strings.Contains(string(b), "from-crictl 2")
	})
	wantIn(t, "stop", crictl(t, e, "stop", ctr), ctr)
	wantIn(t, "ps -a", crictl(t, e, "ps", "-a", "--id", ctr), "Exited")
	wantIn(t, "rm", crictl(t, e, "rm", ctr), ctr)
	wantIn(t, "stopp", crictl(t, e, "stopp", pod), "Stopped sandbox "+pod)
	wantIn(t, "rmp", crictl(t, e, "rmp", pod), "Removed sandbox "+pod)
	if out := strings.TrimSpace(crictl(t, e, "pods", "-q")); out != "" {
		t.Errorf("crictl pods after rmp: %q", out)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
