package windowse2e

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wincri/wincri/test/kubeletapi"
)

// winNode is the Windows kubelet's node name: static pod NAME runs as
// NAME-winNode.
const winNode = "wincri-win"

// winKubelet is an unmodified kubelet.exe (hack/build-kubelet.sh,
// KUBELET_GOOS=windows) in standalone mode against wincri.exe's pipe.
type winKubelet struct {
	*kubeletapi.Client
	t       *testing.T
	e       *env
	bin     string
	dir     string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	started time.Time
	// in a cluster (TestWindowsNodeInCluster): the API server's
	// authentication and authorization instead of AlwaysAllow, and these
	// flags (kubeconfig, node IP)
	auth    string
	flags   []string
	address string // what the kubelet's API listens on (127.0.0.1 if empty)
}

func startWinKubelet(t *testing.T, e *env) *winKubelet {
	t.Helper()
	k := newWinKubelet(t, e)
	k.launch("{}")
	return k
}

// newWinKubelet prepares a kubelet.exe; launch starts it.
func newWinKubelet(t *testing.T, e *env) *winKubelet {
	t.Helper()
	bin := filepath.Join(e.bin, "kubelet.exe")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v: hack/windows-e2e.sh builds kubelet.exe", err)
	}
	k := &winKubelet{t: t, e: e, bin: bin, dir: t.TempDir(), port: kubeletapi.FreePort(t)}
	for _, d := range []string{"manifests", "root", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(k.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		k.stop()
		// kept beside the binaries for a look after the run
		if b, err := os.ReadFile(k.logPath()); err == nil {
			os.WriteFile(filepath.Join(e.bin, "kubelet-last.log"), b, 0o644)
		}
		if t.Failed() {
			b, _ := os.ReadFile(k.logPath())
			t.Logf("kubelet.exe log (errors and the last lines):\n%s", kubeletapi.ErrorsAndTail(string(b), 80))
			e.keepLogs(k.logPath())
		}
	})
	return k
}

// launch writes the kubelet's configuration with featureGates (a YAML
// map) and starts it, its log appended to the one file.
func (k *winKubelet) launch(featureGates string) {
	t, e, dir := k.t, k.e, k.dir
	t.Helper()
	// What a Windows node needs: no QoS cgroups, no node-allocatable
	// enforcement, no resolv.conf; thresholds so low that this machine's
	// disk and memory never evict.
	write(t, filepath.Join(dir, "config.yaml"), fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzPort: 0
staticPodPath: '%s'
fileCheckFrequency: 1s
syncFrequency: 5s
%s
cgroupsPerQOS: false
enforceNodeAllocatable: []
resolvConf: ""
failSwapOn: false
containerRuntimeEndpoint: 'npipe://%s'
imageServiceEndpoint: 'npipe://%s'
podLogsDir: '%s'
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
serializeImagePulls: false
registerNode: %v
featureGates: %s
`, cmp.Or(k.address, "127.0.0.1"), k.port, filepath.Join(dir, "manifests"), k.authConfig(), strings.ReplaceAll(e.pipe, `\`, "/"), strings.ReplaceAll(e.pipe, `\`, "/"),
		filepath.Join(dir, "pod-logs"), k.auth != "", featureGates))
	logf, err := os.OpenFile(k.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	k.exited = make(chan struct{})
	k.Client = kubeletapi.NewClient(t, k.port, k.exited)
	k.cmd = exec.Command(k.bin, append([]string{"--config", filepath.Join(dir, "config.yaml"), "--root-dir", filepath.Join(dir, "root"),
		"--hostname-override", winNode, "--v", "2"}, k.flags...)...)
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	k.started = time.Now()
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(k.cmd, k.exited)
	if k.auth == "" { // in a cluster its API admits only the API server's clients
		k.WaitFor("the kubelet API", 120*time.Second, func() bool { _, err := k.Get("/pods"); return err == nil })
	}
}

// authConfig: standalone, anonymous with AlwaysAllow; in a cluster, k.auth.
func (k *winKubelet) authConfig() string {
	if k.auth != "" {
		return k.auth
	}
	return `authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}`
}

// restart stops the kubelet and starts it again with featureGates.
func (k *winKubelet) restart(featureGates string) {
	k.t.Helper()
	k.stop()
	k.launch(featureGates)
}

func (k *winKubelet) logPath() string { return filepath.Join(k.dir, "kubelet.log") }

// stop ends kubelet.exe (TerminateProcess: Windows has no SIGTERM).
func (k *winKubelet) stop() {
	if k.cmd == nil {
		return
	}
	k.cmd.Process.Kill()
	<-k.exited
	k.cmd = nil
}

func (k *winKubelet) addManifest(name, yaml string) {
	k.t.Helper()
	write(k.t, filepath.Join(k.dir, "manifests", name+".yaml"), yaml)
}

func (k *winKubelet) removeManifest(name string) {
	k.t.Helper()
	if err := os.Remove(filepath.Join(k.dir, "manifests", name+".yaml")); err != nil {
		k.t.Fatal(err)
	}
}

// problems are the kubelet log's warning and error lines (klog's W and E),
// each message once, with how often it came.
func (k *winKubelet) problems() []string {
	b, _ := os.ReadFile(k.logPath())
	count := map[string]int{}
	head := regexp.MustCompile(`^[WE]\d{4} [\d:.]+\s+\d+ `)
	for _, l := range strings.Split(string(b), "\n") {
		if m := head.FindString(l); m != "" {
			msg := l[len(m):]
			if len(msg) > 240 {
				msg = msg[:240]
			}
			count[l[:1]+" "+msg]++
		}
	}
	var out []string
	for m, n := range count {
		out = append(out, fmt.Sprintf("%4d× %s", n, m))
	}
	sort.Strings(out)
	return out
}

// The pods: one container with an exec readiness and liveness probe; two
// containers, one whose liveness probe fails once (the kubelet restarts it)
// and one burning a CPU; one whose container exits 3 (its restart policy
// restarts it).
func soloPod(image string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: default}
spec:
  containers:
  - name: app
    image: ` + image + `
    command: ['C:\winproc.exe', tick, solo]
    readinessProbe: {exec: {command: ['C:\winproc.exe', exit, '0']}, periodSeconds: 2}
    livenessProbe: {exec: {command: ['C:\winproc.exe', exit, '0']}, periodSeconds: 3}
`
}

func duoPod(image, marker string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: duo, namespace: default}
spec:
  containers:
  - name: ticker
    image: ` + image + `
    command: ['C:\winproc.exe', tick, duo]
    readinessProbe: {exec: {command: ['C:\winproc.exe', exit, '0']}, periodSeconds: 2}
    livenessProbe: {exec: {command: ['C:\winproc.exe', failonce, '` + marker + `']}, periodSeconds: 3, failureThreshold: 1}
  - name: burner
    image: ` + image + `
    command: ['C:\winproc.exe', burn]
    resources: {requests: {cpu: 100m, memory: 32Mi}, limits: {cpu: 500m, memory: 64Mi}}
`
}

func quitterPod(image string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: quitter, namespace: default}
spec:
  restartPolicy: Always
  containers:
  - name: quit
    image: ` + image + `
    command: ['C:\winproc.exe', exit, '3']
`
}
