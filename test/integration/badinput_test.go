//go:build linux

package integration

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

// badCall is one request a buggy or hostile client could send, and the code
// it must get.
type badCall struct {
	name string
	want codes.Code
	call func(ctx context.Context) error
}

// TestBadInput sends requests with bad fields of every kind to every RPC
// group (and odd but valid ones, which must succeed) and checks each gets
// its specific code, none Unknown, and that nothing of them is left on the
// host.
func TestBadInput(t *testing.T) {
	e := newPodEnv(t)
	rt, is := e.d.Runtime, e.d.Images
	podID, pod := e.runPod("bad-input")
	ctrID := e.create(podID, pod, "running")
	e.start(ctrID)
	createdID := e.create(podID, pod, "created")
	exitedID := e.create(podID, pod, "exited", "exit", "3")
	e.start(exitedID)
	e.waitExited(exitedID)

	huge := strings.Repeat("x", 1<<20)
	podWith := func(edit func(*runtimeapi.PodSandboxConfig)) func(context.Context) error {
		return func(ctx context.Context) error {
			cfg := e.own(podConfig("bad-pod"))
			edit(cfg)
			_, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
			return err
		}
	}
	ctrWith := func(edit func(*runtimeapi.ContainerConfig)) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pod, Config: e.containerConfig(pod, "bad-ctr", edit)})
			return err
		}
	}
	res := func(edit func(*runtimeapi.LinuxContainerResources)) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) {
			c.Linux.Resources = &runtimeapi.LinuxContainerResources{}
			edit(c.Linux.Resources)
		}
	}
	update := func(id string, edit func(*runtimeapi.LinuxContainerResources)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &runtimeapi.LinuxContainerResources{}
			edit(r)
			_, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id, Linux: r})
			return err
		}
	}
	execSync := func(id string, cmd ...string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 10})
			return err
		}
	}
	inv, nf, fp := codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition
	calls := []badCall{
		// RunPodSandbox
		{"pod: no config", inv, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{})
			return err
		}},
		{"pod: 1 MiB name", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Name = huge })},
		{"pod: no uid", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Uid = "" })},
		{"pod: control character in namespace", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Namespace = "a\nb" })},
		{"pod: 1 MiB hostname", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Hostname = huge })},
		{"pod: relative log directory", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = "../../etc" })},
		{"pod: log directory with ..", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = "/var/log/../../etc" })},
		{"pod: unknown sysctl", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Linux.Sysctls = map[string]string{"net.core.nope": "1"} })},
		{"pod: non-namespaced sysctl", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Linux.Sysctls = map[string]string{"vm.swappiness": "1"} })},
		{"pod: sysctl path", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Linux.Sysctls = map[string]string{"net/../../x": "1"} })},
		{"pod: sysctl value with a newline", inv, podWith(func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = map[string]string{"net.ipv4.ip_forward": "1\n2"}
		})},
		{"pod: container port 0", inv, podWith(func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 0, HostPort: 8080}}
		})},
		{"pod: host port 70000", inv, podWith(func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 70000}}
		})},
		{"pod: unknown protocol", inv, podWith(func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{Protocol: 9, ContainerPort: 80, HostPort: 8080}}
		})},
		{"pod: bad host IP", inv, podWith(func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 8080, HostIp: "999.1.1.1"}}
		})},
		{"pod: DNS server not an IP", inv, podWith(func(c *runtimeapi.PodSandboxConfig) {
			c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"dns.example"}}
		})},
		{"pod: DNS search with a line break", inv, podWith(func(c *runtimeapi.PodSandboxConfig) {
			c.DnsConfig = &runtimeapi.DNSConfig{Searches: []string{"a.example\nnameserver 6.6.6.6"}}
		})},
		{"pod: relative cgroup parent", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = "../../escape" })},
		{"pod: overhead CPU period 5", inv, podWith(func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Overhead = &runtimeapi.LinuxContainerResources{CpuPeriod: 5}
		})},
		{"pod: negative run_as_user", inv, podWith(func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: -1}
		})},
		{"pod: 1 MiB annotation total", inv, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Annotations = map[string]string{"a": huge} })},
		{"pod: unknown runtime handler", inv, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.own(podConfig("bad-handler")), RuntimeHandler: "nope"})
			return err
		}},
		{"pod: name taken", codes.AlreadyExists, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pod})
			return err
		}},
		{"pod status: unknown", nf, func(ctx context.Context) error {
			_, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "nope"})
			return err
		}},
		{"pod stats: unknown", nf, func(ctx context.Context) error {
			_, err := rt.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: "nope"})
			return err
		}},
		// CreateContainer
		{"container: unknown pod", nf, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: "nope", SandboxConfig: pod, Config: e.containerConfig(pod, "x", func(*runtimeapi.ContainerConfig) {})})
			return err
		}},
		{"container: no config", inv, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID})
			return err
		}},
		{"container: 1 MiB name", inv, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = huge })},
		{"container: no image", inv, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Image = nil })},
		{"container: image not pulled", nf, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Image.Image = "registry.k8s.io/never/pulled:1" })},
		{"container: name taken", codes.AlreadyExists, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "running" })},
		{"container: log path escapes", inv, ctrWith(func(c *runtimeapi.ContainerConfig) { c.LogPath = "../../x.log" })},
		{"container: relative mount host path", inv, ctrWith(func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "relative/dir"}}
		})},
		{"container: mount host path with ..", inv, ctrWith(func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/tmp/../etc"}}
		})},
		{"container: relative mount container path", inv, ctrWith(func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "data", HostPath: "/tmp"}}
		})},
		{"container: unknown propagation", inv, ctrWith(func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/tmp", Propagation: 7}}
		})},
		{"container: relative device", inv, ctrWith(func(c *runtimeapi.ContainerConfig) {
			c.Devices = []*runtimeapi.Device{{HostPath: "null", ContainerPath: "/dev/x", Permissions: "rw"}}
		})},
		{"container: device permissions", inv, ctrWith(func(c *runtimeapi.ContainerConfig) {
			c.Devices = []*runtimeapi.Device{{HostPath: "/dev/null", ContainerPath: "/dev/x", Permissions: "rwx"}}
		})},
		{"container: env key with =", inv, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Envs = []*runtimeapi.KeyValue{{Key: "A=B", Value: []byte("c")}} })},
		{"container: NUL in an argument", inv, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Args = []string{"echo", "a\x00b"} })},
		{"container: relative working dir", inv, ctrWith(func(c *runtimeapi.ContainerConfig) { c.WorkingDir = "tmp" })},
		{"container: CPU period 5", inv, ctrWith(res(func(r *runtimeapi.LinuxContainerResources) { r.CpuPeriod = 5 }))},
		{"container: CPU quota 5", inv, ctrWith(res(func(r *runtimeapi.LinuxContainerResources) { r.CpuQuota = 5 }))},
		{"container: CPU shares 1", inv, ctrWith(res(func(r *runtimeapi.LinuxContainerResources) { r.CpuShares = 1 }))},
		{"container: negative memory", inv, ctrWith(res(func(r *runtimeapi.LinuxContainerResources) { r.MemoryLimitInBytes = -5 }))},
		{"container: OOM score 5000", inv, ctrWith(res(func(r *runtimeapi.LinuxContainerResources) { r.OomScoreAdj = 5000 }))},
		{"container: cpuset syntax", inv, ctrWith(res(func(r *runtimeapi.LinuxContainerResources) { r.CpusetCpus = "0-a" }))},
		{"container: hugepage size", inv, ctrWith(res(func(r *runtimeapi.LinuxContainerResources) {
			r.HugepageLimits = []*runtimeapi.HugepageLimit{{PageSize: "2XB"}}
		}))},
		{"container: unified key path", inv, ctrWith(res(func(r *runtimeapi.LinuxContainerResources) { r.Unified = map[string]string{"../../x": "1"} }))},
		{"container: negative run_as_group", inv, ctrWith(func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: 0}
			c.Linux.SecurityContext.RunAsGroup = &runtimeapi.Int64Value{Value: -3}
		})},
		{"container: apparmor profile on a host without AppArmor or unknown", fp, ctrWith(func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "nope"}
		})},
		{"container: seccomp profile missing", inv, ctrWith(func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/nope.json"}
		})},
		// Container lifecycle in every state
		{"start: unknown", nf, func(ctx context.Context) error {
			_, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: "nope"})
			return err
		}},
		{"start: running", fp, func(ctx context.Context) error {
			_, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ctrID})
			return err
		}},
		{"start: exited", fp, func(ctx context.Context) error {
			_, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: exitedID})
			return err
		}},
		{"status: unknown", nf, func(ctx context.Context) error {
			_, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: "nope"})
			return err
		}},
		{"stats: unknown", nf, func(ctx context.Context) error {
			_, err := rt.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: "nope"})
			return err
		}},
		{"update: unknown", nf, update("nope", func(*runtimeapi.LinuxContainerResources) {})},
		{"update: CPU period 5", inv, update(ctrID, func(r *runtimeapi.LinuxContainerResources) { r.CpuPeriod = 5 })},
		{"update: exited", fp, update(exitedID, func(r *runtimeapi.LinuxContainerResources) { r.CpuShares = 512 })},
		{"reopen log: created", fp, func(ctx context.Context) error {
			_, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: createdID})
			return err
		}},
		{"reopen log: unknown", nf, func(ctx context.Context) error {
			_, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: "nope"})
			return err
		}},
		// Exec, attach, port-forward
		{"exec sync: unknown", nf, execSync("nope", "/testproc", "echo")},
		{"exec sync: no command", inv, execSync(ctrID)},
		{"exec sync: created", fp, execSync(createdID, "/testproc", "echo")},
		{"exec sync: exited", fp, execSync(exitedID, "/testproc", "echo")},
		{"exec: unknown", nf, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: "nope", Cmd: []string{"sh"}, Stdout: true})
			return err
		}},
		{"exec: no stream", inv, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: ctrID, Cmd: []string{"sh"}})
			return err
		}},
		{"attach: unknown", nf, func(ctx context.Context) error {
			_, err := rt.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: "nope", Stdout: true})
			return err
		}},
		{"port-forward: unknown", nf, func(ctx context.Context) error {
			_, err := rt.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "nope", Port: []int32{80}})
			return err
		}},
		{"port-forward: port 70000", inv, func(ctx context.Context) error {
			_, err := rt.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: podID, Port: []int32{70000}})
			return err
		}},
		// Images
		{"pull: no image", inv, func(ctx context.Context) error {
			_, err := is.PullImage(ctx, &runtimeapi.PullImageRequest{})
			return err
		}},
		{"pull: bad reference", inv, func(ctx context.Context) error {
			_, err := is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "UPPER/Case::bad"}})
			return err
		}},
		{"pull: not in the registry", nf, func(ctx context.Context) error {
			_, err := is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/wincri-test/none:1"}})
			return err
		}},
		// Lists with filters of every kind: nothing matches, nothing fails.
		{"list pods: unknown state", codes.OK, func(ctx context.Context) error {
			_, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{Id: "nope", State: &runtimeapi.PodSandboxStateValue{State: 42}, LabelSelector: map[string]string{"": ""}}})
			return err
		}},
		{"list containers: unknown state", codes.OK, func(ctx context.Context) error {
			_, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: 42}, PodSandboxId: huge}})
			return err
		}},
		{"list container stats: unknown pod", codes.OK, func(ctx context.Context) error {
			_, err := rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: "nope", Id: "x"}})
			return err
		}},
		{"list pod stats: unknown id", codes.OK, func(ctx context.Context) error {
			_, err := rt.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{Id: huge}})
			return err
		}},
		{"list pod metrics", codes.OK, func(ctx context.Context) error {
			_, err := rt.ListPodSandboxMetrics(ctx, &runtimeapi.ListPodSandboxMetricsRequest{})
			return err
		}},
		{"list images: filter on an unknown image", codes.OK, func(ctx context.Context) error {
			_, err := is.ListImages(ctx, &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "UPPER::bad"}}})
			return err
		}},
		{"status verbose", codes.OK, func(ctx context.Context) error {
			_, err := rt.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
			return err
		}},
		{"update runtime config: bad CIDR", inv, func(ctx context.Context) error {
			_, err := rt.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{RuntimeConfig: &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: "10.0.0.0/99"}}})
			return err
		}},
		// Stop and remove are idempotent for what is not there.
		{"stop pod: unknown", codes.OK, func(ctx context.Context) error {
			_, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: "nope"})
			return err
		}},
		{"remove pod: unknown", codes.OK, func(ctx context.Context) error {
			_, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: "nope"})
			return err
		}},
		{"stop pod: no id", inv, func(ctx context.Context) error {
			_, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{})
			return err
		}},
		{"stop container: unknown", codes.OK, func(ctx context.Context) error {
			_, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: "nope"})
			return err
		}},
		{"stop container: negative timeout on an exited one", codes.OK, func(ctx context.Context) error {
			_, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: exitedID, Timeout: -5})
			return err
		}},
		{"remove container: unknown", codes.OK, func(ctx context.Context) error {
			_, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: "nope"})
			return err
		}},
		{"exec sync: negative timeout", inv, func(ctx context.Context) error {
			_, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ctrID, Cmd: []string{"/testproc", "echo"}, Timeout: -1})
			return err
		}},
		{"exec: tty with stderr", inv, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: ctrID, Cmd: []string{"sh"}, Tty: true, Stdout: true, Stderr: true})
			return err
		}},
		{"attach: exited", fp, func(ctx context.Context) error {
			_, err := rt.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: exitedID, Stdout: true})
			return err
		}},
		{"checkpoint container", codes.Unimplemented, func(ctx context.Context) error {
			_, err := rt.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: ctrID, Location: "/tmp/x"})
			return err
		}},
		{"image status: no image", inv, func(ctx context.Context) error {
			_, err := is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{})
			return err
		}},
		{"remove image: no image", inv, func(ctx context.Context) error {
			_, err := is.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{})
			return err
		}},
	}
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := c.call(ctx)
		cancel()
		if got := status.Code(err); got != c.want {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.want)
		}
	}

	e.removeAll()
}

// TestCancelledCalls cuts RunPodSandbox and StartContainer short at random
// points with client deadlines: each either happened or was undone, and
// nothing is left once the pods are removed.
func TestCancelledCalls(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("cancel")
	rt := e.d.Runtime
	for i := range 8 {
		id := e.create(podID, pod, "c"+string(rune('a'+i)))
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+rand.IntN(80))*time.Millisecond)
		_, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
		cancel()
		if c := status.Code(err); c == codes.Unknown {
			t.Errorf("StartContainer cut short: %v", err)
		}
		// Whatever the client saw, the container ends up running, or exited
		// with its start undone; never created with a task half made.
		waitFor(t, "the cut start of "+id[:12]+" to settle", func() bool {
			st := e.status(id).State
			return st == runtimeapi.ContainerState_CONTAINER_RUNNING || st == runtimeapi.ContainerState_CONTAINER_EXITED
		})
	}
	for i := range 4 {
		cfg := e.own(podConfig("cancel-pod-" + string(rune('a'+i))))
		if i%2 == 1 {
			cfg = e.own(sharedPIDPodConfig(cfg.Metadata.Name))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+rand.IntN(120))*time.Millisecond)
		_, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: proto.Clone(cfg).(*runtimeapi.PodSandboxConfig)})
		cancel()
		if c := status.Code(err); c == codes.Unknown {
			t.Errorf("RunPodSandbox cut short: %v", err)
		}
	}
	time.Sleep(time.Second) // calls the server finishes after the client left
	e.removeAll()
}

// TestExecRacingStop: ExecSync calls racing the container's stop get an
// exit code or FailedPrecondition/NotFound, never Unknown.
func TestExecRacingStop(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("exec-stop")
	rt := e.d.Runtime
	for round := range 3 {
		id := e.create(podID, pod, "c"+string(rune('a'+round)))
		e.start(id)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			seen = map[codes.Code]int{}
			done = make(chan struct{})
		)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					_, err := rt.ExecSync(context.Background(), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"/testproc", "echo", "x"}, Timeout: 10})
					if status.Code(err) == codes.Unknown {
						t.Errorf("ExecSync racing a stop: %v", err)
					}
					mu.Lock()
					seen[status.Code(err)]++
					mu.Unlock()
				}
			}()
		}
		time.Sleep(100 * time.Millisecond)
		if _, err := rt.StopContainer(testutil.Ctx(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 0}); err != nil {
			t.Fatalf("StopContainer: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
		close(done)
		wg.Wait()
		t.Logf("round %d: %v", round, seen)
	}
	e.removeAll()
}

// TestExecFailures: an exec whose command cannot start is an error with the
// code containerd 2.4.2 gives the same request (Unknown, the shim's: see
// docs/kubelet.md), naming what failed, and never an exit code: not for a
// missing binary, a directory, nor a working directory
// removed after the start (runc: "chdir to cwd"). An exec while the pod's
// shim is gone is FailedPrecondition or Unavailable.
func TestExecFailures(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("execfail")
	id := e.createWith(podID, pod, "c", func(c *runtimeapi.ContainerConfig) {
		c.WorkingDir = "/work"
		c.Args = []string{"sleep", "600"}
	})
	e.start(id)
	rt := e.d.Runtime
	execErr := func(what string, cmd ...string) error {
		t.Helper()
		resp, err := rt.ExecSync(testutil.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 10})
		if err == nil {
			t.Errorf("%s: ExecSync %v answered exit %d (stderr %q), want an error", what, cmd, resp.ExitCode, resp.Stderr)
		}
		return err
	}
	for _, c := range []struct {
		what, names string
		cmd         []string
	}{
		{"missing binary", "/no/such/binary", []string{"/no/such/binary"}},
		{"a directory", "is a directory", []string{"/work"}},
	} {
		if err := execErr(c.what, c.cmd...); err != nil && (status.Code(err) != codes.Unknown || !strings.Contains(err.Error(), c.names)) {
			t.Errorf("%s: %v; want Unknown naming %q", c.what, err, c.names)
		}
	}
	if out := e.exec(id, "/testproc", "rm", "/work"); out != "" {
		t.Fatalf("rm /work: %q", out)
	}
	if err := execErr("working directory removed", "/testproc", "echo"); err != nil && (status.Code(err) != codes.Unknown || !strings.Contains(err.Error(), "chdir to cwd")) {
		t.Errorf("working directory removed: %v; want Unknown naming runc's chdir", err)
	}
	shims := e.d.Shims()
	if len(shims) != 1 {
		t.Fatalf("%d shims, want the pod's", len(shims))
	}
	syscall.Kill(shims[0], syscall.SIGKILL)
	if err := execErr("shim killed", "/testproc", "echo"); err != nil {
		if c := status.Code(err); c != codes.FailedPrecondition && c != codes.Unavailable {
			t.Errorf("exec while the pod's shim is gone: %v; want FailedPrecondition or Unavailable", err)
		}
	}
	e.removeAll()
}
