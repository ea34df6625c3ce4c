package windowse2e

import (
	"os"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func podConfig(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: name + "-uid"},
		Hostname:     name,
		LogDirectory: "",
		Labels:       map[string]string{"app": name},
	}
}

// TestWindowsPod runs a process-isolated pod through wincri.exe, the real
// runhcs shim and the real CNI plugins, against the emulated HCS/HCN.
func TestWindowsPod(t *testing.T) {
	e := newEnv(t)
	c := ctx(t)
	v, err := e.rt.Version(c, &runtimeapi.VersionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("runtime %s %s", v.RuntimeName, v.RuntimeVersion)
	if _, err := e.img.PullImage(c, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: e.image}}); err != nil {
		dumpFile(t, "wincri log", e.logPath())
		t.Fatalf("pull: %v", err)
	}
	logDir := t.TempDir()
	pcfg := podConfig("web")
	pcfg.LogDirectory = logDir
	pod, err := e.rt.RunPodSandbox(c, &runtimeapi.RunPodSandboxRequest{Config: pcfg})
	if err != nil {
		dumpFile(t, "wincri log", e.logPath())
		t.Fatalf("run pod: %v", err)
	}
	ctr, err := e.rt.CreateContainer(c, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, SandboxConfig: pcfg,
		Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "app"}, Image: &runtimeapi.ImageSpec{Image: e.image},
			LogPath: "app.log", Envs: []*runtimeapi.KeyValue{{Key: "GREETING", Value: []byte("hi")}}}})
	if err != nil {
		dumpFile(t, "wincri log", e.logPath())
		t.Fatalf("create: %v", err)
	}
	if _, err := e.rt.StartContainer(c, &runtimeapi.StartContainerRequest{ContainerId: ctr.ContainerId}); err != nil {
		dumpFile(t, "wincri log", e.logPath())
		t.Fatalf("start: %v", err)
	}
	waitFor(t, "container output in the CRI log", func() bool {
		b, _ := os.ReadFile(logDir + `\app.log`)
		return strings.Contains(string(b), "stdout F hello 2")
	})
	ex, err := e.rt.ExecSync(c, &runtimeapi.ExecSyncRequest{ContainerId: ctr.ContainerId, Cmd: []string{`C:\winproc.exe`, "env", "GREETING"}, Timeout: 30})
	if err != nil || ex.ExitCode != 0 || !strings.Contains(string(ex.Stdout), "GREETING=hi") {
		t.Fatalf("exec: %v %+v", err, ex)
	}
	if _, err := e.rt.StopPodSandbox(c, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod.PodSandboxId}); err != nil {
		t.Fatalf("stop pod: %v", err)
	}
	if _, err := e.rt.RemovePodSandbox(c, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod.PodSandboxId}); err != nil {
		t.Fatalf("remove pod: %v", err)
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
