package windowse2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wincri/wincri/test/kubeletapi"
)

// checkKubeProxy: an unmodified kube-proxy.exe v1.37.2 (WINCRI_KUBE_PROXY,
// built by hack/cluster-windows.sh) runs in winkernel mode on the Windows
// node against the emulated HCN. A ClusterIP Service for win-app must
// become an HNS load balancer whose VIP is the Service's cluster IP, whose
// port mapping is the Service's, and whose backend is the HCN endpoint of
// the pod (the one with the pod's IP); the Service's deletion must remove
// it. The emulator records load balancers and does not forward their
// traffic (the Linux node's kube-proxy on this machine owns cluster IPs).
func checkKubeProxy(t *testing.T, api *apiServer, e *env, dir string, pod podItem) {
	exe := os.Getenv("WINCRI_KUBE_PROXY")
	if exe == "" {
		t.Fatal("WINCRI_KUBE_PROXY is not set: hack/cluster-windows.sh builds kube-proxy.exe and sets it")
	}
	work := t.TempDir()
	kc := filepath.Join(work, "kube-proxy.kubeconfig")
	writeKubeconfig(t, kc, api.base, dir, "admin")
	logPath := filepath.Join(work, "kube-proxy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// Health and metrics beside the Linux node's kube-proxy on this machine.
	cmd := exec.Command(exe, "--kubeconfig", kc, "--proxy-mode", "kernelspace", "--hostname-override", winNode,
		"--healthz-bind-address", "127.0.0.1:10356", "--metrics-bind-address", "127.0.0.1:10349", "--v", "2")
	cmd.Env = append(os.Environ(), "KUBE_NETWORK=cbr0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
		b, _ := os.ReadFile(logPath)
		t.Logf("kube-proxy.exe log (errors and the last lines):\n%s", kubeletapi.ErrorsAndTail(string(b), 40))
	}()

	svc := map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "win-svc", "namespace": "default"},
		"spec": map[string]any{"selector": map[string]any{"app": "win-app"},
			"ports": []any{map[string]any{"port": 8080, "targetPort": 80, "protocol": "TCP"}}},
	}
	api.do("DELETE", "/api/v1/namespaces/default/services/win-svc", nil, nil) // a failed run's
	var created struct {
		Spec struct{ ClusterIP string } `json:"spec"`
	}
	api.must("POST", "/api/v1/namespaces/default/services", svc, &created)
	defer api.do("DELETE", "/api/v1/namespaces/default/services/win-svc", nil, nil)
	vip := created.Spec.ClusterIP

	var backend string
	for _, ep := range e.emu.HCNObjects("endpoint") {
		ipcs, _ := ep["IpConfigurations"].([]any)
		for _, ipc := range ipcs {
			if m, _ := ipc.(map[string]any); m != nil && m["IpAddress"] == pod.Status.PodIP {
				backend = strings.ToLower(fmt.Sprint(ep["ID"]))
			}
		}
	}
	if backend == "" || pod.Status.PodIP == "" {
		t.Fatalf("no HCN endpoint holds the pod's IP %q: %v", pod.Status.PodIP, e.emu.HCNObjects("endpoint"))
	}
	lbFor := func() map[string]any {
		for _, lb := range e.emu.HCNObjects("loadbalancer") {
			if vips, _ := lb["FrontendVIPs"].([]any); slices.ContainsFunc(vips, func(v any) bool { return v == vip }) {
				return lb
			}
		}
		return nil
	}
	var lb map[string]any
	waitUntil(t, "kube-proxy.exe's load balancer for "+vip, 3*time.Minute, exited, func() bool { lb = lbFor(); return lb != nil })
	t.Logf("load balancer kube-proxy.exe created for %s: %v", vip, lb)
	eps, _ := lb["HostComputeEndpoints"].([]any)
	if len(eps) != 1 || strings.ToLower(fmt.Sprint(eps[0])) != backend {
		t.Errorf("load balancer backends %v, want the pod's endpoint %s", eps, backend)
	}
	pms, _ := lb["PortMappings"].([]any)
	pm, _ := func() (map[string]any, bool) {
		if len(pms) != 1 {
			return nil, false
		}
		m, ok := pms[0].(map[string]any)
		return m, ok
	}()
	if fmt.Sprint(pm["Protocol"]) != "6" || fmt.Sprint(pm["InternalPort"]) != "80" || fmt.Sprint(pm["ExternalPort"]) != "8080" {
		t.Errorf("load balancer port mappings %v, want TCP 8080 -> 80", pms)
	}
	api.must("DELETE", "/api/v1/namespaces/default/services/win-svc", nil, nil)
	waitUntil(t, "the load balancer removed with the Service", 2*time.Minute, exited, func() bool { return lbFor() == nil })
}

// waitUntil polls ok every 500 ms, failing at the deadline or when the
// program watched (exited) ends first.
func waitUntil(t *testing.T, what string, d time.Duration, exited chan struct{}, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(500 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("kube-proxy.exe exited while waiting for %s", what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}
