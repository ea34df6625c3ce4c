// Command density starts N pods of M containers each against a CRI
// endpoint with bounded parallelism and reports what density costs: pod
// start latency (RunPodSandbox + create + start of its containers), total
// time, the daemon's RSS, the shims' PSS and ListPodSandboxStats latency.
// With -wait it instead waits until N pods are listed ready and prints how
// long that took (reattach time after a restart).
//
//	go run ./hack/density -endpoint unix:///run/wincri/wincri.sock -pods 110 -containers 2 -daemon-pid PID -shim-match /run/wincri
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	ep := flag.String("endpoint", "unix:///run/wincri/wincri.sock", "CRI endpoint")
	pods := flag.Int("pods", 110, "pods to start")
	ctrs := flag.Int("containers", 2, "containers per pod")
	par := flag.Int("parallel", 4, "pods started at once")
	image := flag.String("image", "registry.k8s.io/e2e-test-images/busybox:1.29-2", "container image")
	pid := flag.Int("daemon-pid", 0, "the runtime daemon's pid, for its RSS")
	shimMatch := flag.String("shim-match", "", "a string in the command line of this runtime's shims, for their PSS")
	wait := flag.Bool("wait", false, "only wait until -pods pods are listed ready, and print how long it took")
	cleanup := flag.Bool("cleanup", false, "stop and remove every pod, then exit")
	serial := flag.Int("serial", 0, "instead: start this many pods of one container one after the other, and print each call's p50")
	verbose := flag.Bool("v", false, "print each ListPodSandboxStats latency")
	gap := flag.Duration("gap", 0, "with -serial: pause between one pod's start and the next (pods arriving apart, as on a node, rather than back to back)")
	sharedPID := flag.Bool("shared-pid", false, "pods share one PID namespace (critest's zero-value config) instead of kubelet's default, a PID namespace per container")
	flag.Parse()
	pidMode = runtimeapi.NamespaceMode_CONTAINER
	if *sharedPID {
		pidMode = runtimeapi.NamespaceMode_POD
	}

	start := time.Now()
	// Retry fast: with gRPC's default 1 s backoff a restart would measure
	// the client's wait, not the runtime.
	conn, err := grpc.NewClient(*ep, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 5 * time.Millisecond, Multiplier: 1.2, MaxDelay: 50 * time.Millisecond}, MinConnectTimeout: time.Second}))
	if err != nil {
		fail(err)
	}
	rt, is := runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	ctx := context.Background()
	switch {
	case *wait:
		waitReady(ctx, rt, *pods, start)
	case *cleanup:
		removeAll(ctx, rt)
	default:
		if _, err := is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: *image}}); err != nil {
			fail(err)
		}
		if *serial > 0 {
			runSerial(ctx, rt, *serial, *image, *gap)
			return
		}
		run(ctx, rt, *pods, *ctrs, *par, *image)
		report(ctx, rt, *pid, *shimMatch, *verbose)
	}
}

func run(ctx context.Context, rt runtimeapi.RuntimeServiceClient, pods, ctrs, par int, image string) {
	lat := make([]time.Duration, pods)
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t := time.Now()
				startPod(ctx, rt, i, ctrs, image)
				lat[i] = time.Since(t)
			}
		}()
	}
	for i := range pods {
		work <- i
	}
	close(work)
	wg.Wait()
	total := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	fmt.Printf("density: %d pods x %d containers (PID namespace %s), parallel %d: total %s, pod start p50 %s p99 %s\n",
		pods, ctrs, pidMode, par, total.Round(time.Millisecond), pct(lat, 50), pct(lat, 99))
}

// pidMode is the pods' and containers' PID namespace mode: kubelet sends
// CONTAINER unless the pod sets shareProcessNamespace (POD).
var pidMode runtimeapi.NamespaceMode

func podConfig(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "density", Uid: name},
		Hostname: name, Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: pidMode},
		}},
	}
}

func containerConfig(name, image string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: image},
		Command:  []string{"sleep", "36000"},
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: pidMode},
		}},
	}
}

func startPod(ctx context.Context, rt runtimeapi.RuntimeServiceClient, i, ctrs int, image string) {
	name := fmt.Sprintf("density-%d", i)
	cfg := podConfig(name)
	resp, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		fail(fmt.Errorf("RunPodSandbox %s: %w", name, err))
	}
	for c := range ctrs {
		startContainer(ctx, rt, resp.PodSandboxId, cfg, containerConfig(fmt.Sprintf("c%d", c), image))
	}
}

func startContainer(ctx context.Context, rt runtimeapi.RuntimeServiceClient, podID string, pod *runtimeapi.PodSandboxConfig, cfg *runtimeapi.ContainerConfig) (created, started time.Time) {
	cr, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pod, Config: cfg})
	if err != nil {
		fail(fmt.Errorf("CreateContainer in %s: %w", pod.Metadata.Name, err))
	}
	created = time.Now()
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
		fail(fmt.Errorf("StartContainer in %s: %w", pod.Metadata.Name, err))
	}
	return created, time.Now()
}

// runSerial starts n pods of one container one after the other, then stops
// and removes them, and prints each call's p50 and the sum of the three
// start calls' p50s. gap is a pause after each pod's start.
func runSerial(ctx context.Context, rt runtimeapi.RuntimeServiceClient, n int, image string, gap time.Duration) {
	calls := []string{"RunPodSandbox", "CreateContainer", "StartContainer", "StopPodSandbox", "RemovePodSandbox"}
	lat := make([][]time.Duration, len(calls))
	ids := make([]string, n)
	for i := range n {
		cfg := podConfig(fmt.Sprintf("serial-%d", i))
		t0 := time.Now()
		resp, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
		if err != nil {
			fail(fmt.Errorf("RunPodSandbox: %w", err))
		}
		t1 := time.Now()
		t2, t3 := startContainer(ctx, rt, resp.PodSandboxId, cfg, containerConfig("c", image))
		ids[i] = resp.PodSandboxId
		lat[0], lat[1], lat[2] = append(lat[0], t1.Sub(t0)), append(lat[1], t2.Sub(t1)), append(lat[2], t3.Sub(t2))
		time.Sleep(gap)
	}
	for _, id := range ids {
		t0 := time.Now()
		rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
		t1 := time.Now()
		rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
		lat[3], lat[4] = append(lat[3], t1.Sub(t0)), append(lat[4], time.Since(t1))
	}
	var sum time.Duration
	for i, c := range calls {
		sort.Slice(lat[i], func(a, b int) bool { return lat[i][a] < lat[i][b] })
		if i < 3 {
			sum += pct(lat[i], 50)
		}
		fmt.Printf("serial: %s p50 %s p99 %s\n", c, pct(lat[i], 50), pct(lat[i], 99))
	}
	apart := ""
	if gap > 0 {
		apart = fmt.Sprintf(", %s apart", gap)
	}
	fmt.Printf("serial: %d pods (PID namespace %s%s): RunPodSandbox+CreateContainer+StartContainer p50 sum %s\n", n, pidMode, apart, sum)
}

func report(ctx context.Context, rt runtimeapi.RuntimeServiceClient, pid int, shimMatch string, verbose bool) {
	var lat []time.Duration
	for range 20 {
		t := time.Now()
		if _, err := rt.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{}); err != nil {
			fmt.Printf("density: ListPodSandboxStats failed: %.200s\n", err)
			lat = nil
			break
		}
		lat = append(lat, time.Since(t))
		if verbose {
			fmt.Printf("density: ListPodSandboxStats %s\n", time.Since(t))
		}
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		fmt.Printf("density: ListPodSandboxStats p50 %s p99 %s\n", pct(lat, 50), pct(lat, 99))
	}
	if pid > 0 {
		fmt.Printf("density: daemon RSS %.1f MiB\n", float64(statusKB(pid, "VmRSS"))/1024)
	}
	if shimMatch != "" {
		n, pss := 0, 0
		for _, p := range procsMatching(shimMatch) {
			n++
			pss += smapsKB(p, "Pss")
		}
		if n > 0 {
			fmt.Printf("density: %d shims, PSS total %.1f MiB, per shim %.2f MiB\n", n, float64(pss)/1024, float64(pss)/1024/float64(n))
		}
	}
}

func waitReady(ctx context.Context, rt runtimeapi.RuntimeServiceClient, n int, start time.Time) {
	for {
		resp, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
			State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}})
		if err == nil && len(resp.Items) >= n {
			fmt.Printf("density: %d ready pods listed %s after the restart began\n", len(resp.Items), time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > 5*time.Minute {
			fail(fmt.Errorf("only %d ready pods after 5 minutes: %v", len(resp.GetItems()), err))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func removeAll(ctx context.Context, rt runtimeapi.RuntimeServiceClient) {
	resp, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		fail(err)
	}
	for _, p := range resp.Items {
		rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id})
		rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id})
	}
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*p + 99) / 100
	if i > 0 {
		i--
	}
	return d[min(i, len(d)-1)].Round(100 * time.Microsecond)
}

func procsMatching(s string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(b), "containerd-shim") && strings.Contains(string(b), s) {
			out = append(out, pid)
		}
	}
	return out
}

func statusKB(pid int, key string) int { return fieldKB(fmt.Sprintf("/proc/%d/status", pid), key) }

func smapsKB(pid int, key string) int { return fieldKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), key) }

func fieldKB(path, key string) int {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key+":") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				v, _ := strconv.Atoi(f[1])
				return v
			}
		}
	}
	return 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "density:", err)
	os.Exit(1)
}
