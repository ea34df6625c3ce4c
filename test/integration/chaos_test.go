//go:build linux

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestChaosKill9 churns pods and containers while wincri is killed with
// SIGKILL at random points, WINCRI_CHAOS_ROUNDS times (default 3). After
// each restart every pod and container must be accounted for and usable;
// at the end nothing may be left behind.
func TestChaosKill9(t *testing.T) {
	e := newPodEnv(t)
	rounds := envInt("WINCRI_CHAOS_ROUNDS", 3)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	t.Logf("chaos: %d rounds", rounds)
	for round := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					churn(ctx, e, fmt.Sprintf("r%dw%di%d", round, w, i))
				}
			}()
		}
		time.Sleep(time.Duration(200+rng.Intn(1300)) * time.Millisecond)
		e.d.Kill(t)
		cancel()
		wg.Wait()
		e.d.Start(t)
		e.checkConsistent()
	}
	e.removeAll()
}

// churn runs one pod (with or without pause, at random) through part of
// its life; errors are expected when the daemon dies under it.
func churn(ctx context.Context, e *podEnv, name string) {
	rt := e.d.Runtime
	cfg := podConfig(name)
	if rand.Intn(2) == 0 {
		cfg = sharedPIDPodConfig(name)
	}
	e.own(cfg)
	resp, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		return
	}
	id := resp.PodSandboxId
	c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: id, SandboxConfig: cfg, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: procImage}, Args: []string{"sleep", "60"}, Linux: containerLinux(cfg)}})
	if err != nil {
		return
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		return
	}
	if rand.Intn(2) == 0 {
		return // leave it running
	}
	rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
	rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
}

// checkConsistent: every pod is ready or not ready, every running container
// answers exec, every container's pod exists.
func (e *podEnv) checkConsistent() {
	e.t.Helper()
	ctx := testutil.Ctx(e.t)
	pods, err := e.d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	ready := map[string]bool{}
	for _, p := range pods.Items {
		ready[p.Id] = p.State == runtimeapi.PodSandboxState_SANDBOX_READY
	}
	ctrs, err := e.d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range ctrs.Containers {
		if _, ok := ready[c.PodSandboxId]; !ok {
			e.t.Errorf("container %s belongs to no pod", c.Id)
		}
		if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if !ready[c.PodSandboxId] {
			e.t.Errorf("container %s runs in a pod that is not ready", c.Id)
		}
		if _, err := e.d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: c.Id, Cmd: []string{"/testproc", "echo", "ok"}, Timeout: 10}); err != nil {
			e.t.Errorf("running container %s does not answer exec after the restart: %v", c.Id, err)
		}
	}
}

// TestKilledProcessesAreReported kills a container's process and then a
// pod's shim from outside, and checks what wincri reports: a pod with pause
// is not ready any more; a pod without pause keeps its namespaces, stays
// ready, and its next container starts in a new shim.
func TestKilledProcessesAreReported(t *testing.T) {
	e := newPodEnv(t)
	for _, cfg := range bothPodKinds("victim") {
		podID, pod := e.runPodWith(cfg)
		c1 := e.create(podID, pod, "one", "sleep", "60")
		e.start(c1)
		c2 := e.create(podID, pod, "two", "sleep", "60")
		e.start(c2)

		syscall.Kill(int(e.pid(c1)), syscall.SIGKILL)
		if st := e.waitExited(c1); st.ExitCode != 137 || st.Reason != "Error" {
			t.Errorf("container whose process was killed: exit %d reason %q", st.ExitCode, st.Reason)
		}
		shims := e.d.Shims()
		if len(shims) != 1 {
			t.Fatalf("%d shims, want 1", len(shims))
		}
		syscall.Kill(shims[0], syscall.SIGKILL)
		st := e.waitExited(c2)
		if st.Reason != "Unknown" || st.Message == "" {
			t.Errorf("container whose shim was killed: reason %q message %q", st.Reason, st.Message)
		}
		if hasPause(cfg) {
			waitFor(t, "the pod to be not ready", func() bool { return e.podState(podID) == runtimeapi.PodSandboxState_SANDBOX_NOTREADY })
			e.removeAll()
			continue
		}
		if s := e.podState(podID); s != runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Errorf("pod without pause after its shim died: %v", s)
		}
		c3 := e.create(podID, pod, "three", "sleep", "60")
		e.start(c3)
		if h := strings.TrimSpace(e.exec(c3, "/testproc", "hostname")); h != cfg.Hostname {
			t.Errorf("container in a new shim: hostname %q, want %q", h, cfg.Hostname)
		}
		if n := len(e.d.Shims()); n != 1 {
			t.Errorf("%d shims after restarting the pod's, want 1", n)
		}
		e.removeAll()
	}
}

// TestShimKilledWhileDaemonDown kills a pod's shim while wincri is down:
// after the restart the container is reported exited and its process,
// which outlived the shim, is gone; a pod without pause is still ready and
// runs a new container.
func TestShimKilledWhileDaemonDown(t *testing.T) {
	e := newPodEnv(t)
	for _, cfg := range bothPodKinds("orphan") {
		podID, pod := e.runPodWith(cfg)
		c := e.create(podID, pod, "sleeper", "sleep", "600")
		e.start(c)
		pid := int(e.pid(c))
		e.d.Kill(t)
		for _, shim := range e.d.Shims() {
			syscall.Kill(shim, syscall.SIGKILL)
		}
		e.d.Start(t)
		if st := e.status(c); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.Reason != "Unknown" {
			t.Errorf("%s: container whose shim died while wincri was down: %v (%s)", cfg.Metadata.Name, st.State, st.Reason)
		}
		waitFor(t, "the container's process to be gone", func() bool { return !processRuns(pid) })
		shared := hasPause(cfg)
		if got, want := e.podState(podID), runtimeapi.PodSandboxState_SANDBOX_READY; (got == want) == shared {
			t.Errorf("%s: pod state %v after its shim died (pause: %v)", cfg.Metadata.Name, got, shared)
		}
		if !shared {
			e.start(e.create(podID, pod, "again", "sleep", "600"))
		}
		e.removeAll()
	}
}

// processRuns says whether pid is a live process (not gone, not a zombie).
func processRuns(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// state is the field after "(comm)"
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// pid reads a container's pid from its verbose status.
func (e *podEnv) pid(id string) uint32 {
	e.t.Helper()
	resp, err := e.d.Runtime.ContainerStatus(testutil.Ctx(e.t), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		e.t.Fatal(err)
	}
	var info struct{ Pid uint32 }
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil || info.Pid == 0 {
		e.t.Fatalf("no pid in %v: %v", resp.Info, err)
	}
	return info.Pid
}

// TestConcurrentClients has 8 clients hammer mixed CRI calls on shared pods
// for WINCRI_CONCURRENCY_SECONDS (default 5). Run with a daemon built with
// -race (WINCRI_RACE=1, as make test does), any data race fails the test.
func TestConcurrentClients(t *testing.T) {
	e := newPodEnv(t)
	secs := envInt("WINCRI_CONCURRENCY_SECONDS", 5)
	var pods []string
	var cfgs []*runtimeapi.PodSandboxConfig
	for i, mk := range []func(string) *runtimeapi.PodSandboxConfig{podConfig, sharedPIDPodConfig} {
		id, cfg := e.runPodWith(mk(fmt.Sprintf("shared-%d", i)))
		e.start(e.create(id, cfg, "resident", "sleep", "3600"))
		pods, cfgs = append(pods, id), append(cfgs, cfg)
	}
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt, ctx := e.d.Runtime, context.Background()
			for i := 0; time.Now().Before(deadline); i++ {
				p := w % len(pods)
				var err error
				switch i % 6 {
				case 0:
					_, err = rt.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{})
				case 1:
					_, err = rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
				case 2:
					_, err = e.d.Images.ListImages(ctx, &runtimeapi.ListImagesRequest{})
				case 3:
					_, err = rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pods[p], Verbose: true})
				case 4:
					var c *runtimeapi.CreateContainerResponse
					c, err = rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pods[p], SandboxConfig: cfgs[p], Config: &runtimeapi.ContainerConfig{
						Metadata: &runtimeapi.ContainerMetadata{Name: fmt.Sprintf("w%d-%d", w, i)}, Image: &runtimeapi.ImageSpec{Image: procImage},
						Args: []string{"echo", "hi"}, Linux: containerLinux(cfgs[p])}})
					if err == nil {
						if _, err = rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err == nil {
							_, err = rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.ContainerId})
						}
					}
				case 5:
					_, err = rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
				}
				if err != nil && status.Code(err) != codes.NotFound {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call failed: %v", err)
	}
	e.removeAll()
}
