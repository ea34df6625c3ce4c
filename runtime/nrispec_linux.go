package runtime

import (
	"fmt"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// specEditor edits an OCI spec in place the way NRI's adjustment code asks
// (the methods of runtime-tools' Generator it uses).
type specEditor struct{ s *specs.Spec }

func (e *specEditor) Spec() *specs.Spec { return e.s }

func (e *specEditor) linux() *specs.Linux {
	if e.s.Linux == nil {
		e.s.Linux = &specs.Linux{}
	}
	return e.s.Linux
}

func (e *specEditor) resources() *specs.LinuxResources {
	l := e.linux()
	if l.Resources == nil {
		l.Resources = &specs.LinuxResources{}
	}
	return l.Resources
}

func (e *specEditor) cpu() *specs.LinuxCPU {
	r := e.resources()
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	return r.CPU
}

func (e *specEditor) memory() *specs.LinuxMemory {
	r := e.resources()
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	return r.Memory
}

func (e *specEditor) hooks() *specs.Hooks {
	if e.s.Hooks == nil {
		e.s.Hooks = &specs.Hooks{}
	}
	return e.s.Hooks
}

func (e *specEditor) process() *specs.Process {
	if e.s.Process == nil {
		e.s.Process = &specs.Process{}
	}
	return e.s.Process
}

func (e *specEditor) AddAnnotation(k, v string) {
	if e.s.Annotations == nil {
		e.s.Annotations = map[string]string{}
	}
	e.s.Annotations[k] = v
}

func (e *specEditor) RemoveAnnotation(k string) { delete(e.s.Annotations, k) }

func (e *specEditor) AddDevice(d specs.LinuxDevice) {
	l := e.linux()
	for i, x := range l.Devices {
		if x.Path == d.Path {
			l.Devices[i] = d
			return
		}
	}
	l.Devices = append(l.Devices, d)
}

func (e *specEditor) RemoveDevice(path string) {
	l := e.linux()
	out := l.Devices[:0]
	for _, d := range l.Devices {
		if d.Path != path {
			out = append(out, d)
		}
	}
	l.Devices = out
}

func (e *specEditor) AddOrReplaceLinuxNamespace(ns, path string) error {
	t, err := namespaceType(ns)
	if err != nil {
		return err
	}
	setNamespace(e.s, t, path)
	return nil
}

func (e *specEditor) RemoveLinuxNamespace(ns string) error {
	t, err := namespaceType(ns)
	if err != nil {
		return err
	}
	delNamespace(e.s, t)
	return nil
}

func namespaceType(ns string) (specs.LinuxNamespaceType, error) {
	switch ns {
	case "network", "net":
		return specs.NetworkNamespace, nil
	case "pid":
		return specs.PIDNamespace, nil
	case "mount", "mnt":
		return specs.MountNamespace, nil
	case "ipc":
		return specs.IPCNamespace, nil
	case "uts":
		return specs.UTSNamespace, nil
	case "user":
		return specs.UserNamespace, nil
	case "cgroup":
		return specs.CgroupNamespace, nil
	case "time":
		return specs.TimeNamespace, nil
	}
	return "", fmt.Errorf("unknown namespace type %q", ns)
}

func (e *specEditor) AddPreStartHook(h specs.Hook) {
	e.hooks().Prestart = append(e.hooks().Prestart, h) //nolint:staticcheck // NRI still adjusts it
}

func (e *specEditor) AddPostStartHook(h specs.Hook) {
	e.hooks().Poststart = append(e.hooks().Poststart, h)
}

func (e *specEditor) AddPostStopHook(h specs.Hook) {
	e.hooks().Poststop = append(e.hooks().Poststop, h)
}

func (e *specEditor) AddProcessEnv(name, value string) {
	p := e.process()
	for i, kv := range p.Env {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			p.Env[i] = name + "=" + value
			return
		}
	}
	p.Env = append(p.Env, name+"="+value)
}

func (e *specEditor) ClearProcessEnv() { e.process().Env = nil }

func (e *specEditor) SetProcessArgs(args []string) { e.process().Args = args }

func (e *specEditor) SetProcessOOMScoreAdj(adj int) { e.process().OOMScoreAdj = &adj }

func (e *specEditor) AddLinuxResourcesDevice(allow bool, devType string, major, minor *int64, access string) {
	r := e.resources()
	r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: allow, Type: devType, Major: major, Minor: minor, Access: access})
}

func (e *specEditor) AddLinuxResourcesHugepageLimit(pageSize string, limit uint64) {
	r := e.resources()
	for i, h := range r.HugepageLimits {
		if h.Pagesize == pageSize {
			r.HugepageLimits[i].Limit = limit
			return
		}
	}
	r.HugepageLimits = append(r.HugepageLimits, specs.LinuxHugepageLimit{Pagesize: pageSize, Limit: limit})
}

func (e *specEditor) AddLinuxResourcesUnified(k, v string) {
	r := e.resources()
	if r.Unified == nil {
		r.Unified = map[string]string{}
	}
	r.Unified[k] = v
}

func (e *specEditor) AddMount(m specs.Mount) { e.s.Mounts = append(e.s.Mounts, m) }

func (e *specEditor) ClearMounts() { e.s.Mounts = nil }

func (e *specEditor) Mounts() []specs.Mount { return e.s.Mounts }

func (e *specEditor) RemoveMount(dest string) {
	out := e.s.Mounts[:0]
	for _, m := range e.s.Mounts {
		if m.Destination != dest {
			out = append(out, m)
		}
	}
	e.s.Mounts = out
}

func (e *specEditor) AddLinuxSysctl(k, v string) {
	l := e.linux()
	if l.Sysctl == nil {
		l.Sysctl = map[string]string{}
	}
	l.Sysctl[k] = v
}

func (e *specEditor) RemoveLinuxSysctl(k string) { delete(e.linux().Sysctl, k) }

func (e *specEditor) SetLinuxCgroupsPath(p string)                { e.linux().CgroupsPath = p }
func (e *specEditor) SetLinuxResourcesCPUCpus(c string)           { e.cpu().Cpus = c }
func (e *specEditor) SetLinuxResourcesCPUMems(m string)           { e.cpu().Mems = m }
func (e *specEditor) SetLinuxResourcesCPUPeriod(p uint64)         { e.cpu().Period = &p }
func (e *specEditor) SetLinuxResourcesCPUQuota(q int64)           { e.cpu().Quota = &q }
func (e *specEditor) SetLinuxResourcesCPUShares(s uint64)         { e.cpu().Shares = &s }
func (e *specEditor) SetLinuxResourcesMemoryLimit(l int64)        { e.memory().Limit = &l }
func (e *specEditor) SetLinuxResourcesMemorySwap(s int64)         { e.memory().Swap = &s }
func (e *specEditor) SetLinuxResourcesCPURealtimePeriod(p uint64) { e.cpu().RealtimePeriod = &p }
func (e *specEditor) SetLinuxResourcesCPURealtimeRuntime(t int64) { e.cpu().RealtimeRuntime = &t }

func (e *specEditor) SetLinuxRootPropagation(rp string) error {
	switch rp {
	case "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable":
		e.linux().RootfsPropagation = rp
		return nil
	}
	return fmt.Errorf("invalid rootfs propagation %q", rp)
}
