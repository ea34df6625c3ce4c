package windowse2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// apiServer is the cluster's API server (hack/cluster.sh), spoken to as its
// admin, over REST (no client library in this module).
type apiServer struct {
	t    *testing.T
	base string
	tls  *tls.Config
	http *http.Client
}

func newAPIServer(t *testing.T, dir string) *apiServer {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", "admin.crt"), filepath.Join(dir, "pki", "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}
	return &apiServer{t: t, base: "https://127.0.0.1:16443", tls: cfg,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}}
}

// do sends a request with a JSON body (nil for none) and decodes the
// answer into out (nil to drop it); a status of 300 or more is an error.
func (a *apiServer) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (a *apiServer) must(method, path string, body, out any) {
	a.t.Helper()
	if err := a.do(method, path, body, out); err != nil {
		a.t.Fatal(err)
	}
}

type podItem struct {
	Metadata struct{ Name string } `json:"metadata"`
	Spec     struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase             string `json:"phase"`
		PodIP             string `json:"podIP"`
		ContainerStatuses []struct {
			Ready       bool   `json:"ready"`
			ContainerID string `json:"containerID"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

// runningPods are the Running pods of app=NAME with their containers ready.
func (a *apiServer) runningPods(app string) []podItem {
	var l struct{ Items []podItem }
	if a.do("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3D"+app, nil, &l) != nil {
		return nil
	}
	var out []podItem
	for _, p := range l.Items {
		if p.Status.Phase == "Running" && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].Ready {
			out = append(out, p)
		}
	}
	return out
}

// TestWindowsNodeInCluster: the Windows kubelet of TestWindowsKubelet joins
// the cluster hack/cluster.sh runs (WINCRI_CLUSTER_DIR, its state directory
// as a Windows path) as a Windows node on wincri.exe; a Deployment for
// Windows runs there, its logs and exec work through the API server, and an
// HPA scales it from wincri.exe's stats through metrics-server.
func TestWindowsNodeInCluster(t *testing.T) {
	dir := os.Getenv("WINCRI_CLUSTER_DIR")
	if dir == "" {
		t.Skip("WINCRI_CLUSTER_DIR is not set: make test-cluster-windows brings the cluster up and sets it")
	}
	api := newAPIServer(t, dir)
	nodeIP, err := os.ReadFile(filepath.Join(dir, "node-ip"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	k := newWinKubelet(t, e)
	kc := filepath.Join(k.dir, "kubelet.kubeconfig")
	writeKubeconfig(t, kc, api.base, dir, "kubelet-win")
	k.auth = fmt.Sprintf(`authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: '%s'}
authorization: {mode: Webhook}`, filepath.Join(dir, "pki", "ca.crt"))
	k.flags = []string{"--kubeconfig", kc, "--node-ip", strings.TrimSpace(string(nodeIP)), "--cert-dir", filepath.Join(k.dir, "pki")}
	k.port = 11251 // beside the Linux node's 11250
	k.address = strings.TrimSpace(string(nodeIP))
	k.launch("{}")
	t.Cleanup(func() { api.do("DELETE", "/api/v1/nodes/"+winNode, nil, nil) })

	api.do("DELETE", "/apis/apps/v1/namespaces/default/deployments/win-app", nil, nil) // a failed run's
	k.WaitFor("the Windows node Ready in the API server", 3*time.Minute, func() bool {
		var n struct {
			Metadata struct{ Labels map[string]string } `json:"metadata"`
			Status   struct {
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		}
		if api.do("GET", "/api/v1/nodes/"+winNode, nil, &n) != nil || n.Metadata.Labels["kubernetes.io/os"] != "windows" {
			return false
		}
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				return true
			}
		}
		return false
	})
	t.Logf("Windows node Ready %v after kubelet.exe started", time.Since(k.started).Round(time.Second))

	deployment := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "win-app", "namespace": "default"},
		"spec": map[string]any{
			"replicas": 1,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "win-app"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "win-app"}},
				"spec": map[string]any{
					"nodeSelector":                  map[string]any{"kubernetes.io/os": "windows"},
					"terminationGracePeriodSeconds": 5,
					"containers": []any{map[string]any{
						"name": "app", "image": e.image, "command": []string{`C:\winproc.exe`, "tick", "win-app"},
						"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "32Mi"}},
					}},
				},
			},
		},
	}
	api.must("POST", "/apis/apps/v1/namespaces/default/deployments", deployment, nil)
	t.Cleanup(func() { api.do("DELETE", "/apis/apps/v1/namespaces/default/deployments/win-app", nil, nil) })
	var pods []podItem
	k.WaitFor("win-app Running on the Windows node", 3*time.Minute, func() bool {
		pods = api.runningPods("win-app")
		return len(pods) == 1 && pods[0].Spec.NodeName == winNode
	})
	pod := pods[0].Metadata.Name

	t.Run("logs and exec through the API server", func(t *testing.T) {
		var last string
		defer func() { t.Logf("last answer to the log request: %.600s", last) }()
		k.WaitFor("win-app's output through the API server", time.Minute, func() bool {
			req, _ := http.NewRequest("GET", api.base+"/api/v1/namespaces/default/pods/"+pod+"/log", nil)
			resp, err := api.http.Do(req)
			if err != nil {
				last = err.Error()
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			last = resp.Status + " " + string(b)
			return resp.StatusCode == 200 && strings.Contains(string(b), "win-app 3\n")
		})
		q := url.Values{"command": {`C:\winproc.exe`, "env", "USERNAME"}, "stdout": {"true"}, "container": {"app"}}
		s := openStreamTLS(t, api.base+"/api/v1/namespaces/default/pods/"+pod+"/exec?"+q.Encode(), api.tls, false, true, false)
		if out, err := readUntil(s.stdout, "cwd=", 60*time.Second); err != nil {
			t.Fatalf("exec through the API server: %v (%q)", err, out)
		}
		if st := s.status(t, 30*time.Second); !strings.Contains(st, `"status":"Success"`) {
			t.Errorf("exec status: %q", st)
		}
		s.conn.Close()
	})

	t.Run("kube-proxy winkernel", func(t *testing.T) { checkKubeProxy(t, api, e, dir, pods[0]) })

	t.Run("hpa", func(t *testing.T) {
		hpa := map[string]any{
			"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
			"metadata": map[string]any{"name": "win-app", "namespace": "default"},
			"spec": map[string]any{
				"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "win-app"},
				"minReplicas":    1, "maxReplicas": 3,
				"metrics": []any{map[string]any{"type": "Resource", "resource": map[string]any{
					"name": "cpu", "target": map[string]any{"type": "Utilization", "averageUtilization": 50}}}},
			},
		}
		api.must("POST", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", hpa, nil)
		t.Cleanup(func() {
			api.do("DELETE", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/win-app", nil, nil)
		})
		// Load: a CPU burner exec'd into the first pod through wincri.exe.
		cid := strings.TrimPrefix(pods[0].Status.ContainerStatuses[0].ContainerID, "wincri://")
		loadDone := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := e.rt.ExecSync(ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: cid, Cmd: []string{`C:\winproc.exe`, "burnfor", "100"}})
			loadDone <- err
		}()
		var replicas int
		k.WaitFor("the HPA to scale win-app to 3 replicas", 3*time.Minute, func() bool {
			var d struct {
				Status struct{ ReadyReplicas int } `json:"status"`
			}
			api.do("GET", "/apis/apps/v1/namespaces/default/deployments/win-app", nil, &d)
			replicas = d.Status.ReadyReplicas
			return replicas >= 3
		})
		up := time.Since(start)
		var m struct {
			Items []struct {
				Metadata   struct{ Name string } `json:"metadata"`
				Containers []struct {
					Usage struct{ CPU string } `json:"usage"`
				} `json:"containers"`
			} `json:"items"`
		}
		api.do("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dwin-app", nil, &m)
		own, err := e.rt.ContainerStats(ctx(t), &runtimeapi.ContainerStatsRequest{ContainerId: cid})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("HPA: %d ready replicas %v after the load started; metrics-server: %+v; wincri.exe's ContainerStats of the loaded container: %dn",
			replicas, up.Round(time.Second), m.Items, own.GetStats().GetCpu().GetUsageNanoCores().GetValue())
		if err := <-loadDone; err != nil {
			t.Errorf("the load's exec: %v", err)
		}
		k.WaitFor("the HPA to scale win-app back to 1", 4*time.Minute, func() bool {
			var d struct {
				Spec struct{ Replicas int } `json:"spec"`
			}
			return api.do("GET", "/apis/apps/v1/namespaces/default/deployments/win-app", nil, &d) == nil && d.Spec.Replicas == 1
		})
		t.Logf("HPA: back to 1 replica %v after the load ended", time.Since(start.Add(100*time.Second)).Round(time.Second))
	})

	api.must("DELETE", "/apis/apps/v1/namespaces/default/deployments/win-app", nil, nil)
	k.WaitFor("win-app's pods gone", 3*time.Minute, func() bool {
		var l struct{ Items []podItem }
		return api.do("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dwin-app", nil, &l) == nil && len(l.Items) == 0
	})
}

// writeKubeconfig writes a kubeconfig for the API server at base with the
// client certificate pki/NAME.crt of the cluster's state directory dir.
func writeKubeconfig(t *testing.T, path, base, dir, name string) {
	write(t, path, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: wincri, cluster: {server: "%s", certificate-authority: '%s'}}]
users: [{name: %s, user: {client-certificate: '%s', client-key: '%s'}}]
contexts: [{name: wincri, context: {cluster: wincri, user: %s}}]
current-context: wincri
`, base, filepath.Join(dir, "pki", "ca.crt"), name, filepath.Join(dir, "pki", name+".crt"), filepath.Join(dir, "pki", name+".key"), name))
}
