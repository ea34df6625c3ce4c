//go:build linux

package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	clusterDir string
	kubectlBin string
)

func TestMain(m *testing.M) {
	if os.Getenv("WINCRI_CLUSTER") != "1" {
		fmt.Println("skipping the cluster test: WINCRI_CLUSTER=1 runs it (make test-cluster)")
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		fmt.Println("the cluster test runs a node and needs root")
		os.Exit(1)
	}
	clusterDir = os.Getenv("CLUSTER_DIR")
	if clusterDir == "" {
		clusterDir = "/var/tmp/wincri-cluster/test"
		os.Setenv("CLUSTER_DIR", clusterDir)
	}
	if os.Getenv("CLUSTER_KUBELET_FLAGS") == "" {
		// As on Windows, where the kubelet has no cAdvisor: every pod and
		// container figure it reports, HPA's among them, is wincri's.
		os.Setenv("CLUSTER_KUBELET_FLAGS", "--feature-gates=PodAndContainerStatsFromCRI=true")
	}
	script("down")
	if out, err := script("up"); err != nil {
		fmt.Printf("hack/cluster.sh up: %v\n%s\n", err, out)
		logs()
		script("down")
		os.Exit(1)
	}
	bin, err := script("bin")
	if err != nil {
		fmt.Printf("hack/cluster.sh bin: %v\n", err)
		os.Exit(1)
	}
	kubectlBin = filepath.Join(strings.TrimSpace(bin), "kubectl")
	code := m.Run()
	if code != 0 {
		logs()
	}
	if out, err := script("down"); err != nil {
		fmt.Printf("hack/cluster.sh down: %v\n%s\n", err, out)
		code = 1
	}
	if left := leftovers(); len(left) > 0 {
		fmt.Printf("cluster down left: %s\n", strings.Join(left, "; "))
		code = 1
	}
	os.Exit(code)
}

func script(arg string) (string, error) {
	cmd := exec.Command("../../hack/cluster.sh", arg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// logs prints the tail of every component's log.
func logs() {
	files, _ := filepath.Glob(filepath.Join(clusterDir, "logs", "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		fmt.Printf("--- %s (last lines)\n%s\n", filepath.Base(f), strings.Join(lines, "\n"))
	}
}

// leftovers is what a cluster down must not leave: its processes, cgroups,
// mounts, bridge, kube-proxy's iptables chains and its state directory.
func leftovers() []string {
	var left []string
	if _, err := os.Stat(clusterDir); err == nil {
		left = append(left, clusterDir+" exists")
	}
	if out, _ := exec.Command("pgrep", "-af", clusterDir+"|/run/wincri-cluster").Output(); len(out) > 0 {
		left = append(left, "processes: "+strings.TrimSpace(string(out)))
	}
	if b, _ := os.ReadFile("/proc/mounts"); bytes.Contains(b, []byte(clusterDir)) || bytes.Contains(b, []byte("/run/wincri-cluster")) {
		left = append(left, "mounts")
	}
	for _, c := range []string{"cpu", "memory", "pids"} {
		if _, err := os.Stat("/sys/fs/cgroup/" + c + "/wincri-cluster"); err == nil {
			left = append(left, "cgroup "+c+"/wincri-cluster")
		}
	}
	if exec.Command("ip", "link", "show", "wincri-c0").Run() == nil {
		left = append(left, "bridge wincri-c0")
	}
	for _, table := range []string{"filter", "nat"} {
		out, _ := exec.Command("iptables", "-t", table, "-S").Output()
		if bytes.Contains(out, []byte("KUBE-SERVICES")) {
			left = append(left, "iptables "+table+" KUBE-SERVICES")
		}
	}
	return left
}

// kubectl runs kubectl as the cluster's admin; stderr is in the error.
func kubectl(args ...string) (string, error) {
	cmd := exec.Command(kubectlBin, append([]string{"--kubeconfig", filepath.Join(clusterDir, "admin.kubeconfig")}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func apply(t *testing.T, yaml string) {
	t.Helper()
	cmd := exec.Command(kubectlBin, "--kubeconfig", filepath.Join(clusterDir, "admin.kubeconfig"), "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(yaml)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

func getJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := mustKubectl(t, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("kubectl %v: %v", args, err)
	}
}

// waitFor polls cond every 2 s until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(2 * time.Second)
	}
}

// quantity parses a Kubernetes quantity as metrics-server writes CPU
// (nanocores "123n", "5m", "1") and memory ("1234Ki", "12Mi", bytes).
func quantity(s string) (float64, error) {
	mult := map[string]float64{"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9,
		"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
	for _, suf := range []string{"Ki", "Mi", "Gi", "n", "u", "m", "k", "M", "G"} {
		if strings.HasSuffix(s, suf) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, suf), 64)
			return v * mult[suf], err
		}
	}
	return strconv.ParseFloat(s, 64)
}

// startLoad asks the resource consumer behind a Service for millicores of
// CPU for seconds, through its ClusterIP (kube-proxy's rules). Retried
// while the Service has no ready endpoint yet (kube-proxy rejects).
func startLoad(t *testing.T, service string, millicores, seconds int) {
	t.Helper()
	ip := strings.TrimSpace(mustKubectl(t, "get", "service", service, "-o", "jsonpath={.spec.clusterIP}"))
	url := fmt.Sprintf("http://%s/ConsumeCPU?millicores=%d&durationSec=%d", ip, millicores, seconds)
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		resp, err := http.Post(url, "", nil)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		last = resp.Status
	}
	t.Fatalf("load through %s: not accepted within 60s: %s", ip, last)
}
