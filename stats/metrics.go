package stats

import (
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Label sets of the cAdvisor metrics kubelet serves on /metrics/cadvisor.
var (
	baseLabels    = []string{"pod", "namespace", "container", "id", "image"}
	networkLabels = append(append([]string{}, baseLabels...), "interface")
	diskLabels    = append(append([]string{}, baseLabels...), "device")
	failureLabels = append(append([]string{}, baseLabels...), "failure_type", "scope")
)

// ContainerSample is one reading of everything the container metrics
// report. Times are nanoseconds; sizes bytes.
type ContainerSample struct {
	CPUTotal, CPUUser, CPUSystem                    uint64
	CFSPeriods, CFSThrottledPeriods, CFSThrottledNs uint64
	MemUsage, MemMax, MemFailcnt, MemCache, MemRSS  uint64
	MemMapped, MemSwap, MemKernel, MemWorkingSet    uint64
	PgFault, PgMajFault, OOMEvents                  uint64
	Processes, Threads, ThreadsMax, FDs, Sockets    uint64
	FsUsage, FsLimit, FsInodesTotal, FsInodesFree   uint64
	SpecCPUPeriod, SpecCPUShares                    uint64
	SpecMemLimit, SpecSwapLimit                     uint64
	StartTime                                       time.Time
	// Blkio is bytes read and written per device ("major:minor").
	Blkio []DeviceIO
}

// DeviceIO is a block device's I/O counters.
type DeviceIO struct {
	Device                               string
	ReadBytes, WriteBytes, Reads, Writes uint64
}

// InterfaceSample is one network interface's counters.
type InterfaceSample struct {
	Name                                    string
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

type metricDef struct {
	name, help string
	labels     []string
	typ        runtimeapi.MetricType
}

func counter(name, help string, labels []string) metricDef {
	return metricDef{name, help, labels, runtimeapi.MetricType_COUNTER}
}

func gauge(name, help string, labels []string) metricDef {
	return metricDef{name, help, labels, runtimeapi.MetricType_GAUGE}
}

// containerDefs pairs each container metric with how a sample yields it.
var containerDefs = []struct {
	metricDef
	value func(*ContainerSample) uint64
}{
	{counter("container_cpu_usage_seconds_total", "Cumulative CPU time consumed in seconds.", baseLabels), func(s *ContainerSample) uint64 { return s.CPUTotal / 1e9 }},
	{counter("container_cpu_user_seconds_total", "Cumulative user CPU time consumed in seconds.", baseLabels), func(s *ContainerSample) uint64 { return s.CPUUser / 1e9 }},
	{counter("container_cpu_system_seconds_total", "Cumulative system CPU time consumed in seconds.", baseLabels), func(s *ContainerSample) uint64 { return s.CPUSystem / 1e9 }},
	{counter("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", baseLabels), func(s *ContainerSample) uint64 { return s.CFSPeriods }},
	{counter("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", baseLabels), func(s *ContainerSample) uint64 { return s.CFSThrottledPeriods }},
	{counter("container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", baseLabels), func(s *ContainerSample) uint64 { return s.CFSThrottledNs / 1e9 }},
	{gauge("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", baseLabels), func(s *ContainerSample) uint64 { return s.MemUsage }},
	{gauge("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes.", baseLabels), func(s *ContainerSample) uint64 { return s.MemMax }},
	{counter("container_memory_failcnt", "Number of memory usage hits limits.", baseLabels), func(s *ContainerSample) uint64 { return s.MemFailcnt }},
	{gauge("container_memory_cache", "Number of bytes of page cache memory.", baseLabels), func(s *ContainerSample) uint64 { return s.MemCache }},
	{gauge("container_memory_rss", "Size of RSS in bytes.", baseLabels), func(s *ContainerSample) uint64 { return s.MemRSS }},
	{gauge("container_memory_mapped_file", "Size of memory mapped files in bytes.", baseLabels), func(s *ContainerSample) uint64 { return s.MemMapped }},
	{gauge("container_memory_swap", "Container swap usage in bytes.", baseLabels), func(s *ContainerSample) uint64 { return s.MemSwap }},
	{gauge("container_memory_kernel_usage", "Size of kernel memory allocated in bytes.", baseLabels), func(s *ContainerSample) uint64 { return s.MemKernel }},
	{gauge("container_memory_working_set_bytes", "Current working set in bytes.", baseLabels), func(s *ContainerSample) uint64 { return s.MemWorkingSet }},
	{counter("container_oom_events_total", "Count of out of memory events observed for the container.", baseLabels), func(s *ContainerSample) uint64 { return s.OOMEvents }},
	{gauge("container_processes", "Number of processes running inside the container.", baseLabels), func(s *ContainerSample) uint64 { return s.Processes }},
	{gauge("container_threads", "Number of threads running inside the container.", baseLabels), func(s *ContainerSample) uint64 { return s.Threads }},
	{gauge("container_threads_max", "Maximum number of threads allowed inside the container, infinity if value is zero.", baseLabels), func(s *ContainerSample) uint64 { return s.ThreadsMax }},
	{gauge("container_file_descriptors", "Number of open file descriptors for the container.", baseLabels), func(s *ContainerSample) uint64 { return s.FDs }},
	{gauge("container_sockets", "Number of open sockets for the container.", baseLabels), func(s *ContainerSample) uint64 { return s.Sockets }},
	{gauge("container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", diskLabels), func(s *ContainerSample) uint64 { return s.FsUsage }},
	{gauge("container_fs_limit_bytes", "Number of bytes that can be consumed by the container on this filesystem.", diskLabels), func(s *ContainerSample) uint64 { return s.FsLimit }},
	{gauge("container_fs_inodes_total", "Number of Inodes.", diskLabels), func(s *ContainerSample) uint64 { return s.FsInodesTotal }},
	{gauge("container_fs_inodes_free", "Number of available Inodes.", diskLabels), func(s *ContainerSample) uint64 { return s.FsInodesFree }},
	{gauge("container_spec_cpu_period", "CPU period of the container.", baseLabels), func(s *ContainerSample) uint64 { return s.SpecCPUPeriod }},
	{gauge("container_spec_cpu_shares", "CPU share of the container.", baseLabels), func(s *ContainerSample) uint64 { return s.SpecCPUShares }},
	{gauge("container_spec_memory_limit_bytes", "Memory limit for the container.", baseLabels), func(s *ContainerSample) uint64 { return s.SpecMemLimit }},
	{gauge("container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.", baseLabels), func(s *ContainerSample) uint64 { return s.SpecSwapLimit }},
	{gauge("container_start_time_seconds", "Start time of the container since unix epoch in seconds.", baseLabels), func(s *ContainerSample) uint64 { return uint64(max(s.StartTime.Unix(), 0)) }},
	{gauge("container_last_seen", "Last time a container was seen by the exporter.", baseLabels), func(*ContainerSample) uint64 { return uint64(time.Now().Unix()) }},
}

var (
	memFailures = counter("container_memory_failures_total", "Cumulative count of memory allocation failures.", failureLabels)
	diskDefs    = []metricDef{
		counter("container_blkio_device_usage_total", "Blkio device bytes usage.", append(append([]string{}, diskLabels...), "major", "minor", "operation")),
		counter("container_fs_reads_bytes_total", "Cumulative count of bytes read.", diskLabels),
		counter("container_fs_writes_bytes_total", "Cumulative count of bytes written.", diskLabels),
		counter("container_fs_reads_total", "Cumulative count of reads completed.", diskLabels),
		counter("container_fs_writes_total", "Cumulative count of writes completed.", diskLabels),
	}
	networkDefs = []struct {
		metricDef
		value func(*InterfaceSample) uint64
	}{
		{counter("container_network_receive_bytes_total", "Cumulative count of bytes received.", networkLabels), func(i *InterfaceSample) uint64 { return i.RxBytes }},
		{counter("container_network_receive_packets_total", "Cumulative count of packets received.", networkLabels), func(i *InterfaceSample) uint64 { return i.RxPackets }},
		{counter("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving.", networkLabels), func(i *InterfaceSample) uint64 { return i.RxErrors }},
		{counter("container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving.", networkLabels), func(i *InterfaceSample) uint64 { return i.RxDropped }},
		{counter("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", networkLabels), func(i *InterfaceSample) uint64 { return i.TxBytes }},
		{counter("container_network_transmit_packets_total", "Cumulative count of packets transmitted.", networkLabels), func(i *InterfaceSample) uint64 { return i.TxPackets }},
		{counter("container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting.", networkLabels), func(i *InterfaceSample) uint64 { return i.TxErrors }},
		{counter("container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting.", networkLabels), func(i *InterfaceSample) uint64 { return i.TxDropped }},
	}
)

// Descriptors lists every metric ListPodSandboxMetrics reports.
func Descriptors() []*runtimeapi.MetricDescriptor {
	var out []*runtimeapi.MetricDescriptor
	add := func(d metricDef) {
		out = append(out, &runtimeapi.MetricDescriptor{Name: d.name, Help: d.help, LabelKeys: d.labels})
	}
	for _, d := range containerDefs {
		add(d.metricDef)
	}
	add(memFailures)
	for _, d := range diskDefs {
		add(d)
	}
	for _, d := range networkDefs {
		add(d.metricDef)
	}
	return out
}

// ContainerMetrics renders a sample; labels are pod, namespace, container,
// id, image.
func ContainerMetrics(labels []string, s *ContainerSample, at time.Time) []*runtimeapi.Metric {
	ts := at.UnixNano()
	m := func(d metricDef, v uint64, extra ...string) *runtimeapi.Metric {
		return &runtimeapi.Metric{Name: d.name, Timestamp: ts, MetricType: d.typ,
			LabelValues: append(append([]string{}, labels...), extra...), Value: &runtimeapi.UInt64Value{Value: v}}
	}
	var out []*runtimeapi.Metric
	for _, d := range containerDefs {
		extra := []string{}
		if len(d.labels) > len(baseLabels) {
			extra = append(extra, "") // the device of the writable layer
		}
		out = append(out, m(d.metricDef, d.value(s), extra...))
	}
	for _, f := range []struct {
		kind string
		v    uint64
	}{{"pgfault", s.PgFault}, {"pgmajfault", s.PgMajFault}} {
		out = append(out, m(memFailures, f.v, f.kind, "container"), m(memFailures, f.v, f.kind, "hierarchy"))
	}
	for _, d := range s.Blkio {
		major, minor, _ := cut(d.Device)
		out = append(out,
			m(diskDefs[0], d.ReadBytes, d.Device, major, minor, "Read"),
			m(diskDefs[0], d.WriteBytes, d.Device, major, minor, "Write"),
			m(diskDefs[1], d.ReadBytes, d.Device), m(diskDefs[2], d.WriteBytes, d.Device),
			m(diskDefs[3], d.Reads, d.Device), m(diskDefs[4], d.Writes, d.Device))
	}
	return out
}

// NetworkMetrics renders a pod's interfaces (labels as ContainerMetrics,
// with the pod's own id).
func NetworkMetrics(labels []string, ifaces []InterfaceSample, at time.Time) []*runtimeapi.Metric {
	var out []*runtimeapi.Metric
	for i := range ifaces {
		for _, d := range networkDefs {
			out = append(out, &runtimeapi.Metric{Name: d.name, Timestamp: at.UnixNano(), MetricType: d.typ,
				LabelValues: append(append([]string{}, labels...), ifaces[i].Name), Value: &runtimeapi.UInt64Value{Value: d.value(&ifaces[i])}})
		}
	}
	return out
}

func cut(dev string) (string, string, bool) {
	for i := 0; i < len(dev); i++ {
		if dev[i] == ':' {
			return dev[:i], dev[i+1:], true
		}
	}
	return dev, "", false
}
