//go:build linux

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

const (
	pauseImage = "registry.k8s.io/wincri-test/pause:1"
	procImage  = "registry.k8s.io/wincri-test/proc:1"
	testBridge = "wcri-it0"
)

// podEnv is a daemon with CNI, a pause image and a workload image.
type podEnv struct {
	t   testing.TB
	d   *testutil.Daemon
	reg *testutil.Registry
	// cgroupParent holds the cgroups of this daemon's containers only.
	cgroupParent string
}

var envCount atomic.Int32

func newPodEnv(t testing.TB, env ...string) *podEnv {
	return newPodEnvWith(t, "", env...)
}

// newPodEnvWith is newPodEnv with extra config tables.
func newPodEnvWith(t testing.TB, extra string, env ...string) *podEnv {
	t.Helper()
	return newPodEnvOpts(t, func(o *testutil.Options) { o.Extra, o.Env = extra, env })
}

// newPodEnvOpts is newPodEnv with the daemon's options changed by edit.
func newPodEnvOpts(t testing.TB, edit func(*testutil.Options)) *podEnv {
	t.Helper()
	if _, err := exec.LookPath("containerd-shim-runc-v2"); err != nil {
		t.Fatalf("containerd-shim-runc-v2 not in PATH (make deps installs it): %v", err)
	}
	reg := testutil.NewRegistry(t)
	testutil.PushTestImages(t, reg, testProcBin)
	o := testutil.Options{
		Hosts:        map[string]string{"registry.k8s.io": testutil.Mirror(reg.Host)},
		CNI:          testutil.BridgeCNI(testBridge, "10.91.0.0/16"),
		SandboxImage: pauseImage,
	}
	edit(&o)
	d := testutil.NewDaemon(t, daemonBin, o)
	d.Start(t)
	e := &podEnv{t: t, d: d, reg: reg, cgroupParent: fmt.Sprintf("%s/%d", testCgroupParent, envCount.Add(1))}
	t.Cleanup(func() { testutil.RemoveCgroup(e.cgroupParent) })
	pull(t, d, procImage)
	t.Cleanup(func() { exec.Command("ip", "link", "delete", testBridge).Run() })
	return e
}

// podConfig is a pod as kubelet sends it by default: each container in its
// own PID namespace, so wincri runs it without a pause process.
func podConfig(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "test", Uid: name + "-uid"},
		Hostname:     name,
		LogDirectory: filepath.Join(os.TempDir(), "wincri-test-logs", name),
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
		}},
	}
}

// sharedPIDPodConfig is a pod with shareProcessNamespace: it has a pause
// process, the init of the PID namespace its containers share.
func sharedPIDPodConfig(name string) *runtimeapi.PodSandboxConfig {
	cfg := podConfig(name)
	cfg.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
	return cfg
}

// bothPodKinds are a pod with a pause (name-with-pause) and one without.
func bothPodKinds(name string) []*runtimeapi.PodSandboxConfig {
	return []*runtimeapi.PodSandboxConfig{sharedPIDPodConfig(name + "-with-pause"), podConfig(name)}
}

// hasPause says whether wincri gives the pod a pause process (the test
// configs differ only in the PID namespace mode).
func hasPause(cfg *runtimeapi.PodSandboxConfig) bool {
	return cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetPid() == runtimeapi.NamespaceMode_POD
}

// containerLinux is a container's Linux config as kubelet builds it for pod:
// the pod's PID namespace mode.
func containerLinux(pod *runtimeapi.PodSandboxConfig) *runtimeapi.LinuxContainerConfig {
	return &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Pid: pod.GetLinux().GetSecurityContext().GetNamespaceOptions().GetPid()},
	}}
}

func (e *podEnv) runPod(name string) (string, *runtimeapi.PodSandboxConfig) {
	e.t.Helper()
	return e.runPodWith(podConfig(name))
}

// own places the pod's cgroups under the env's parent.
func (e *podEnv) own(cfg *runtimeapi.PodSandboxConfig) *runtimeapi.PodSandboxConfig {
	cfg.Linux.CgroupParent = e.cgroupParent
	return cfg
}

func (e *podEnv) runPodWith(cfg *runtimeapi.PodSandboxConfig) (string, *runtimeapi.PodSandboxConfig) {
	e.t.Helper()
	e.own(cfg)
	name := cfg.Metadata.Name
	e.t.Cleanup(func() { os.RemoveAll(cfg.LogDirectory) })
	resp, err := e.d.Runtime.RunPodSandbox(testutil.Ctx(e.t), &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		e.t.Fatalf("RunPodSandbox %s: %v", name, err)
	}
	return resp.PodSandboxId, cfg
}

func (e *podEnv) create(podID string, pod *runtimeapi.PodSandboxConfig, name string, args ...string) string {
	e.t.Helper()
	return e.createWith(podID, pod, name, func(c *runtimeapi.ContainerConfig) { c.Args = args })
}

// containerConfig is a container of the test image in pod, changed by edit.
func (e *podEnv) containerConfig(pod *runtimeapi.PodSandboxConfig, name string, edit func(*runtimeapi.ContainerConfig)) *runtimeapi.ContainerConfig {
	c := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: procImage},
		LogPath:  name + ".log",
		Linux:    containerLinux(pod),
	}
	edit(c)
	return c
}

func (e *podEnv) createWith(podID string, pod *runtimeapi.PodSandboxConfig, name string, edit func(*runtimeapi.ContainerConfig)) string {
	e.t.Helper()
	resp, err := e.d.Runtime.CreateContainer(testutil.Ctx(e.t), &runtimeapi.CreateContainerRequest{
		PodSandboxId: podID, SandboxConfig: pod, Config: e.containerConfig(pod, name, edit),
	})
	if err != nil {
		e.t.Fatalf("CreateContainer %s: %v", name, err)
	}
	return resp.ContainerId
}

func (e *podEnv) start(id string) {
	e.t.Helper()
	if _, err := e.d.Runtime.StartContainer(testutil.Ctx(e.t), &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		e.t.Fatalf("StartContainer: %v", err)
	}
}

func (e *podEnv) status(id string) *runtimeapi.ContainerStatus {
	e.t.Helper()
	resp, err := e.d.Runtime.ContainerStatus(testutil.Ctx(e.t), &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		e.t.Fatalf("ContainerStatus: %v", err)
	}
	return resp.Status
}

func (e *podEnv) podState(id string) runtimeapi.PodSandboxState {
	e.t.Helper()
	resp, err := e.d.Runtime.PodSandboxStatus(testutil.Ctx(e.t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		e.t.Fatalf("PodSandboxStatus: %v", err)
	}
	return resp.Status.State
}

func (e *podEnv) waitExited(id string) *runtimeapi.ContainerStatus {
	e.t.Helper()
	var st *runtimeapi.ContainerStatus
	waitFor(e.t, "container "+id[:12]+" to exit", func() bool {
		st = e.status(id)
		return st.State == runtimeapi.ContainerState_CONTAINER_EXITED
	})
	return st
}

// removeAll stops and removes every pod, then checks nothing is left behind.
func (e *podEnv) removeAll() {
	e.t.Helper()
	ctx := testutil.Ctx(e.t)
	pods, err := e.d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range pods.Items {
		if _, err := e.d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			e.t.Fatalf("StopPodSandbox: %v", err)
		}
		if _, err := e.d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			e.t.Fatalf("RemovePodSandbox: %v", err)
		}
	}
	e.assertNothingLeft()
}

// assertNothingLeft checks that no pod leaves a trace: shims, mounts,
// network namespaces, CNI IP reservations, bundles, records.
func (e *podEnv) assertNothingLeft() {
	e.t.Helper()
	if left := e.d.WaitNoShimsLeft(); len(left) > 0 {
		e.t.Errorf("shims left running (%d spares allowed): %v", e.d.AllowedSpares(), left)
	}
	if m := e.d.Mounts(); len(m) != 0 {
		e.t.Errorf("mounts left: %v", m)
	}
	for _, dir := range []string{"s/netns", "s/bundles", "s/io", "root/pods"} {
		if entries, _ := os.ReadDir(filepath.Join(e.d.Dir, dir)); len(entries) != 0 {
			e.t.Errorf("%s not empty: %d entries", dir, len(entries))
		}
	}
	if cgs := testutil.CgroupsBelow(e.cgroupParent); len(cgs) != 0 {
		e.t.Errorf("container cgroups left: %v", cgs)
		if os.Getenv("WINCRI_DEBUG_LEAKS") != "" {
			for _, c := range cgs {
				procs, _ := os.ReadFile(filepath.Join(c, "cgroup.procs"))
				e.t.Logf("%s holds %q", c, procs)
			}
			b, _ := os.ReadFile(e.d.LogPath())
			for _, l := range strings.Split(string(b), "\n") {
				for _, c := range cgs {
					if id := filepath.Base(c); strings.Contains(l, id) {
						e.t.Log(l)
						break
					}
				}
			}
		}
	}
	ips, _ := filepath.Glob(filepath.Join(e.d.Dir, "ipam", "wincri-test", "10.*"))
	if len(ips) != 0 {
		e.t.Errorf("CNI IP reservations left: %v", ips)
	}
	pods, _ := e.d.Runtime.ListPodSandbox(testutil.Ctx(e.t), &runtimeapi.ListPodSandboxRequest{})
	ctrs, _ := e.d.Runtime.ListContainers(testutil.Ctx(e.t), &runtimeapi.ListContainersRequest{})
	if len(pods.GetItems()) != 0 || len(ctrs.GetContainers()) != 0 {
		e.t.Errorf("records left: %d pods, %d containers", len(pods.GetItems()), len(ctrs.GetContainers()))
	}
}

func TestPodAndContainerLifecycle(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("life")
	if st := e.podState(podID); st != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("pod state %v", st)
	}
	resp, _ := e.d.Runtime.PodSandboxStatus(testutil.Ctx(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID})
	if !strings.HasPrefix(resp.GetStatus().GetNetwork().GetIp(), "10.91.") {
		t.Errorf("pod IP %q not from the CNI range", resp.GetStatus().GetNetwork().GetIp())
	}
	// Same name again: AlreadyExists.
	if _, err := e.d.Runtime.RunPodSandbox(testutil.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: pod}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("second pod with the same name: %v", err)
	}

	echo := e.create(podID, pod, "echo", "echo", "hello", "world")
	if st := e.status(echo); st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Fatalf("created container state %v", st.State)
	}
	e.start(echo)
	st := e.waitExited(echo)
	if st.ExitCode != 0 || st.Reason != "Completed" || st.FinishedAt < st.StartedAt {
		t.Errorf("echo exited %d (%s), started %d finished %d", st.ExitCode, st.Reason, st.StartedAt, st.FinishedAt)
	}
	log, _ := os.ReadFile(filepath.Join(pod.LogDirectory, "echo.log"))
	if !strings.Contains(string(log), " stdout F hello world\n") || !strings.Contains(string(log), " stderr F err\n") {
		t.Errorf("CRI log:\n%s", log)
	}

	failing := e.create(podID, pod, "failing", "exit", "3")
	e.start(failing)
	if st := e.waitExited(failing); st.ExitCode != 3 || st.Reason != "Error" {
		t.Errorf("failing container: exit %d reason %q", st.ExitCode, st.Reason)
	}

	sleeper := e.create(podID, pod, "sleeper", "sleep", "3600")
	e.start(sleeper)
	ex, err := e.d.Runtime.ExecSync(testutil.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: sleeper, Cmd: []string{"/testproc", "cat", "/etc/hostname"}, Timeout: 10})
	if err != nil || strings.TrimSpace(string(ex.Stdout)) != "life" || ex.ExitCode != 0 {
		t.Errorf("ExecSync cat /etc/hostname: %v %q exit %d", err, ex.GetStdout(), ex.GetExitCode())
	}
	ex, err = e.d.Runtime.ExecSync(testutil.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: sleeper, Cmd: []string{"/testproc", "exit", "7"}})
	if err != nil || ex.ExitCode != 7 {
		t.Errorf("ExecSync exit 7: %v %v", err, ex)
	}
	start := time.Now()
	_, err = e.d.Runtime.ExecSync(testutil.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: sleeper, Cmd: []string{"/testproc", "sleep", "60"}, Timeout: 1})
	if err == nil || time.Since(start) > 30*time.Second {
		t.Errorf("ExecSync past its timeout: %v after %s", err, time.Since(start))
	}
	if _, err := e.d.Runtime.StopContainer(testutil.Ctx(t), &runtimeapi.StopContainerRequest{ContainerId: sleeper, Timeout: 1}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(sleeper); st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Errorf("after StopContainer: %v", st.State)
	}
	// Stop and remove are idempotent; unknown ids are NotFound elsewhere.
	for _, id := range []string{sleeper, "unknown"} {
		if _, err := e.d.Runtime.StopContainer(testutil.Ctx(t), &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
			t.Errorf("StopContainer(%s) again: %v", id, err)
		}
	}
	if _, err := e.d.Runtime.ContainerStatus(testutil.Ctx(t), &runtimeapi.ContainerStatusRequest{ContainerId: "unknown"}); status.Code(err) != codes.NotFound {
		t.Errorf("ContainerStatus(unknown): %v", err)
	}
	if _, err := e.d.Runtime.CreateContainer(testutil.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "escape"}, Image: &runtimeapi.ImageSpec{Image: procImage}, LogPath: "../../etc/x.log"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("log path escaping the pod log dir: %v", err)
	}
	e.create(podID, pod, "never-started", "sleep", "1")
	e.removeAll()
}

// TestContainerStatusNamesTheImageByTag creates a container as the kubelet
// does, from the image's id with the pod's image as UserSpecifiedImage: the
// status must name the image by its tag (the kubelet shows it, and compares
// it with the pod's spec to see an image update through; node e2e's
// container lifecycle specs waited for that forever), its ref by repo
// digest, while ListContainers keeps the spec it was given, as containerd's
// CRI does.
func TestContainerStatusNamesTheImageByTag(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("imagename")
	id := imageStatus(t, e.d, procImage).GetId()
	ctr := e.createWith(podID, pod, "byid", func(c *runtimeapi.ContainerConfig) {
		c.Image = &runtimeapi.ImageSpec{Image: id, UserSpecifiedImage: procImage}
		c.Args = []string{"sleep", "1"}
	})
	st := e.status(ctr)
	if st.GetImage().GetImage() != procImage {
		t.Errorf("ContainerStatus image %q, want the tag %q", st.GetImage().GetImage(), procImage)
	}
	if !strings.Contains(st.GetImageRef(), "@sha256:") || st.GetImageId() != id {
		t.Errorf("ContainerStatus image ref %q id %q, want a repo digest and %q", st.GetImageRef(), st.GetImageId(), id)
	}
	list, err := e.d.Runtime.ListContainers(testutil.Ctx(t), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{Id: ctr}})
	if err != nil || len(list.Containers) != 1 || list.Containers[0].GetImage().GetImage() != id {
		t.Errorf("ListContainers: %v %v, want the image spec as given (%s)", err, list.GetContainers(), id)
	}
	e.removeAll()
}

// TestKill9Restart kills wincri with SIGKILL while pods run, while a
// container exits, and in the middle of creating a pod and a container; a
// restarted wincri must account for every pod and container and leak nothing.
func TestKill9Restart(t *testing.T) {
	e := newPodEnv(t)
	podA, cfgA := e.runPod("survivor")
	ticker := e.create(podA, cfgA, "ticker", "tick")
	e.start(ticker)
	exiter := e.create(podA, cfgA, "exiter", "exit", "3", "1.5")
	e.start(exiter)
	created := e.create(podA, cfgA, "created", "sleep", "60")
	podC, cfgC := e.runPodWith(sharedPIDPodConfig("survivor-with-pause"))
	tickerC := e.create(podC, cfgC, "ticker", "tick")
	e.start(tickerC)
	podB, _ := e.runPod("stopped")
	if _, err := e.d.Runtime.StopPodSandbox(testutil.Ctx(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podB}); err != nil {
		t.Fatal(err)
	}

	e.d.Kill(t) // the exiter exits while wincri is down
	time.Sleep(2 * time.Second)
	e.d.Start(t)
	for _, p := range []string{podA, podC} {
		if st := e.podState(p); st != runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Errorf("running pod after restart: %v", st)
		}
	}
	if st := e.podState(podB); st != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("stopped pod after restart: %v", st)
	}
	for _, c := range []string{ticker, tickerC} {
		if st := e.status(c); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("ticker after restart: %v", st.State)
		}
	}
	if st := e.status(exiter); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 3 {
		t.Errorf("container that exited while wincri was down: %v exit %d", st.State, st.ExitCode)
	}
	if st := e.status(created); st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("created container after restart: %v", st.State)
	}
	// Reattached: the ticker's output still reaches its log, and exec works.
	logPath := filepath.Join(cfgA.LogDirectory, "ticker.log")
	before, _ := os.ReadFile(logPath)
	waitFor(t, "the ticker's log to grow after the restart", func() bool {
		now, _ := os.ReadFile(logPath)
		return len(now) > len(before)
	})
	if _, err := e.d.Runtime.ExecSync(testutil.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: ticker, Cmd: []string{"/testproc", "echo", "hi"}, Timeout: 10}); err != nil {
		t.Errorf("exec after restart: %v", err)
	}

	// Crashes in the middle of creating a pod (with and without pause),
	// then a container.
	for _, fp := range []string{"pod-after-network", "pod-after-shim"} {
		for _, cfg := range bothPodKinds("half-" + fp) {
			e.crashDuring(fp, func(ctx context.Context) error {
				_, err := e.d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.own(cfg)})
				return err
			})
		}
	}
	e.crashDuring("container-after-bundle", func(ctx context.Context) error {
		_, err := e.d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podA, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "half"}, Image: &runtimeapi.ImageSpec{Image: procImage}, Args: []string{"sleep", "60"}, Linux: containerLinux(cfgA)}})
		return err
	})
	// A crash with the task's create asked for (its mark in the bundle):
	// the restart runs the shim binary's delete for it and drops the mark;
	// the container is still created.
	e.crashDuring("task-create-begun", func(ctx context.Context) error {
		_, err := e.d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created})
		return err
	})
	if st := e.status(created); st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("container whose task create a crash interrupted: %v", st.State)
	}
	if _, err := os.Stat(filepath.Join(e.d.Dir, "s", "bundles", created, "create-begun")); !os.IsNotExist(err) {
		t.Errorf("the create's mark after the restart: %v, want it gone", err)
	}
	if b, _ := os.ReadFile(e.d.LogPath()); !strings.Contains(string(b), "cleaning up a task creation a crash interrupted") {
		t.Error("the restart did not clean up after the interrupted task create")
	}
	// A crash between creating the task and starting it: after the restart
	// the container is still created, and starts.
	e.crashDuring("container-start-after-task", func(ctx context.Context) error {
		_, err := e.d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created})
		return err
	})
	if st := e.status(created); st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("container whose start a crash interrupted: %v", st.State)
	}
	pods, _ := e.d.Runtime.ListPodSandbox(testutil.Ctx(t), &runtimeapi.ListPodSandboxRequest{})
	ctrs, _ := e.d.Runtime.ListContainers(testutil.Ctx(t), &runtimeapi.ListContainersRequest{})
	if len(pods.Items) != 3 || len(ctrs.Containers) != 4 {
		t.Errorf("after crashes mid-creation: %d pods (want 3), %d containers (want 4)", len(pods.Items), len(ctrs.Containers))
	}
	e.start(created)
	if st := e.status(created); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("restarting that container: %v", st.State)
	}
	for _, c := range []string{ticker, tickerC} {
		if st := e.status(c); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("ticker after the crashes: %v", st.State)
		}
	}
	e.removeAll()
}

// crashDuring restarts the daemon with a failpoint, runs call (which the
// crash interrupts), and restarts it without the failpoint.
func (e *podEnv) crashDuring(failpoint string, call func(context.Context) error) {
	e.t.Helper()
	e.d.Stop(e.t)
	e.d.SetEnv("WINCRI_FAILPOINTS=" + failpoint)
	e.d.Start(e.t)
	if err := call(testutil.Ctx(e.t)); err == nil {
		e.t.Fatalf("call survived failpoint %s", failpoint)
	}
	waitFor(e.t, "wincri to die at "+failpoint, e.d.Exited)
	e.d.Forget()
	e.d.SetEnv()
	e.d.Start(e.t)
}

// TestStatsOfABusyContainer checks what HPA reads: CPU with usageNanoCores
// (from the second sample on) and memory, for a container and its pod.
func TestStatsOfABusyContainer(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("busy")
	busy := e.create(podID, pod, "spin", "spin")
	e.start(busy)
	var cs *runtimeapi.ContainerStats
	waitFor(t, "a non-zero CPU rate", func() bool {
		resp, err := e.d.Runtime.ListContainerStats(testutil.Ctx(t), &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: podID}})
		if err != nil || len(resp.Stats) != 1 {
			t.Fatalf("ListContainerStats: %v %v", resp, err)
		}
		cs = resp.Stats[0]
		time.Sleep(300 * time.Millisecond)
		return cs.GetCpu().GetUsageNanoCores().GetValue() > 0
	})
	if cs.GetCpu().GetUsageCoreNanoSeconds().GetValue() == 0 || cs.GetMemory().GetWorkingSetBytes().GetValue() == 0 || cs.GetAttributes().GetId() != busy {
		t.Errorf("container stats: %v", cs)
	}
	ps, err := e.d.Runtime.PodSandboxStats(testutil.Ctx(t), &runtimeapi.PodSandboxStatsRequest{PodSandboxId: podID})
	if err != nil {
		t.Fatal(err)
	}
	lin := ps.GetStats().GetLinux()
	if lin.GetCpu().GetUsageCoreNanoSeconds().GetValue() < cs.GetCpu().GetUsageCoreNanoSeconds().GetValue() ||
		lin.GetMemory().GetWorkingSetBytes().GetValue() == 0 || len(lin.GetContainers()) != 1 ||
		lin.GetNetwork().GetDefaultInterface().GetName() != "eth0" || lin.GetProcess().GetProcessCount().GetValue() == 0 {
		t.Errorf("pod stats: %v", ps)
	}
	e.removeAll()
}
