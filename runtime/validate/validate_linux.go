package validate

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

var (
	cpusetSyntax   = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)
	pageSizeSyntax = regexp.MustCompile(`^[0-9]+(KB|MB|GB|TB|PB)$`)
	// A cgroup v2 interface file: controller.name, no path separator.
	unifiedSyntax = regexp.MustCompile(`^[a-z_]+\.[a-zA-Z0-9_.\-]+$`)
	sysctlSyntax  = regexp.MustCompile(`^[a-z0-9_]+([./][a-zA-Z0-9_\-]+)+$`)
)

func validatePodPlatform(cfg *runtimeapi.PodSandboxConfig) error {
	lin := cfg.GetLinux()
	if p := lin.GetCgroupParent(); p != "" && !strings.HasSuffix(path.Base(p), ".slice") {
		if err := checkPath("linux.cgroup_parent", p); err != nil {
			return err
		}
	} else if err := checkText("linux.cgroup_parent", p, 4096); err != nil {
		return err
	}
	ns := lin.GetSecurityContext().GetNamespaceOptions()
	for k, v := range lin.GetSysctls() {
		if err := checkSysctl(k, v, ns); err != nil {
			return err
		}
	}
	if err := LinuxResources("linux.resources", lin.GetResources()); err != nil {
		return err
	}
	if err := LinuxResources("linux.overhead", lin.GetOverhead()); err != nil {
		return err
	}
	sc := lin.GetSecurityContext()
	return checkIDs("linux.security_context", sc.GetRunAsUser(), sc.GetRunAsGroup(), sc.GetSupplementalGroups())
}

// ContainerPlatform checks the platform's part of a container config.
func ContainerPlatform(cfg *runtimeapi.ContainerConfig) error {
	if w := cfg.GetWorkingDir(); w != "" {
		if err := checkPath("working_dir", w); err != nil {
			return err
		}
	}
	for i, d := range cfg.GetDevices() {
		field := fmt.Sprintf("devices[%d]", i)
		if err := checkPath(field+".host_path", d.GetHostPath()); err != nil {
			return err
		}
		if err := checkPath(field+".container_path", d.GetContainerPath()); err != nil {
			return err
		}
		if strings.Trim(d.GetPermissions(), "rwm") != "" {
			return badField(field+".permissions", "%q: want letters of rwm", d.GetPermissions())
		}
	}
	if err := LinuxResources("linux.resources", cfg.GetLinux().GetResources()); err != nil {
		return err
	}
	sc := cfg.GetLinux().GetSecurityContext()
	return checkIDs("linux.security_context", sc.GetRunAsUser(), sc.GetRunAsGroup(), sc.GetSupplementalGroups())
}

func checkIDs(field string, user, group *runtimeapi.Int64Value, groups []int64) error {
	for name, v := range map[string]*runtimeapi.Int64Value{"run_as_user": user, "run_as_group": group} {
		if v != nil && (v.Value < 0 || v.Value > 1<<32-2) {
			return badField(field+"."+name, "%d is not a user or group id", v.Value)
		}
	}
	for i, g := range groups {
		if g < 0 || g > 1<<32-2 {
			return badField(fmt.Sprintf("%s.supplemental_groups[%d]", field, i), "%d is not a group id", g)
		}
	}
	return nil
}

// LinuxResources checks values against what the kernel takes (CFS period 1 ms to 1 s,
// quota at least 1 ms or -1, shares 2 to 262144, OOM score -1000 to 1000).
func LinuxResources(field string, r *runtimeapi.LinuxContainerResources) error {
	if r == nil {
		return nil
	}
	switch {
	case r.CpuPeriod != 0 && (r.CpuPeriod < 1000 || r.CpuPeriod > 1000000):
		return badField(field+".cpu_period", "%d µs, want 1000 to 1000000", r.CpuPeriod)
	case r.CpuQuota != 0 && r.CpuQuota != -1 && (r.CpuQuota < 1000 || r.CpuQuota > 1<<44):
		return badField(field+".cpu_quota", "%d µs, want -1 or at least 1000", r.CpuQuota)
	case r.CpuShares != 0 && (r.CpuShares < 2 || r.CpuShares > 262144):
		return badField(field+".cpu_shares", "%d, want 2 to 262144", r.CpuShares)
	case r.MemoryLimitInBytes < 0:
		return badField(field+".memory_limit_in_bytes", "%d is negative", r.MemoryLimitInBytes)
	case r.MemorySwapLimitInBytes < -1:
		return badField(field+".memory_swap_limit_in_bytes", "%d, want -1 or more", r.MemorySwapLimitInBytes)
	case r.OomScoreAdj < -1000 || r.OomScoreAdj > 1000:
		return badField(field+".oom_score_adj", "%d, want -1000 to 1000", r.OomScoreAdj)
	case r.CpusetCpus != "" && !cpusetSyntax.MatchString(r.CpusetCpus):
		return badField(field+".cpuset_cpus", "%q is not a CPU list", r.CpusetCpus)
	case r.CpusetMems != "" && !cpusetSyntax.MatchString(r.CpusetMems):
		return badField(field+".cpuset_mems", "%q is not a memory node list", r.CpusetMems)
	}
	for i, h := range r.HugepageLimits {
		if !pageSizeSyntax.MatchString(h.GetPageSize()) {
			return badField(fmt.Sprintf("%s.hugepage_limits[%d].page_size", field, i), "%q, want e.g. 2MB", h.GetPageSize())
		}
	}
	for k, v := range r.Unified {
		if !unifiedSyntax.MatchString(k) || strings.Contains(k, "..") {
			return badField(field+".unified", "key %q is not a cgroup interface file", k)
		}
		if err := checkText(field+".unified["+k+"]", v, 4096); err != nil {
			return err
		}
	}
	return nil
}

// checkSysctl: a namespaced sysctl this kernel has, in a namespace the pod
// owns (net.* needs the pod's network namespace, IPC ones its IPC
// namespace), as runc would check it at the pause's start.
func checkSysctl(k, v string, ns *runtimeapi.NamespaceOption) error {
	field := "linux.sysctls[" + k + "]"
	if len(k) > 256 || !sysctlSyntax.MatchString(k) {
		return badField(field, "not a sysctl name")
	}
	if err := checkText(field, v, 4096); err != nil {
		return err
	}
	name := strings.ReplaceAll(k, "/", ".")
	switch {
	case strings.HasPrefix(name, "net."):
		if ns.GetNetwork() == runtimeapi.NamespaceMode_NODE {
			return badField(field, "a network sysctl in a pod on the host network")
		}
		// Per-interface keys name the pod's interfaces, which the host may lack.
		if strings.HasPrefix(name, "net.ipv4.conf.") || strings.HasPrefix(name, "net.ipv6.conf.") || strings.HasPrefix(name, "net.ipv4.neigh.") || strings.HasPrefix(name, "net.ipv6.neigh.") {
			return nil
		}
	case strings.HasPrefix(name, "fs.mqueue.") || name == "kernel.sem" || strings.HasPrefix(name, "kernel.shm") || strings.HasPrefix(name, "kernel.msg"):
		if ns.GetIpc() == runtimeapi.NamespaceMode_NODE {
			return badField(field, "an IPC sysctl in a pod on the host IPC namespace")
		}
	case name == "kernel.hostname" || name == "kernel.domainname":
	default:
		return badField(field, "not a namespaced sysctl (net.*, IPC or UTS ones)")
	}
	if _, err := os.Stat("/proc/sys/" + strings.ReplaceAll(name, ".", "/")); err != nil {
		return badField(field, "this kernel has no such sysctl")
	}
	return nil
}
