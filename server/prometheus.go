package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/containerd/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/wincri/wincri/runtime"
)

// Metrics is the optional Prometheus endpoint: CRI call latencies and
// errors, pods and containers by state, running shims, image pulls.
type Metrics struct {
	reg     *prometheus.Registry
	latency *prometheus.HistogramVec
	errors  *prometheus.CounterVec
	pulls   *prometheus.HistogramVec
	pulled  prometheus.Counter
	http    *http.Server
	l       net.Listener
}

// NewMetrics builds the metrics of rt, served once Serve is called.
func NewMetrics(rt *runtime.Runtime) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wincri_cri_request_duration_seconds", Help: "Latency of CRI calls.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wincri_cri_request_errors_total", Help: "CRI calls that failed, by gRPC code.",
		}, []string{"method", "code"}),
		pulls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wincri_image_pull_duration_seconds", Help: "Duration of image pulls.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"result"}),
		pulled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wincri_image_pull_bytes_total", Help: "Bytes read from registries by image pulls.",
		}),
	}
	layers := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "wincri_image_layers_unpacked_total", Help: "Image layers unpacked into snapshots.",
	}, func() float64 { n, _ := rt.Images.Extracted(); return float64(n) })
	extracted := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "wincri_image_unpacked_bytes_total", Help: "Layer blob bytes read while unpacking (extraction progress).",
	}, func() float64 { _, b := rt.Images.Extracted(); return float64(b) })
	m.reg.MustRegister(m.latency, m.errors, m.pulls, m.pulled, layers, extracted, runtimeCollector{rt},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	rt.Images.OnPull(func(bytes int64, d time.Duration, err error) {
		result := "success"
		if err != nil {
			result = "failure"
		}
		m.pulls.WithLabelValues(result).Observe(d.Seconds())
		m.pulled.Add(float64(bytes))
	})
	return m
}

// interceptor records each CRI call's latency and error code.
func (m *Metrics) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	m.latency.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
	if err != nil {
		m.errors.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	}
	return resp, err
}

// Serve serves /metrics (and /debug/pprof/ when withPprof) on addr.
func (m *Metrics) Serve(addr string, withPprof bool) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics endpoint: %w", err)
	}
	m.l, m.http = l, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.http.Serve(l); err != nil && err != http.ErrServerClosed {
			log.L.WithError(err).Error("metrics endpoint stopped")
		}
	}()
	return nil
}

// Addr is where the endpoint listens.
func (m *Metrics) Addr() string { return m.l.Addr().String() }

// Close stops the endpoint.
func (m *Metrics) Close() error {
	if m.http == nil {
		return nil
	}
	return m.http.Close()
}

// runtimeCollector reports pods and containers by state and running shims.
type runtimeCollector struct{ rt *runtime.Runtime }

var (
	podsDesc       = prometheus.NewDesc("wincri_pods", "Pod sandboxes by state.", []string{"state"}, nil)
	containersDesc = prometheus.NewDesc("wincri_containers", "Containers by state.", []string{"state"}, nil)
	shimsDesc      = prometheus.NewDesc("wincri_shims_running", "Shims this daemon is connected to.", nil, nil)
	retriesDesc    = prometheus.NewDesc("wincri_cleanup_retries_total", "Background removals of removed containers' files that failed and were retried.", nil, nil)
	pendingDesc    = prometheus.NewDesc("wincri_cleanups_pending", "Background removals of removed containers' files not yet done.", nil, nil)
)

func (runtimeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- podsDesc
	ch <- containersDesc
	ch <- shimsDesc
	ch <- retriesDesc
	ch <- pendingDesc
}

func (c runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.rt.Counts()
	for state, n := range counts.Pods {
		ch <- prometheus.MustNewConstMetric(podsDesc, prometheus.GaugeValue, float64(n), state)
	}
	for state, n := range counts.Containers {
		ch <- prometheus.MustNewConstMetric(containersDesc, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(shimsDesc, prometheus.GaugeValue, float64(counts.Shims))
	ch <- prometheus.MustNewConstMetric(retriesDesc, prometheus.CounterValue, float64(counts.CleanupRetries))
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(counts.CleanupsPending))
}
