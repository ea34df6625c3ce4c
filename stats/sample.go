package stats

import (
	"fmt"
	"strconv"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/types/known/anypb"
)

// SampleFromShimMetrics fills the cgroup part of a metrics sample from the
// shim's Stats payload (cgroup v1 or v2).
func SampleFromShimMetrics(a *anypb.Any, s *ContainerSample) error {
	v, err := typeurl.UnmarshalAny(a)
	if err != nil {
		return fmt.Errorf("decode shim metrics: %w", err)
	}
	switch m := v.(type) {
	case *v1.Metrics:
		sampleV1(m, s)
	case *v2.Metrics:
		sampleV2(m, s)
	default:
		return fmt.Errorf("unexpected shim metrics type %T", v)
	}
	return nil
}

func sampleV1(m *v1.Metrics, s *ContainerSample) {
	cpu, mem := m.GetCPU(), m.GetMemory()
	s.CPUTotal, s.CPUUser, s.CPUSystem = cpu.GetUsage().GetTotal(), cpu.GetUsage().GetUser(), cpu.GetUsage().GetKernel()
	s.CFSPeriods, s.CFSThrottledPeriods, s.CFSThrottledNs = cpu.GetThrottling().GetPeriods(), cpu.GetThrottling().GetThrottledPeriods(), cpu.GetThrottling().GetThrottledTime()
	s.MemUsage, s.MemMax, s.MemFailcnt = mem.GetUsage().GetUsage(), mem.GetUsage().GetMax(), mem.GetUsage().GetFailcnt()
	s.MemCache, s.MemRSS, s.MemMapped = mem.GetTotalCache(), mem.GetTotalRSS(), mem.GetTotalMappedFile()
	s.MemSwap, s.MemKernel = mem.GetSwap().GetUsage(), mem.GetKernel().GetUsage()
	s.PgFault, s.PgMajFault = mem.GetTotalPgFault(), mem.GetTotalPgMajFault()
	s.MemWorkingSet = workingSet(s.MemUsage, mem.GetTotalInactiveFile())
	s.OOMEvents = m.GetMemoryOomControl().GetOomKill()
	s.Processes, s.Threads, s.ThreadsMax = m.GetPids().GetCurrent(), m.GetPids().GetCurrent(), m.GetPids().GetLimit()
	for _, e := range m.GetBlkio().GetIoServiceBytesRecursive() {
		s.addIO(e.GetMajor(), e.GetMinor(), e.GetOp(), e.GetValue(), true)
	}
	for _, e := range m.GetBlkio().GetIoServicedRecursive() {
		s.addIO(e.GetMajor(), e.GetMinor(), e.GetOp(), e.GetValue(), false)
	}
}

func sampleV2(m *v2.Metrics, s *ContainerSample) {
	cpu, mem := m.GetCPU(), m.GetMemory()
	s.CPUTotal, s.CPUUser, s.CPUSystem = cpu.GetUsageUsec()*1000, cpu.GetUserUsec()*1000, cpu.GetSystemUsec()*1000
	s.CFSPeriods, s.CFSThrottledPeriods, s.CFSThrottledNs = cpu.GetNrPeriods(), cpu.GetNrThrottled(), cpu.GetThrottledUsec()*1000
	s.MemUsage, s.MemMax = mem.GetUsage(), mem.GetMaxUsage()
	s.MemCache, s.MemRSS, s.MemMapped = mem.GetFile(), mem.GetAnon(), mem.GetFileMapped()
	s.MemSwap, s.MemKernel = mem.GetSwapUsage(), mem.GetKernelStack()+mem.GetSlab()
	s.PgFault, s.PgMajFault = mem.GetPgfault(), mem.GetPgmajfault()
	s.MemWorkingSet = workingSet(s.MemUsage, mem.GetInactiveFile())
	s.OOMEvents, s.MemFailcnt = m.GetMemoryEvents().GetOomKill(), m.GetMemoryEvents().GetMax()
	s.Processes, s.Threads, s.ThreadsMax = m.GetPids().GetCurrent(), m.GetPids().GetCurrent(), m.GetPids().GetLimit()
	for _, e := range m.GetIo().GetUsage() {
		s.addIO(e.GetMajor(), e.GetMinor(), "read", e.GetRbytes(), true)
		s.addIO(e.GetMajor(), e.GetMinor(), "write", e.GetWbytes(), true)
		s.addIO(e.GetMajor(), e.GetMinor(), "read", e.GetRios(), false)
		s.addIO(e.GetMajor(), e.GetMinor(), "write", e.GetWios(), false)
	}
}

func workingSet(usage, inactiveFile uint64) uint64 {
	if usage > inactiveFile {
		return usage - inactiveFile
	}
	return 0
}

// addIO adds a blkio counter: bytes or operations, read or write.
func (s *ContainerSample) addIO(major, minor uint64, op string, v uint64, bytes bool) {
	dev := strconv.FormatUint(major, 10) + ":" + strconv.FormatUint(minor, 10)
	i := 0
	for i < len(s.Blkio) && s.Blkio[i].Device != dev {
		i++
	}
	if i == len(s.Blkio) {
		s.Blkio = append(s.Blkio, DeviceIO{Device: dev})
	}
	d := &s.Blkio[i]
	switch {
	case (op == "Read" || op == "read") && bytes:
		d.ReadBytes += v
	case (op == "Write" || op == "write") && bytes:
		d.WriteBytes += v
	case op == "Read" || op == "read":
		d.Reads += v
	case op == "Write" || op == "write":
		d.Writes += v
	}
}
