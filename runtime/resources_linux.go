package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// nodeCgroups is what this node's cgroups can enforce. A kubelet sends
// limits for every feature the kernel knows of (hugepage limits for each page
// size, swap, unified keys), whether or not the matching controller is
// mounted; runc fails a container whose spec asks for a missing one.
type nodeCgroups struct {
	v2      bool
	hugetlb bool
	swap    bool
	cpuset  bool
	// controllers are the v2 controllers available to children of the root.
	controllers map[string]bool
	// sharedMountOptions are the host's cgroup2 mount options that a
	// container's cgroup2 mount without a cgroup namespace must keep: it
	// shares the host's superblock, and mounting without them clears them.
	sharedMountOptions []string
}

const cgroupRoot = "/sys/fs/cgroup"

var (
	nodeCgroupsOnce sync.Once
	nodeCgroupsVal  nodeCgroups
)

func hostCgroups() nodeCgroups {
	nodeCgroupsOnce.Do(func() {
		nodeCgroupsVal = probeCgroups(cgroupRoot, selfCgroupV2())
		if nodeCgroupsVal.v2 {
			nodeCgroupsVal.sharedMountOptions = cgroup2SharedOptions()
		}
	})
	return nodeCgroupsVal
}

// cgroup2SharedOptions reads nsdelegate and memory_recursiveprot, where set,
// from the host's /sys/fs/cgroup mount.
func cgroup2SharedOptions() []string {
	info, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(cgroupRoot))
	if err != nil || len(info) != 1 {
		return nil
	}
	var out []string
	for _, o := range strings.Split(info[0].VFSOptions, ",") {
		if o == "nsdelegate" || o == "memory_recursiveprot" {
			out = append(out, o)
		}
	}
	return out
}

// probeCgroups reads what the hierarchy under root offers; self is this
// process's v2 cgroup path (swap files exist only below the root).
func probeCgroups(root, self string) nodeCgroups {
	exists := func(p ...string) bool {
		_, err := os.Stat(filepath.Join(append([]string{root}, p...)...))
		return err == nil
	}
	if b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers")); err == nil {
		n := nodeCgroups{v2: true, controllers: map[string]bool{}}
		for _, c := range strings.Fields(string(b)) {
			n.controllers[c] = true
		}
		n.hugetlb, n.cpuset = n.controllers["hugetlb"], n.controllers["cpuset"]
		n.swap = exists(self, "memory.swap.max")
		if !n.swap {
			m, _ := filepath.Glob(filepath.Join(root, "*", "memory.swap.max"))
			n.swap = len(m) > 0
		}
		return n
	}
	return nodeCgroups{
		hugetlb: exists("hugetlb"),
		swap:    exists("memory", "memory.memsw.limit_in_bytes"),
		cpuset:  exists("cpuset"),
	}
}

// selfCgroupV2 is this process's path in the unified hierarchy.
func selfCgroupV2() string {
	b, _ := os.ReadFile("/proc/self/cgroup")
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	return "/"
}

// missing lists what the node lacks, for the start-up log.
func (n nodeCgroups) missing() []string {
	var out []string
	if !n.hugetlb {
		out = append(out, "hugetlb (hugepage limits are dropped)")
	}
	if !n.swap {
		out = append(out, "swap accounting (swap limits are dropped)")
	}
	if !n.cpuset {
		out = append(out, "cpuset (cpuset cpus/mems are dropped)")
	}
	if !n.v2 {
		out = append(out, "cgroup v2 (unified keys are dropped)")
	}
	return out
}

// fit removes from res what the node cannot enforce and says what it
// removed. With strict, a request for any of it is an error instead.
func (n nodeCgroups) fit(res *specs.LinuxResources, strict bool) ([]string, error) {
	if res == nil {
		return nil, nil
	}
	var dropped []string
	drop := func(what string) { dropped = append(dropped, what) }
	if len(res.HugepageLimits) > 0 && !n.hugetlb {
		res.HugepageLimits = nil
		drop("hugepage limits (no hugetlb cgroup controller)")
	}
	if m := res.Memory; m != nil && m.Swap != nil && !n.swap {
		m.Swap = nil
		drop("memory swap limit (no swap accounting)")
	}
	if c := res.CPU; c != nil && (c.Cpus != "" || c.Mems != "") && !n.cpuset {
		c.Cpus, c.Mems = "", ""
		drop("cpuset cpus/mems (no cpuset cgroup controller)")
	}
	for k := range res.Unified {
		ctrl, _, _ := strings.Cut(k, ".")
		if !n.v2 || (ctrl != "cgroup" && !n.controllers[ctrl]) {
			delete(res.Unified, k)
			drop(fmt.Sprintf("unified key %s (controller %s not available)", k, ctrl))
		}
	}
	if len(res.Unified) == 0 {
		res.Unified = nil
	}
	if strict && len(dropped) > 0 {
		return dropped, fmt.Errorf("this node cannot enforce %s (strict_resources is on): %w", strings.Join(dropped, ", "), errdefs.ErrFailedPrecondition)
	}
	return dropped, nil
}

// logMissingCgroups says once, at start-up, which limits will be dropped.
func (r *Runtime) logMissingCgroups(ctx context.Context) {
	if m := hostCgroups().missing(); len(m) > 0 {
		verb := "tolerated: such limits are dropped from container specs"
		if r.cfg.StrictResources {
			verb = "strict_resources is on: containers asking for them fail"
		}
		log.G(ctx).Warnf("cgroups: this node lacks %s; %s", strings.Join(m, ", "), verb)
	}
}

// fitResources makes a container's resources ones this node can enforce
// (see nodeCgroups.fit), logging what it dropped.
func (r *Runtime) fitResources(ctx context.Context, id string, res *specs.LinuxResources) error {
	dropped, err := hostCgroups().fit(res, r.cfg.StrictResources)
	if err == nil && len(dropped) > 0 {
		log.G(ctx).WithField("container", id).Debugf("dropped what this node cannot enforce: %s", strings.Join(dropped, ", "))
	}
	return err
}
