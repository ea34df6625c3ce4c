//go:build linux

package cluster

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCluster runs the checks in order on one cluster: the drain comes last,
// it evicts everything.
func TestCluster(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"hpa", testHPA},
		{"top-vs-cadvisor", testTopVsCAdvisor},
		{"rollout", testRollout},
		{"streaming", testStreaming},
		{"kill-9", testKill9},
		{"drain", testDrain},
	} {
		if !t.Run(c.name, c.f) && c.name == "rollout" {
			return // the later checks use its pods
		}
	}
}

const webYAML = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 20
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxSurge: 5, maxUnavailable: 5}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.66.1
        args: [netexec, --http-port=8080]
        env: [{name: GENERATION, value: one}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 2}
        resources: {requests: {cpu: 10m, memory: 16Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

type deployment struct {
	Status struct {
		Replicas          int `json:"replicas"`
		UpdatedReplicas   int `json:"updatedReplicas"`
		AvailableReplicas int `json:"availableReplicas"`
	} `json:"status"`
}

// generation is the GENERATION env of every running web pod, by value.
func generations(t *testing.T) map[string]int {
	out := mustKubectl(t, "get", "pods", "-l", "app=web", "--field-selector=status.phase=Running",
		"-o", `jsonpath={range .items[*]}{.spec.containers[0].env[0].value}{"\n"}{end}`)
	n := map[string]int{}
	for _, g := range strings.Fields(out) {
		n[g]++
	}
	return n
}

// testRollout: 20 replicas roll out, are updated and rolled back, and a
// ClusterIP Service reaches them through kube-proxy.
func testRollout(t *testing.T) {
	apply(t, webYAML)
	rollout := func(what, want string) {
		start := time.Now()
		mustKubectl(t, "rollout", "status", "deployment/web", "--timeout=300s")
		var d deployment
		getJSON(t, &d, "get", "deployment", "web")
		if d.Status.AvailableReplicas != 20 || d.Status.UpdatedReplicas != 20 {
			t.Fatalf("%s: %d available, %d updated, want 20", what, d.Status.AvailableReplicas, d.Status.UpdatedReplicas)
		}
		waitFor(t, what+": only generation "+want+" running", 60*time.Second, func() bool {
			g := generations(t)
			return len(g) == 1 && g[want] == 20
		})
		t.Logf("%s: 20 of 20 available in %s", what, time.Since(start).Round(time.Second))
	}
	rollout("rollout", "one")
	mustKubectl(t, "set", "env", "deployment/web", "GENERATION=two")
	rollout("update", "two")
	mustKubectl(t, "rollout", "undo", "deployment/web")
	rollout("rollback", "one")

	// The Service: from this host, through kube-proxy's rules for its
	// ClusterIP, every answer from a web pod and more than one pod answering.
	ip := strings.TrimSpace(mustKubectl(t, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"))
	pods := map[string]bool{}
	for _, n := range strings.Fields(mustKubectl(t, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}")) {
		pods[n] = false
	}
	// A new connection each time: kube-proxy picks a backend per connection.
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 40; i++ {
		resp, err := c.Get("http://" + ip + "/hostname")
		if err != nil {
			t.Fatalf("GET http://%s/hostname: %v", ip, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		name := strings.TrimSpace(string(b))
		if _, ok := pods[name]; !ok {
			t.Fatalf("the Service answered %q, not a web pod", name)
		}
		pods[name] = true
	}
	answered := 0
	for _, ok := range pods {
		if ok {
			answered++
		}
	}
	if answered < 2 {
		t.Errorf("40 requests to the ClusterIP reached %d pod(s)", answered)
	}
	t.Logf("ClusterIP %s: 40 requests answered by %d of 20 pods", ip, answered)
}

const talkerYAML = `
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: ticker
    image: registry.k8s.io/e2e-test-images/busybox:1.37.0-2
    command: [sh, -c, 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done']
  - name: echo
    image: registry.k8s.io/e2e-test-images/busybox:1.37.0-2
    command: [sh, -c, 'while read l; do echo "got $l"; done']
    stdin: true
`

// testStreaming: logs -f, exec (with a terminal), port-forward and attach,
// each through the API server to the kubelet to wincri.
func testStreaming(t *testing.T) {
	apply(t, talkerYAML)
	t.Cleanup(func() { kubectl("delete", "pod", "talker", "--wait=true", "--timeout=60s") })
	mustKubectl(t, "wait", "--for=condition=Ready", "pod/talker", "--timeout=120s")
	kc := filepath.Join(clusterDir, "admin.kubeconfig")

	t.Run("logs-f", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectlBin, "--kubeconfig", kc, "logs", "-f", "talker", "-c", "ticker")
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); cmd.Wait() }()
		// Lines written after the follow started arrive as they are written.
		sc := bufio.NewScanner(out)
		var last int
		for n := 0; n < 5 && sc.Scan(); n++ {
			f := strings.Fields(sc.Text())
			if len(f) != 2 || f[0] != "tick" {
				t.Fatalf("logs -f: %q", sc.Text())
			}
			i, _ := strconv.Atoi(f[1])
			if last != 0 && i != last+1 {
				t.Fatalf("logs -f: tick %d after %d", i, last)
			}
			last = i
		}
		if last == 0 {
			t.Fatalf("logs -f: nothing within 30s: %v", sc.Err())
		}
	})

	t.Run("exec-it", func(t *testing.T) {
		// A terminal for kubectl (script gives it one): the container's
		// shell sees a tty and its size.
		out, err := exec.Command("script", "-qec", kubectlBin+" --kubeconfig "+kc+
			" exec -it talker -c ticker -- sh -c 'tty; stty size'", "/dev/null").CombinedOutput()
		if err != nil {
			t.Fatalf("exec -it: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "/dev/pts/") {
			t.Fatalf("exec -it: no terminal in the container: %q", out)
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		pod := strings.Fields(mustKubectl(t, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"))[0]
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectlBin, "--kubeconfig", kc, "port-forward", "pod/"+pod, "18080:8080")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); cmd.Wait() }()
		var got string
		waitFor(t, "port-forward to answer", 30*time.Second, func() bool {
			resp, err := http.Get("http://127.0.0.1:18080/hostname")
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got = strings.TrimSpace(string(b))
			return true
		})
		if got != pod {
			t.Fatalf("port-forward to %s: answered %q", pod, got)
		}
	})

	t.Run("attach", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectlBin, "--kubeconfig", kc, "attach", "-i", "talker", "-c", "echo")
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); cmd.Wait() }()
		sc := bufio.NewScanner(out)
		done := make(chan string, 1)
		go func() {
			for sc.Scan() {
				if strings.Contains(sc.Text(), "got hello-through-attach") {
					done <- sc.Text()
					return
				}
			}
			close(done)
		}()
		// Written until the echo comes back: attach's stdin is connected
		// some time after kubectl started.
		for {
			io.WriteString(in, "hello-through-attach\n")
			select {
			case l, ok := <-done:
				if !ok {
					t.Fatal("attach: its output ended without the echo")
				}
				t.Logf("attach: %q", l)
				return
			case <-time.After(time.Second):
			case <-ctx.Done():
				t.Fatal("attach: no echo within 30s")
			}
		}
	})
}

type podStatus struct {
	Items []struct {
		Metadata struct {
			Name              string  `json:"name"`
			DeletionTimestamp *string `json:"deletionTimestamp"`
		} `json:"metadata"`
		Status struct {
			Phase             string `json:"phase"`
			ContainerStatuses []struct {
				RestartCount int    `json:"restartCount"`
				ContainerID  string `json:"containerID"`
				Ready        bool   `json:"ready"`
			} `json:"containerStatuses"`
		} `json:"status"`
	} `json:"items"`
}

// testKill9: wincri killed with SIGKILL under the running cluster and
// started again changes no pod: same containers, no restarts, all ready.
func testKill9(t *testing.T) {
	snapshot := func() map[string]string {
		var ps podStatus
		getJSON(t, &ps, "get", "pods", "-A")
		m := map[string]string{}
		for _, p := range ps.Items {
			if p.Metadata.DeletionTimestamp != nil {
				t.Fatalf("pod %s is being deleted: the snapshot needs pods that stay", p.Metadata.Name)
			}
			for _, c := range p.Status.ContainerStatuses {
				m[p.Metadata.Name+"/"+c.ContainerID] = strconv.Itoa(c.RestartCount) + " ready=" + strconv.FormatBool(c.Ready)
			}
		}
		return m
	}
	before := snapshot()
	if len(before) < 20 {
		t.Fatalf("%d containers before the kill, want the web Deployment's 20 at least", len(before))
	}
	b, err := os.ReadFile(filepath.Join(clusterDir, "pids", "wincri.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 wincri (%d): %v", pid, err)
	}
	time.Sleep(3 * time.Second)
	if out, err := script("start-wincri"); err != nil {
		t.Fatalf("hack/cluster.sh start-wincri: %v\n%s", err, out)
	}
	// Long enough for the kubelet's relist and a few status syncs.
	time.Sleep(45 * time.Second)
	mustKubectl(t, "wait", "--for=condition=Ready", "node", "--all", "--timeout=60s")
	after := snapshot()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %s before the kill, %q after", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: a container that was not there before the kill", k)
		}
	}
	t.Logf("kill -9 of wincri: %d containers, the same IDs, restart counts and readiness after", len(after))
}

// testDrain: kubectl drain evicts every pod of the node and wincri removes
// them: no sandbox, container or shim left.
func testDrain(t *testing.T) {
	node := strings.TrimSpace(mustKubectl(t, "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"))
	mustKubectl(t, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=300s")
	t.Cleanup(func() { kubectl("uncordon", node) })
	waitFor(t, "the node's pods to be gone from the API", 120*time.Second, func() bool {
		out, err := kubectl("get", "pods", "-A", "--field-selector=spec.nodeName="+node, "-o", "name")
		return err == nil && strings.TrimSpace(out) == ""
	})
	sock := "unix:///run/wincri-cluster/wincri.sock"
	waitFor(t, "wincri to hold no pod or container", 180*time.Second, func() bool {
		p, _ := exec.Command("crictl", "--runtime-endpoint", sock, "pods", "-q").Output()
		c, _ := exec.Command("crictl", "--runtime-endpoint", sock, "ps", "-aq").Output()
		return len(strings.TrimSpace(string(p))) == 0 && len(strings.TrimSpace(string(c))) == 0
	})
	// No pod's shim is left; a spare shim (started ahead for the next pod,
	// working under the state's spares/) holds no pod.
	waitFor(t, "no pod's shim left", 30*time.Second, func() bool {
		out, _ := exec.Command("pgrep", "-f", "containerd-shim-runc-v2 .*-address /run/wincri-cluster/wincri.sock").Output()
		for _, pid := range strings.Fields(string(out)) {
			cwd, _ := os.Readlink("/proc/" + pid + "/cwd")
			if !strings.HasPrefix(cwd, "/run/wincri-cluster/spares/") {
				t.Logf("shim %s in %s", pid, cwd)
				return false
			}
		}
		return true
	})
}
