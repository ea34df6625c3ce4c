package windowse2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/kubeletapi"
)

// TestWindowsKubelet runs an unmodified kubelet.exe under Wine against
// wincri.exe over its named pipe, with the emulated Windows host (HCS, HCN,
// and for the kubelet its performance counters and an AF_UNIX socket
// layer, docs/windows.md): static pods to Running and Ready, probes,
// restarts, the kubelet's logs, exec, stats and metrics endpoints, a kill
// -9 of wincri.exe under it, crictl.exe beside it, and the kubelet's
// removal of every pod leaving nothing in HCS, HCN or the layers.
func TestWindowsKubelet(t *testing.T) {
	e := newEnv(t)
	marker := e.dir + `\duo-liveness-failed-once`
	k := startWinKubelet(t, e)
	k.addManifest("solo", soloPod(e.image))
	k.addManifest("duo", duoPod(e.image, marker))
	k.addManifest("quitter", quitterPod(e.image))
	solo, duo, quitter := "solo-"+winNode, "duo-"+winNode, "quitter-"+winNode

	pods := k.WaitReady(5*time.Minute, solo)
	// duo's ticker fails its liveness probe once: the kubelet restarts it,
	// and then it stays up and ready.
	k.WaitFor("duo Ready with its ticker restarted once by its liveness probe", 3*time.Minute, func() bool {
		pods = k.Pods()
		p := pods[duo]
		return p.Ready() && restarts(p, "ticker") == 1 && restarts(p, "burner") == 0
	})
	t.Logf("kubelet.exe start to solo and duo Ready (duo's ticker restarted once): %v", time.Since(k.started).Round(time.Second))
	k.WaitFor("quitter's container restarted by its restart policy after exiting 3", 3*time.Minute, func() bool {
		for _, c := range k.Pods()[quitter].Status.ContainerStatuses {
			if c.RestartCount >= 1 && c.LastState.Terminated != nil && c.LastState.Terminated.ExitCode == 3 {
				return true
			}
		}
		return false
	})

	t.Run("logs", func(t *testing.T) {
		k.In(t).WaitFor("solo's output through /containerLogs", 60*time.Second, func() bool {
			b, err := k.Get("/containerLogs/default/" + solo + "/app")
			return err == nil && strings.Contains(string(b), "solo 5\n")
		})
	})

	t.Run("exec", func(t *testing.T) {
		b, err := k.Post("/run/default/" + solo + `/app?cmd=C:\winproc.exe+env+WINCRI_KUBELET_RUN`)
		if err != nil || !strings.Contains(string(b), "WINCRI_KUBELET_RUN=\n") || !strings.Contains(string(b), "cwd=") {
			t.Errorf("exec through the kubelet's /run: %q %v", b, err)
		}
	})

	// Without PodAndContainerStatsFromCRI (the default) the kubelet reads
	// ListContainerStats and sums the pod; with it, ListPodSandboxStats.
	t.Run("stats", func(t *testing.T) { checkKubeletStats(t, k, solo, duo) })
	t.Run("stats from pod stats", func(t *testing.T) {
		before := k.Pods()
		k.restart("{PodAndContainerStatsFromCRI: true}")
		checkKubeletStats(t, k, solo, duo)
		// readiness starts over with the kubelet: ready again at the next probes
		var after map[string]kubeletapi.Pod
		k.In(t).WaitFor("solo and duo Ready after the kubelet's restart", time.Minute, func() bool {
			after = k.Pods()
			return after[solo].Ready() && after[duo].Ready()
		})
		sameContainers(t, "a kubelet restart", before, after, solo, duo)
	})

	t.Run("crictl", func(t *testing.T) { crictlChecks(t, e, solo) })

	t.Run("kill -9 of wincri.exe", func(t *testing.T) {
		before := k.In(t).WaitReady(time.Minute, solo)
		before[duo] = k.Pods()[duo]
		e.daemon.Process.Kill()
		<-e.exited
		e.daemon = nil
		time.Sleep(3 * time.Second) // the kubelet's relists fail meanwhile
		e.startDaemon()
		// Several kubelet syncs (syncFrequency 5s, PLEG relist 1s) later,
		// nothing was restarted or recreated, and the probes pass.
		time.Sleep(15 * time.Second)
		after := k.Pods()
		sameContainers(t, "wincri.exe's restart", before, after, solo, duo)
	})

	t.Run("removal", func(t *testing.T) {
		for _, m := range []string{"solo", "duo", "quitter"} {
			k.removeManifest(m)
		}
		// The kubelet stops the pods at once; its container GC (every
		// minute) removes the containers and sandboxes.
		k.In(t).WaitFor("the kubelet to remove every pod and container", 4*time.Minute, func() bool {
			ps, err := e.rt.ListPodSandbox(ctx(t), &runtimeapi.ListPodSandboxRequest{})
			cs, err2 := e.rt.ListContainers(ctx(t), &runtimeapi.ListContainersRequest{})
			return err == nil && err2 == nil && len(ps.Items) == 0 && len(cs.Containers) == 0
		})
		e.waitEmpty(t)
	})
	k.stop()
	crictlLifecycle(t, e)
	e.waitEmpty(t)
	for _, p := range k.problems() {
		t.Logf("kubelet.exe said: %s", p)
	}
}

func restarts(p kubeletapi.Pod, container string) int {
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == container {
			return c.RestartCount
		}
	}
	return -1
}

// checkKubeletStats: /stats/summary has CPU (usageNanoCores too) and
// memory for both pods and each container, the burning container's rate
// shows it, and /metrics/resource has both series for every container.
func checkKubeletStats(t *testing.T, k *winKubelet, solo, duo string) {
	var s kubeletapi.Summary
	k.In(t).WaitFor("CPU and memory of solo and duo in /stats/summary", 2*time.Minute, func() bool {
		s = kubeletapi.Summary{}
		return k.GetJSON("/stats/summary", &s) == nil && kubeletapi.StatsComplete(s, solo, 1) && kubeletapi.StatsComplete(s, duo, 2)
	})
	// The burner spins a CPU: its rate and its pod's show it.
	var seen string
	defer func() { t.Logf("duo's last CPU figures in /stats/summary: %s", seen) }()
	k.In(t).WaitFor("duo's burner usageNanoCores above 300m", 2*time.Minute, func() bool {
		s = kubeletapi.Summary{}
		if k.GetJSON("/stats/summary", &s) != nil {
			return false
		}
		for _, p := range s.Pods {
			if p.PodRef.Name != duo {
				continue
			}
			seen = fmt.Sprintf("pod %d", kubeletapi.Val(p.CPU.UsageNanoCores))
			burner := uint64(0)
			for _, c := range p.Containers {
				seen += fmt.Sprintf(", %s %d (%d ns)", c.Name, kubeletapi.Val(c.CPU.UsageNanoCores), kubeletapi.Val(c.CPU.UsageCoreNanoSeconds))
				if c.Name == "burner" {
					burner = kubeletapi.Val(c.CPU.UsageNanoCores)
				}
			}
			return burner > 300_000_000 && kubeletapi.Val(p.CPU.UsageNanoCores) >= burner
		}
		return false
	})
	// What metrics-server scrapes: every container's CPU and working set.
	b, err := k.Get("/metrics/resource")
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range [][2]string{{solo, "app"}, {duo, "ticker"}, {duo, "burner"}} {
		for _, m := range []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes"} {
			series := m + `{container="` + pc[1] + `",namespace="default",pod="` + pc[0] + `"} `
			if !strings.Contains(string(b), series) {
				t.Errorf("/metrics/resource has no %s", series)
			}
		}
	}
}

// sameContainers: after what happened, the pods are ready with the same
// containers and restart counts as before.
func sameContainers(t *testing.T, what string, before, after map[string]kubeletapi.Pod, names ...string) {
	t.Helper()
	for _, name := range names {
		if !after[name].Ready() {
			t.Errorf("%s not ready after %s: %+v", name, what, after[name].Status)
		}
		for i, c := range before[name].Status.ContainerStatuses {
			if i >= len(after[name].Status.ContainerStatuses) {
				t.Errorf("%s/%s gone after %s", name, c.Name, what)
				continue
			}
			a := after[name].Status.ContainerStatuses[i]
			if a.ContainerID != c.ContainerID || a.RestartCount != c.RestartCount {
				t.Errorf("%s/%s: %s restarts %d after %s, was %s restarts %d", name, c.Name, a.ContainerID, a.RestartCount, what, c.ContainerID, c.RestartCount)
			}
		}
	}
}
