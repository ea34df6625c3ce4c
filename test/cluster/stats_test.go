//go:build linux

package cluster

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const burnerYAML = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: burner}
spec:
  replicas: 1
  selector: {matchLabels: {app: burner}}
  template:
    metadata: {labels: {app: burner}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: burner
        image: registry.k8s.io/e2e-test-images/resource-consumer:1.14
        resources: {requests: {cpu: 100m}, limits: {cpu: "1"}}
---
apiVersion: v1
kind: Service
metadata: {name: burner}
spec:
  selector: {app: burner}
  ports: [{port: 80, targetPort: 8080}]
`

// usage is a mean CPU (cores) and memory (bytes) over a time.
type usage struct{ cpu, mem float64 }

// topSamples reads metrics-server's figure for pod every 5 s for d and
// returns the mean of its distinct samples (metrics-server scrapes every
// 15 s) and how many there were.
func topSamples(t *testing.T, pod string, d time.Duration) (usage, int) {
	var sum usage
	seen := map[string]bool{}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Second) {
		out, err := kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/"+pod)
		if err != nil {
			continue
		}
		var m struct {
			Timestamp  string `json:"timestamp"`
			Containers []struct {
				Usage map[string]string `json:"usage"`
			} `json:"containers"`
		}
		if json.Unmarshal([]byte(out), &m) != nil || len(m.Containers) != 1 || seen[m.Timestamp] {
			continue
		}
		seen[m.Timestamp] = true
		cpu, err1 := quantity(m.Containers[0].Usage["cpu"])
		mem, err2 := quantity(m.Containers[0].Usage["memory"])
		if err1 != nil || err2 != nil {
			t.Fatalf("metrics-server: %s: %v", pod, m.Containers[0].Usage)
		}
		sum.cpu += cpu
		sum.mem += mem
	}
	n := len(seen)
	if n == 0 {
		t.Fatalf("metrics-server: no figure for %s in %s", pod, d)
	}
	return usage{sum.cpu / float64(n), sum.mem / float64(n)}, n
}

// cadvisorSeries reads the kubelet's /metrics/cadvisor (cAdvisor's own
// figures, from the cgroups) and returns the container cgroup's cumulative
// CPU seconds, when cAdvisor read them (its timestamp, in seconds), and its
// working set, found by the container ID its cgroup ends in.
func cadvisorSeries(containerID string) (cpu, at, mem float64, err error) {
	pki := filepath.Join(clusterDir, "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "admin.crt"), filepath.Join(pki, "admin.key"))
	if err != nil {
		return 0, 0, 0, err
	}
	ip, err := os.ReadFile(filepath.Join(clusterDir, "node-ip"))
	if err != nil {
		return 0, 0, 0, err
	}
	c := http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}}} // the kubelet's self-signed serving certificate
	resp, err := c.Get("https://" + strings.TrimSpace(string(ip)) + ":11250/metrics/cadvisor")
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	cpu, mem = -1, -1
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	suffix := []byte("/" + containerID + `"`)
	for sc.Scan() {
		line := sc.Bytes()
		i := bytes.Index(line, []byte(`id="`))
		if i < 0 || !bytes.Contains(line[i:], suffix) {
			continue
		}
		f := strings.Fields(string(line[bytes.LastIndexByte(line, '}')+1:]))
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch {
		case bytes.HasPrefix(line, []byte("container_cpu_usage_seconds_total{")):
			if len(f) < 2 {
				return 0, 0, 0, fmt.Errorf("cAdvisor's CPU series has no timestamp: %s", line)
			}
			ms, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("cAdvisor's CPU series: %s: %v", line, err)
			}
			cpu, at = v, ms/1e3
		case bytes.HasPrefix(line, []byte("container_memory_working_set_bytes{")):
			mem = v
		}
	}
	if cpu < 0 || mem < 0 {
		return 0, 0, 0, fmt.Errorf("cAdvisor has no CPU and working set for the container cgroup ending in %s", containerID)
	}
	return cpu, at, mem, nil
}

func within(a, b, frac float64) bool { return math.Abs(a-b) <= frac*math.Max(a, b) }

// testTopVsCAdvisor: under a steady CPU load, what kubectl top shows with
// the kubelet's figures from wincri (PodAndContainerStatsFromCRI) agrees
// within 20 % with cAdvisor's own figures for the same container, read with
// the feature gate off (cAdvisor then tracks containers).
func testTopVsCAdvisor(t *testing.T) {
	apply(t, burnerYAML)
	t.Cleanup(func() { kubectl("delete", "deployment,service", "burner", "--wait=true", "--timeout=120s") })
	mustKubectl(t, "rollout", "status", "deployment/burner", "--timeout=180s")
	pod := strings.TrimSpace(mustKubectl(t, "get", "pods", "-l", "app=burner", "-o", "jsonpath={.items[0].metadata.name}"))
	cid := strings.TrimPrefix(strings.TrimSpace(mustKubectl(t, "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].containerID}")), "wincri://")
	startLoad(t, "burner", 250, 900)
	time.Sleep(30 * time.Second) // consume-cpu settles on its target

	fromCRI, n1 := topSamples(t, pod, 75*time.Second)
	t.Logf("kubectl top with the kubelet's figures from wincri: cpu %.0fm, memory %.1f MiB (%d samples)", fromCRI.cpu*1e3, fromCRI.mem/(1<<20), n1)

	// The kubelet again without the feature gate, and back with it after.
	restart := func(flags string) {
		t.Helper()
		os.Setenv("CLUSTER_KUBELET_FLAGS", flags)
		if out, err := script("restart-kubelet"); err != nil {
			t.Fatalf("hack/cluster.sh restart-kubelet: %v\n%s", err, out)
		}
	}
	gated := os.Getenv("CLUSTER_KUBELET_FLAGS")
	restart(" ")
	t.Cleanup(func() { restart(gated) })
	// cAdvisor needs a few housekeeping rounds before it has a rate.
	var c0, t0 float64
	var err error
	waitFor(t, "cAdvisor's figures for the container", 90*time.Second, func() bool {
		c0, t0, _, err = cadvisorSeries(cid)
		return err == nil
	})
	top, n2 := topSamples(t, pod, 75*time.Second)
	c1, t1, mem, err := cadvisorSeries(cid)
	if err != nil {
		t.Fatal(err)
	}
	if t1 <= t0 {
		t.Fatalf("cAdvisor's CPU series did not advance in 75s (read at %.0f and %.0f)", t0, t1)
	}
	cad := usage{(c1 - c0) / (t1 - t0), mem}
	t.Logf("cAdvisor (feature gate off), container cgroup: cpu %.0fm over %.0fs, working set %.1f MiB", cad.cpu*1e3, t1-t0, cad.mem/(1<<20))
	t.Logf("kubectl top in the same time: cpu %.0fm, memory %.1f MiB (%d samples)", top.cpu*1e3, top.mem/(1<<20), n2)
	if !within(fromCRI.cpu, cad.cpu, 0.2) || !within(fromCRI.mem, cad.mem, 0.2) {
		t.Errorf("kubectl top from wincri's figures (cpu %.0fm, %.1f MiB) and cAdvisor's (cpu %.0fm, %.1f MiB) differ by more than 20 %%",
			fromCRI.cpu*1e3, fromCRI.mem/(1<<20), cad.cpu*1e3, cad.mem/(1<<20))
	}
	if !within(top.cpu, cad.cpu, 0.2) || !within(top.mem, cad.mem, 0.2) {
		t.Errorf("kubectl top (cpu %.0fm, %.1f MiB) and cAdvisor (cpu %.0fm, %.1f MiB) in the same time differ by more than 20 %%",
			top.cpu*1e3, top.mem/(1<<20), cad.cpu*1e3, cad.mem/(1<<20))
	}
}
