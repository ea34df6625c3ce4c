//go:build linux

package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestPrometheusEndpoint scrapes the optional metrics endpoint after a pod
// ran: per-call latencies, pods and containers by state, shims, pulls.
func TestPrometheusEndpoint(t *testing.T) {
	addr := freeAddr(t)
	e := newPodEnvWith(t, fmt.Sprintf("[metrics]\naddress = %q\npprof = true\n", addr))
	podID, pod := e.runPod("scraped")
	e.start(e.create(podID, pod, "sleeper", "sleep", "60"))

	body := get(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`wincri_cri_request_duration_seconds_count{method="/runtime.v1.RuntimeService/RunPodSandbox"} 1`,
		`wincri_pods{state="SANDBOX_READY"} 1`,
		`wincri_containers{state="CONTAINER_RUNNING"} 1`,
		`wincri_shims_running 1`,
		`wincri_image_pull_duration_seconds_count{result="success"} 1`, // the pod runs without pause: no pause image
		`wincri_image_layers_unpacked_total 1`,                         // the test image has one layer
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(get(t, "http://"+addr+"/debug/pprof/"), "goroutine") {
		t.Error("pprof not served")
	}
	e.removeAll()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
