//go:build linux

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

type hpaStatus struct {
	Status struct {
		CurrentReplicas int `json:"currentReplicas"`
		DesiredReplicas int `json:"desiredReplicas"`
		CurrentMetrics  []struct {
			Resource struct {
				Current struct {
					AverageUtilization *int `json:"averageUtilization"`
				} `json:"current"`
			} `json:"resource"`
		} `json:"currentMetrics"`
	} `json:"status"`
}

type podList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"metadata"`
		Status struct {
			Phase string `json:"phase"`
			PodIP string `json:"podIP"`
		} `json:"status"`
	} `json:"items"`
}

type podMetricsList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Containers []struct {
			Name  string            `json:"name"`
			Usage map[string]string `json:"usage"`
		} `json:"containers"`
	} `json:"items"`
}

// testHPA: the Horizontal Pod Autoscaler scales a Deployment up under CPU
// load and back down without it, from the figures the kubelet takes from
// wincri (PodAndContainerStatsFromCRI), through metrics-server.
func testHPA(t *testing.T) {
	demo, err := os.ReadFile("../../hack/examples/hpa-demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	apply(t, string(demo))
	t.Cleanup(func() { kubectl("delete", "deployment,service,hpa", "consumer", "--wait=true", "--timeout=120s") })
	mustKubectl(t, "rollout", "status", "deployment/consumer", "--timeout=180s")
	hpa := func() hpaStatus {
		var h hpaStatus
		getJSON(t, &h, "get", "hpa", "consumer")
		return h
	}
	// The HPA has a figure before any load: metrics-server serves the pod.
	waitFor(t, "the HPA's first CPU figure", 120*time.Second, func() bool {
		h := hpa()
		return len(h.Status.CurrentMetrics) > 0 && h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization != nil
	})
	if h := hpa(); h.Status.CurrentReplicas != 1 {
		t.Fatalf("idle: %d replicas, want 1", h.Status.CurrentReplicas)
	}

	// Load: 300 millicores in the one pod, asked through the Service's
	// ClusterIP (kube-proxy's rules), 3 times its 100m request.
	startLoad(t, "consumer", 300, 600)
	loadStart := time.Now()
	var peak int
	up := waitFor(t, "the HPA to scale to 3 replicas under load", 3*time.Minute, func() bool {
		h := hpa()
		if h.Status.DesiredReplicas > peak {
			peak = h.Status.DesiredReplicas
		}
		return h.Status.CurrentReplicas >= 3
	})
	t.Logf("scaled up: %d replicas %s after the load started (peak desired %d)", hpa().Status.CurrentReplicas, up.Round(time.Second), peak)
	mustKubectl(t, "rollout", "status", "deployment/consumer", "--timeout=180s")
	compareFigures(t)

	// Load off: the consume-cpu processes are killed through the API server.
	var pods podList
	getJSON(t, &pods, "get", "pods", "-l", "app=consumer")
	stopped := 0
	for _, p := range pods.Items {
		out, err := kubectl("exec", p.Metadata.Name, "--", "sh", "-c", "pids=$(pidof consume-cpu) || exit 0; kill $pids && echo $pids")
		if err != nil {
			t.Fatalf("stopping the load in %s: %v", p.Metadata.Name, err)
		}
		if strings.TrimSpace(out) != "" {
			stopped++
		}
	}
	if stopped != 1 {
		t.Errorf("the load ran in %d pods, want 1", stopped)
	}
	down := waitFor(t, "the HPA to return to 1 replica without load", 4*time.Minute, func() bool {
		return hpa().Status.CurrentReplicas == 1
	})
	t.Logf("scaled down to 1 replica %s after the load stopped (%s after it started)", down.Round(time.Second), time.Since(loadStart).Round(time.Second))
}

// compareFigures logs metrics-server's CPU and memory of every consumer pod
// next to wincri's own ListPodSandboxStats figures (its CPU as a rate over
// 15 s of its cumulative usage), and fails if a pod is missing from either,
// or a memory figure is zero.
func compareFigures(t *testing.T) {
	running := len(strings.Fields(mustKubectl(t, "get", "pods", "-l", "app=consumer", "--field-selector=status.phase=Running",
		"-o", "jsonpath={.items[*].metadata.name}")))
	var ms podMetricsList
	waitFor(t, "metrics-server to serve every running consumer pod", 90*time.Second, func() bool {
		out, err := kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dconsumer")
		return err == nil && json.Unmarshal([]byte(out), &ms) == nil && len(ms.Items) >= running
	})
	w0 := wincriStats(t)
	time.Sleep(15 * time.Second)
	w1 := wincriStats(t)
	var lines []string
	for _, p := range ms.Items {
		if len(p.Containers) != 1 {
			t.Errorf("metrics-server: pod %s has %d containers", p.Metadata.Name, len(p.Containers))
			continue
		}
		cpu, err1 := quantity(p.Containers[0].Usage["cpu"])
		mem, err2 := quantity(p.Containers[0].Usage["memory"])
		if err1 != nil || err2 != nil {
			t.Errorf("metrics-server: pod %s usage %v", p.Metadata.Name, p.Containers[0].Usage)
			continue
		}
		a, b := w0[p.Metadata.Name], w1[p.Metadata.Name]
		if a == nil || b == nil || b.ts <= a.ts {
			t.Errorf("wincri: no CPU and memory figures for pod %s", p.Metadata.Name)
			continue
		}
		wcpu := float64(b.cpu-a.cpu) / float64(b.ts-a.ts)
		if mem == 0 || b.mem == 0 {
			t.Errorf("pod %s: a zero memory figure (metrics-server %.0f, wincri %d)", p.Metadata.Name, mem, b.mem)
		}
		lines = append(lines, fmt.Sprintf("%-28s metrics-server cpu %4.0fm mem %5.1f MiB | wincri cpu %4.0fm (usageNanoCores %4.0fm) working set %5.1f MiB",
			p.Metadata.Name, cpu*1e3, mem/(1<<20), wcpu*1e3, float64(b.nanoCores)/1e6, float64(b.mem)/(1<<20)))
	}
	t.Logf("figures under load (metrics-server's are the kubelet's from wincri's CRI stats, its own window; wincri's over the next 15 s):\n%s", strings.Join(lines, "\n"))
}

type sample struct {
	ts, cpu, nanoCores int64
	mem                uint64
}

// wincriStats is wincri's ListPodSandboxStats for the consumer pods, by pod name.
func wincriStats(t *testing.T) map[string]*sample {
	conn, err := testutil.DialCRI("/run/wincri-cluster/wincri.sock", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := runtimeapi.NewRuntimeServiceClient(conn).ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{
		Filter: &runtimeapi.PodSandboxStatsFilter{LabelSelector: map[string]string{"app": "consumer"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*sample{}
	for _, s := range st.Stats {
		l := s.GetLinux()
		if l.GetCpu().GetUsageCoreNanoSeconds() == nil || l.GetCpu().GetUsageNanoCores() == nil || l.GetMemory().GetWorkingSetBytes() == nil {
			continue
		}
		m[s.Attributes.Metadata.Name] = &sample{ts: l.Cpu.Timestamp, cpu: int64(l.Cpu.UsageCoreNanoSeconds.Value),
			nanoCores: int64(l.Cpu.UsageNanoCores.Value), mem: l.Memory.WorkingSetBytes.Value}
	}
	return m
}
