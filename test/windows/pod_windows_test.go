package windowse2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/hcsemu"
)

func podConfig(name, logDir string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: name + "-uid"},
		Hostname:     name,
		LogDirectory: logDir,
		Labels:       map[string]string{"app": name},
	}
}

// runPod pulls the workload image and runs a pod.
func (e *env) runPod(pcfg *runtimeapi.PodSandboxConfig) string {
	e.t.Helper()
	e.pull(e.image)
	run, err := e.rt.RunPodSandbox(ctx(e.t), &runtimeapi.RunPodSandboxRequest{Config: pcfg})
	if err != nil {
		e.fatal("run pod %s: %v", pcfg.Metadata.Name, err)
	}
	return run.PodSandboxId
}

func (e *env) pull(image string) {
	e.t.Helper()
	if _, err := e.img.PullImage(ctx(e.t), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}}); err != nil {
		e.fatal("pull %s: %v", image, err)
	}
}

// fatal fails the test (the cleanup attaches wincri's log).
func (e *env) fatal(format string, args ...any) {
	e.t.Helper()
	e.t.Fatalf(format, args...)
}

// startContainer creates and starts a container of the pod.
func (e *env) startContainer(pod string, pcfg *runtimeapi.PodSandboxConfig, name, image string, cmd []string, envs ...string) string {
	e.t.Helper()
	cfg := &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image: &runtimeapi.ImageSpec{Image: image}, LogPath: name + ".log", Command: cmd}
	for i := 0; i+1 < len(envs); i += 2 {
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: envs[i], Value: []byte(envs[i+1])})
	}
	c := ctx(e.t)
	ctr, err := e.rt.CreateContainer(c, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, SandboxConfig: pcfg, Config: cfg})
	if err != nil {
		e.fatal("create %s: %v", name, err)
	}
	if _, err := e.rt.StartContainer(c, &runtimeapi.StartContainerRequest{ContainerId: ctr.ContainerId}); err != nil {
		e.fatal("start %s: %v", name, err)
	}
	return ctr.ContainerId
}

// process returns the emulator's record of the process of a system whose
// command line contains sub.
func (e *env) process(system, sub string) (hcsemu.Process, bool) {
	for _, p := range e.emu.Processes() {
		if p.System == system && strings.Contains(p.CommandLine, sub) {
			return p, true
		}
	}
	return hcsemu.Process{}, false
}

func logHas(path, s string) func() bool {
	return func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), s)
	}
}

// TestWindowsPod runs a process-isolated pod through wincri.exe, the real
// runhcs shim and the real CNI plugins, against the emulated HCS/HCN, and
// checks what reached HCS and HCN at each step.
func TestWindowsPod(t *testing.T) {
	e := newEnv(t)
	e.pull(e.escImage)
	logDir := t.TempDir()
	pcfg := podConfig("web", logDir)
	pod := e.runPod(pcfg)
	c := ctx(t)

	// The pod is a compute system whose container joins the pod's HCN
	// namespace, which holds the endpoint win-bridge created.
	namespaces := e.emu.HCNObjects("namespace")
	if len(namespaces) != 1 {
		t.Fatalf("HCN namespaces: %v", namespaces)
	}
	ns := namespaces[0]
	res, _ := json.Marshal(ns["Resources"])
	if eps := e.emu.HCNObjects("endpoint"); len(eps) != 1 || !strings.Contains(strings.ToLower(string(res)), strings.ToLower(eps[0]["ID"].(string))) {
		t.Fatalf("endpoint not in namespace: endpoints %v, namespace %v", eps, ns)
	}
	sys := e.system(pod)
	if !strings.EqualFold(sys.Namespace, ns["ID"].(string)) || sys.State != "Running" {
		t.Fatalf("pod system %+v, namespace %v", sys, ns["ID"])
	}
	status, err := e.rt.PodSandboxStatus(c, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
	if err != nil || status.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY || status.Status.Network.GetIp() != "10.88.0.2" {
		t.Fatalf("pod status %v %v", status, err)
	}

	// A container: its output reaches the CRI log, its environment the
	// process, and an exec's command line is built from its arguments.
	app := e.startContainer(pod, pcfg, "app", e.image, nil, "GREETING", "hi")
	waitFor(t, "app output in the CRI log", logHas(filepath.Join(logDir, "app.log"), "stdout F hello 2"))
	ex, err := e.rt.ExecSync(c, &runtimeapi.ExecSyncRequest{ContainerId: app, Cmd: []string{`C:\winproc.exe`, "env", "GREETING"}, Timeout: 30})
	if err != nil || ex.ExitCode != 0 || !strings.Contains(string(ex.Stdout), "GREETING=hi") {
		t.Fatalf("exec: %v %+v", err, ex)
	}
	if _, ok := e.process(app, `C:\winproc.exe env GREETING`); !ok {
		t.Fatalf("no exec process with the expected command line: %+v", e.emu.Processes())
	}
	ex, err = e.rt.ExecSync(c, &runtimeapi.ExecSyncRequest{ContainerId: app, Cmd: []string{`C:\winproc.exe`, "exit", "3"}, Timeout: 30})
	if err != nil || ex.ExitCode != 3 || !strings.Contains(string(ex.Stderr), "exiting with 3") {
		t.Fatalf("exec exit 3: %v %+v", err, ex)
	}

	// An image built with ArgsEscaped: its command line reaches HCS as
	// written, and an exec in it runs the exec's command, not the image's.
	esc := e.startContainer(pod, pcfg, "esc", e.escImage, nil)
	waitFor(t, "escaped output", logHas(filepath.Join(logDir, "esc.log"), "stdout F escaped 1"))
	if _, ok := e.process(esc, `C:\winproc.exe tick escaped`); !ok {
		t.Fatalf("ArgsEscaped command line did not reach HCS as written: %+v", e.emu.Processes())
	}
	ex, err = e.rt.ExecSync(c, &runtimeapi.ExecSyncRequest{ContainerId: esc, Cmd: []string{`C:\winproc.exe`, "env", "X"}, Timeout: 30})
	if err != nil || ex.ExitCode != 0 || !strings.Contains(string(ex.Stdout), "X=") || strings.Contains(string(ex.Stdout), "escaped") {
		t.Fatalf("exec in the ArgsEscaped container: %v %+v", err, ex)
	}
	if _, ok := e.process(esc, `C:\winproc.exe env X`); !ok {
		t.Fatalf("exec in the ArgsEscaped container kept the image's CommandLine: %+v", e.emu.Processes())
	}

	e.checkStreams(app)
	e.checkStats(pod, pcfg)
	e.checkUpdate(app)
	e.checkRestart(pod, app, filepath.Join(logDir, "app.log"))
	e.removeAll(pod)
}

func (e *env) system(id string) hcsemu.System {
	e.t.Helper()
	for _, s := range e.emu.Systems() {
		if s.ID == id {
			return s
		}
	}
	e.fatal("no compute system %s in %+v", id, e.emu.Systems())
	return hcsemu.System{}
}

// checkStats: a container burning CPU shows in ContainerStats,
// PodSandboxStats and ListPodSandboxStats with usageNanoCores.
func (e *env) checkStats(pod string, pcfg *runtimeapi.PodSandboxConfig) {
	t := e.t
	burn := e.startContainer(pod, pcfg, "burn", e.image, []string{`C:\winproc.exe`, "burn"})
	c := ctx(t)
	var cores uint64
	waitFor(t, "usageNanoCores of the burning container", func() bool {
		s, err := e.rt.ContainerStats(c, &runtimeapi.ContainerStatsRequest{ContainerId: burn})
		if err != nil {
			t.Fatalf("container stats: %v", err)
		}
		cores = s.Stats.GetCpu().GetUsageNanoCores().GetValue()
		// it spins a CPU: well above what a pause or a ticker uses
		return cores > 300_000_000 && s.Stats.GetMemory().GetWorkingSetBytes().GetValue() > 0
	})
	ps, err := e.rt.PodSandboxStats(c, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: pod})
	if err != nil {
		t.Fatal(err)
	}
	w := ps.Stats.GetWindows()
	if w == nil || w.Cpu.GetUsageNanoCores() == nil || len(w.Containers) < 3 || w.Network == nil {
		t.Fatalf("pod stats: %+v", ps.Stats)
	}
	list, err := e.rt.ListPodSandboxStats(c, &runtimeapi.ListPodSandboxStatsRequest{})
	if err != nil || len(list.Stats) != 1 || list.Stats[0].Attributes.Id != pod {
		t.Fatalf("list pod stats: %v %v", list, err)
	}
	if _, err := e.rt.StopContainer(c, &runtimeapi.StopContainerRequest{ContainerId: burn, Timeout: 5}); err != nil {
		t.Fatal(err)
	}
	t.Logf("burning container: %d nanocores", cores)
}

// checkUpdate: UpdateContainerResources reaches HCS as a modify request
// and shows in the container's status.
func (e *env) checkUpdate(app string) {
	t := e.t
	c := ctx(t)
	before := len(e.emu.Calls("HcsModifyComputeSystem"))
	_, err := e.rt.UpdateContainerResources(c, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: app,
		Windows: &runtimeapi.WindowsContainerResources{CpuMaximum: 5000, MemoryLimitInBytes: 256 << 20}})
	if err != nil {
		e.fatal("update: %v", err)
	}
	calls := e.emu.Calls("HcsModifyComputeSystem")
	if len(calls) <= before {
		t.Fatalf("no HcsModifyComputeSystem after UpdateContainerResources")
	}
	// What reached HCS: 256 MB and half the host's CPUs (runhcs sends each
	// as its own request; the emulator records what it accepted).
	var lim hcsemu.Limits
	for _, sys := range e.emu.Systems() {
		if sys.ID == app {
			lim = sys.Limits
		}
	}
	if lim != (hcsemu.Limits{MemoryMB: 256, Processor: hcsemu.Processor{Maximum: 5000}}) {
		t.Fatalf("limits in HCS after the update: %+v (modify calls: %+v)", lim, calls[before:])
	}
	st, err := e.rt.ContainerStatus(c, &runtimeapi.ContainerStatusRequest{ContainerId: app})
	if err != nil || st.Status.GetResources().GetWindows().GetMemoryLimitInBytes() != 256<<20 {
		t.Fatalf("status after update: %v %v", st.GetStatus().GetResources(), err)
	}
}

// checkRestart: after TerminateProcess of wincri.exe (kill -9) and a new
// start, the pod and its container are reattached and the container's
// output is still logged.
func (e *env) checkRestart(pod, app, log string) {
	t := e.t
	e.stopDaemon()
	b, _ := os.ReadFile(log)
	lines := strings.Count(string(b), "\n")
	e.startDaemon()
	c := ctx(t)
	waitFor(t, "pod ready after the restart", func() bool {
		st, err := e.rt.PodSandboxStatus(c, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
		return err == nil && st.Status.State == runtimeapi.PodSandboxState_SANDBOX_READY
	})
	st, err := e.rt.ContainerStatus(c, &runtimeapi.ContainerStatusRequest{ContainerId: app})
	if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("app after restart: %v %v", st, err)
	}
	waitFor(t, "app output logged after the restart", func() bool {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "\n") > lines+5
	})
	ex, err := e.rt.ExecSync(c, &runtimeapi.ExecSyncRequest{ContainerId: app, Cmd: []string{`C:\winproc.exe`, "env", "GREETING"}, Timeout: 30})
	if err != nil || ex.ExitCode != 0 || !strings.Contains(string(ex.Stdout), "GREETING=hi") {
		t.Fatalf("exec after restart: %v %+v", err, ex)
	}
}

// removeAll stops and removes the pod and checks nothing is left in HCS
// or HCN.
func (e *env) removeAll(pod string) {
	t := e.t
	c := ctx(t)
	if _, err := e.rt.StopPodSandbox(c, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
		e.fatal("stop pod: %v", err)
	}
	if _, err := e.rt.RemovePodSandbox(c, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		e.fatal("remove pod: %v", err)
	}
	e.waitEmpty(t)
}

// waitEmpty waits until HCS has no compute system and no mounted layer,
// HCN no namespace and no endpoint, and no container process runs.
func (e *env) waitEmpty(t *testing.T) {
	t.Helper()
	empty := func() bool {
		return len(e.emu.Systems()) == 0 && len(e.emu.HCNObjects("namespace")) == 0 &&
			len(e.emu.HCNObjects("endpoint")) == 0 && len(e.emu.Layers()) == 0
	}
	for deadline := time.Now().Add(60 * time.Second); !empty(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("HCS and HCN not empty after 60s: systems %+v, namespaces %v, endpoints %v, layers %v",
				e.emu.Systems(), e.emu.HCNObjects("namespace"), e.emu.HCNObjects("endpoint"), e.emu.Layers())
		}
	}
	for _, p := range e.emu.Processes() {
		if !p.Exited {
			t.Errorf("process left running: %+v", p)
		}
	}
	if m := hcsemu.Mounted(); len(m) != 0 {
		t.Errorf("mapped directories left mounted: %v", m)
	}
	if a := e.emu.EndpointAddresses(); len(a) != 0 {
		t.Errorf("endpoint addresses left on the host: %v", a)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// checkStreams: a streaming exec with stdin (the shim closes the process's
// stdin through HCS when the client closes it) and an attach to the
// container's output, both through wincri's streaming server.
func (e *env) checkStreams(app string) {
	t := e.t
	c := ctx(t)
	ex, err := e.rt.Exec(c, &runtimeapi.ExecRequest{ContainerId: app, Cmd: []string{`C:\winproc.exe`, "cat"}, Stdin: true, Stdout: true})
	if err != nil {
		e.fatal("exec: %v", err)
	}
	s := openStream(t, ex.Url, true, true, false)
	if _, err := s.stdin.Write([]byte("ping from stdin\n")); err != nil {
		t.Fatal(err)
	}
	s.stdin.Close()
	if out, err := readUntil(s.stdout, "ping from stdin", 30*time.Second); err != nil {
		e.fatal("streaming exec: %v (%q)", err, out)
	}
	if st := s.status(t, 30*time.Second); !strings.Contains(st, `"status":"Success"`) {
		t.Fatalf("streaming exec status: %q", st)
	}
	s.conn.Close()
	if _, ok := e.process(app, `C:\winproc.exe cat`); !ok {
		t.Fatalf("no cat process in HCS: %+v", e.emu.Processes())
	}
	at, err := e.rt.Attach(c, &runtimeapi.AttachRequest{ContainerId: app, Stdout: true})
	if err != nil {
		e.fatal("attach: %v", err)
	}
	a := openStream(t, at.Url, false, true, false)
	if out, err := readUntil(a.stdout, "hello", 30*time.Second); err != nil {
		e.fatal("attach: %v (%q)", err, out)
	}
	a.conn.Close()
}
