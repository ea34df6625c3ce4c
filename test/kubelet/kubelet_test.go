//go:build linux

package kubelet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/kubeletapi"
	"github.com/wincri/wincri/test/testutil"
)

var daemonBin, testProcBin, kubeletBin string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("skipping the kubelet test: it runs pods and needs root")
		os.Exit(0)
	}
	dir, daemon, testproc, err := testutil.BuildTestBinaries()
	daemonBin, testProcBin = daemon, testproc
	if err == nil {
		// hack/build-kubelet.sh builds an unmodified kubelet once and caches it.
		var out []byte
		cmd := exec.Command("../../hack/build-kubelet.sh")
		cmd.Stderr = os.Stderr
		out, err = cmd.Output()
		kubeletBin = strings.TrimSpace(string(out))
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	procImage  = "registry.k8s.io/wincri-test/proc:1"
	pauseImage = "registry.k8s.io/wincri-test/pause:1"
	bridge     = "wincri-k0"
)

// web is a pod as most are: no shared PID namespace (wincri runs it without
// a pause process), an HTTP readiness probe on the pod IP, an exec liveness
// probe, a Guaranteed container and a BestEffort-style one logging.
const webPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
  - name: web
    image: ` + procImage + `
    command: ["/testproc", "serve", "8080"]
    resources: {limits: {cpu: 200m, memory: 64Mi}}
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
    livenessProbe: {exec: {command: ["/testproc", "echo", "alive"]}, periodSeconds: 2}
  - name: ticker
    image: ` + procImage + `
    command: ["/testproc", "tick"]
    resources: {requests: {cpu: 10m, memory: 16Mi}}
`

// busy shares one PID namespace (a pause process) and burns a CPU quota, so
// its usageNanoCores is far from zero.
const busyPod = `apiVersion: v1
kind: Pod
metadata: {name: busy, namespace: default}
spec:
  shareProcessNamespace: true
  containers:
  - name: spin
    image: ` + procImage + `
    command: ["/testproc", "spin"]
    resources: {requests: {cpu: 50m}, limits: {cpu: 100m, memory: 32Mi}}
`

// TestKubeletStandalone drives wincri with an unmodified kubelet as a node
// would: static pods to Running and Ready, probes, logs, exec, CRI stats in
// /stats/summary, a kill -9 of wincri under it, and the kubelet's removal
// and garbage collection leaving nothing behind.
func TestKubeletStandalone(t *testing.T) {
	if os.Getenv("WINCRI_SKIP_KUBELET") == "1" {
		t.Skip("WINCRI_SKIP_KUBELET=1")
	}
	for _, b := range []string{"containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s not in PATH (make deps installs it)", b)
		}
	}
	// Registered first, so it runs last: after the kubelet and wincri ended.
	cgroupRoot := fmt.Sprintf("/wincri-kubelet-%d", os.Getpid())
	t.Cleanup(func() {
		if pids := testutil.KillCgroupTree(cgroupRoot); len(pids) > 0 {
			t.Errorf("processes left in the kubelet's cgroups (killed): %v", pids)
			time.Sleep(time.Second)
		}
		if left := testutil.RemoveCgroupTree(cgroupRoot); len(left) > 0 {
			t.Errorf("cgroups that could not be removed: %v", left)
		}
	})
	reg := testutil.NewRegistry(t)
	testutil.PushTestImages(t, reg, testProcBin)
	d := testutil.NewDaemon(t, daemonBin, testutil.Options{
		Hosts:        map[string]string{"registry.k8s.io": testutil.Mirror(reg.Host)},
		CNI:          testutil.BridgeCNI(bridge, "10.94.0.0/16"),
		SandboxImage: pauseImage,
	})
	d.Start(t)
	t.Cleanup(func() { exec.Command("ip", "link", "delete", bridge).Run() })

	k := startKubelet(t, kubeletBin, d.Socket, cgroupRoot)
	k.addManifest("web", webPod)
	k.addManifest("busy", busyPod)
	web, busy := "web-"+nodeName, "busy-"+nodeName
	pods := k.WaitReady(180*time.Second, web, busy)

	t.Run("logs", func(t *testing.T) {
		k.WaitFor("ticker output through /containerLogs", 30*time.Second, func() bool {
			b, err := k.Get("/containerLogs/default/" + web + "/ticker")
			return err == nil && strings.Contains(string(b), "tick 5\n")
		})
		// The readiness probe's requests reached the web container and its log.
		b, err := k.Get("/containerLogs/default/" + web + "/web")
		if err != nil || !strings.Contains(string(b), "GET /healthz") {
			t.Errorf("web log has no probe request: %q %v", b, err)
		}
		// The CRI log file is where the kubelet asked: podLogsDir/ns_name_uid/container/0.log.
		logDir := filepath.Join(k.dir, "pod-logs", "default_"+web+"_"+pods[web].Metadata.UID, "ticker")
		f, err := os.ReadFile(filepath.Join(logDir, "0.log"))
		if err != nil || !regexp.MustCompile(`(?m)^\S+ stdout F tick \d+$`).Match(f) {
			t.Errorf("CRI log file in %s: %v %q", logDir, err, head(f))
		}
	})

	t.Run("exec", func(t *testing.T) {
		b, err := k.Post("/run/default/" + web + "/web?cmd=/testproc+echo+through+the+kubelet")
		// /run answers stdout and stderr together; testproc echo writes "err" to stderr.
		if err != nil || !strings.HasPrefix(string(b), "through the kubelet\n") {
			t.Errorf("exec through the kubelet's /run: %q %v", b, err)
		}
	})

	t.Run("stats", func(t *testing.T) {
		var s kubeletapi.Summary
		k.WaitFor("CPU and memory of both pods in /stats/summary", 60*time.Second, func() bool {
			s = kubeletapi.Summary{}
			if err := k.GetJSON("/stats/summary", &s); err != nil {
				return false
			}
			return kubeletapi.StatsComplete(s, web, 2) && kubeletapi.StatsComplete(s, busy, 1)
		})
		// The busy pod burns its 100m quota: its CPU rate shows it once two
		// samples were taken.
		k.WaitFor("the busy pod's usageNanoCores", 30*time.Second, func() bool {
			s = kubeletapi.Summary{}
			if k.GetJSON("/stats/summary", &s) != nil {
				return false
			}
			for _, p := range s.Pods {
				if p.PodRef.Name == busy {
					return kubeletapi.Val(p.CPU.UsageNanoCores) > 20_000_000 && kubeletapi.Val(p.Containers[0].CPU.UsageNanoCores) > 20_000_000
				}
			}
			return false
		})
		if kubeletapi.Val(s.Node.Runtime.ImageFs.UsedBytes) == 0 {
			t.Error("no image fs usage")
		}
	})

	t.Run("kill -9 of wincri", func(t *testing.T) {
		before := k.Pods()
		d.Kill(t)
		time.Sleep(3 * time.Second) // the kubelet's relists fail meanwhile
		d.Start(t)
		// Several kubelet syncs (syncFrequency 5s, PLEG relist 1s) later,
		// nothing was restarted or recreated.
		time.Sleep(12 * time.Second)
		after := k.WaitReady(180*time.Second, web, busy)
		for name, p := range before {
			for i, c := range p.Status.ContainerStatuses {
				a := after[name].Status.ContainerStatuses[i]
				if a.ContainerID != c.ContainerID || a.RestartCount != 0 {
					t.Errorf("%s/%s: %s restarts %d after the restart, was %s", name, c.Name, a.ContainerID, a.RestartCount, c.ContainerID)
				}
			}
		}
	})

	t.Run("removal and garbage collection", func(t *testing.T) {
		k.removeManifest("web")
		k.removeManifest("busy")
		// The kubelet stops the pods at once; its container GC (every minute)
		// removes the containers and sandboxes.
		k.WaitFor("the kubelet to remove every pod and container", 150*time.Second, func() bool {
			ps, err := d.Runtime.ListPodSandbox(testutil.Ctx(t), &runtimeapi.ListPodSandboxRequest{})
			cs, err2 := d.Runtime.ListContainers(testutil.Ctx(t), &runtimeapi.ListContainersRequest{})
			return err == nil && err2 == nil && len(ps.Items) == 0 && len(cs.Containers) == 0
		})
		k.stop()
		assertNothingLeft(t, d, k)
	})
}

// assertNothingLeft: after the kubelet removed everything, no shim, mount,
// network namespace, IP reservation, bundle or container cgroup remains.
func assertNothingLeft(t *testing.T, d *testutil.Daemon, k *kubelet) {
	t.Helper()
	if left := d.WaitNoShimsLeft(); len(left) > 0 {
		t.Errorf("shims left (%d spares allowed): %v", d.AllowedSpares(), left)
	}
	if m := d.Mounts(); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	for _, dir := range []string{"s/netns", "s/bundles", "s/io", "root/pods"} {
		if e, _ := os.ReadDir(filepath.Join(d.Dir, dir)); len(e) > 0 {
			t.Errorf("%s not empty: %d entries", dir, len(e))
		}
	}
	if ips, _ := filepath.Glob(filepath.Join(d.Dir, "ipam", "wincri-test", "10.*")); len(ips) > 0 {
		t.Errorf("CNI IP reservations left: %v", ips)
	}
	// Container cgroups are named by their 64-hex id, below the kubelet's pod cgroups.
	id := regexp.MustCompile(`/[0-9a-f]{64}$`)
	filepath.Walk(memoryCgroupRoot()+k.cgroupRoot, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() && id.MatchString(p) {
			t.Errorf("container cgroup left: %s", p)
		}
		return nil
	})
}

func head(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}

// memoryCgroupRoot is the memory hierarchy: v1's own, or the unified one.
func memoryCgroupRoot() string {
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
		return "/sys/fs/cgroup/memory"
	}
	return "/sys/fs/cgroup"
}
