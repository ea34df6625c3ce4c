package runtime

import (
	"context"
	"fmt"
	"github.com/containerd/containerd/v2/core/snapshots"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandboxOOMScoreAdj is what the pause process asks for (as containerd);
// it is raised to what this process may set.
const sandboxOOMScoreAdj = -998

// sandboxSpec builds the pause container's spec.
func (r *Runtime) sandboxSpec(ctx context.Context, in specInput) (*specs.Spec, error) {
	lin := in.podCfg.GetLinux()
	nsOpts := lin.GetSecurityContext().GetNamespaceOptions()
	img := in.image.Spec.Config
	args := append(append([]string{}, img.Entrypoint...), img.Cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("sandbox image %s has no command: %w", in.image.ID, errdefs.ErrInvalidArgument)
	}
	opts := []oci.SpecOpts{
		withoutDefaultSecurity,
		withoutMount("/run"),
		oci.WithEnv(img.Env),
		oci.WithProcessArgs(args...),
		oci.WithProcessCwd(orDefault(img.WorkingDir, "/")),
		oci.WithRootFSReadonly(),
		oci.WithNoNewPrivileges,
		oci.WithAnnotations(podAnnotations(in.id, in.podCfg, map[string]string{annContainerType: "sandbox", annSandboxImage: r.cfg.SandboxImage})),
		withCgroupsPath(lin.GetCgroupParent(), in.id),
		withOOMScoreAdj(sandboxOOMScoreAdj),
		withPodNamespaces(in.netns, nsOpts),
		in.userns.specOpt(in.usernsPath),
		withSysfsForUserns(in.userns, nsOpts),
		withShm(in.podDir, nsOpts),
		func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
			s.Linux.Sysctl = lin.GetSysctls()
			return nil
		},
	}
	if nsOpts.GetNetwork() != runtimeapi.NamespaceMode_NODE {
		opts = append(opts, oci.WithHostname(in.podCfg.GetHostname()))
	}
	// The pod's own seccomp setting, unconfined by default (as containerd).
	if sc := lin.GetSecurityContext(); sc.GetPrivileged() {
		opts = append(opts, oci.WithPrivileged)
	} else if so, err := seccompOpt(sc.GetSeccomp(), sc.GetSeccompProfilePath()); err != nil {
		return nil, err
	} else if so != nil {
		opts = append(opts, so)
	}
	if u := lin.GetSecurityContext().GetRunAsUser(); u != nil {
		opts = append(opts, oci.WithUIDGID(uint32(u.Value), uint32(lin.GetSecurityContext().GetRunAsGroup().GetValue())))
	} else if uid, err := strconv.ParseUint(strings.Split(img.User, ":")[0], 10, 32); err == nil {
		opts = append(opts, oci.WithUIDGID(uint32(uid), uint32(uid)))
	}
	return r.generateSpec(ctx, in.id, opts)
}

// generateSpec runs the spec options; a panic in them is an error, so the
// caller's cleanup runs.
func (r *Runtime) generateSpec(ctx context.Context, id string, opts []oci.SpecOpts) (s *specs.Spec, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("generate OCI spec: panic: %v", p)
		}
	}()
	c := &containers.Container{ID: id, SnapshotKey: id, Snapshotter: r.Images.Snapshotter()}
	s, err = oci.GenerateSpecWithPlatform(nsCtx(ctx), r.Images.Client(), "linux", c, opts...)
	if err != nil {
		return nil, fmt.Errorf("generate OCI spec: %w", err)
	}
	return s, nil
}

// withPodNamespaces gives the sandbox its namespaces: the pod network
// namespace (or the host's), and new or host IPC, UTS and PID namespaces.
func withPodNamespaces(netns string, ns *runtimeapi.NamespaceOption) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *specs.Spec) error {
		if ns.GetNetwork() == runtimeapi.NamespaceMode_NODE {
			delNamespace(s, specs.NetworkNamespace)
			delNamespace(s, specs.UTSNamespace)
		} else {
			setNamespace(s, specs.NetworkNamespace, netns)
		}
		if ns.GetIpc() == runtimeapi.NamespaceMode_NODE {
			delNamespace(s, specs.IPCNamespace)
		}
		if ns.GetPid() == runtimeapi.NamespaceMode_NODE {
			delNamespace(s, specs.PIDNamespace)
		}
		return nil
	}
}

// withShm mounts the pod's shared /dev/shm (the host's with host IPC).
func withShm(podDir string, ns *runtimeapi.NamespaceOption) oci.SpecOpts {
	src := filepath.Join(podDir, "shm")
	if ns.GetIpc() == runtimeapi.NamespaceMode_NODE {
		src = "/dev/shm"
	}
	return replaceMount(specs.Mount{Destination: "/dev/shm", Type: "bind", Source: src, Options: []string{"rbind", "rw", "nosuid", "nodev", "noexec"}})
}

func withCgroupsPath(parent, id string) oci.SpecOpts {
	return oci.WithCgroup(cgroupsPath(parent, id))
}

// cgroupsPath is the container's cgroup below the pod's parent: a systemd
// slice parent (kubelet's systemd driver, e.g. kubepods-besteffort-podUID.slice)
// gives runc's "slice:prefix:name" form, as containerd does; a cgroupfs parent
// a path below it.
func cgroupsPath(parent, id string) string {
	if parent == "" {
		parent = "/wincri"
	}
	if base := path.Base(parent); strings.HasSuffix(base, ".slice") {
		return base + ":wincri:" + id
	}
	return filepath.Join(parent, id)
}

var (
	selfOOMOnce sync.Once
	selfOOM     int
)

// withOOMScoreAdj sets the OOM score, never below this process's own: without
// CAP_SYS_RESOURCE a lower value makes runc fail.
func withOOMScoreAdj(v int) oci.SpecOpts {
	selfOOMOnce.Do(func() {
		if b, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil {
			selfOOM, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	})
	if v < selfOOM {
		v = selfOOM
	}
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		s.Process.OOMScoreAdj = &v
		return nil
	}
}

func setNamespace(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
	for i, n := range s.Linux.Namespaces {
		if n.Type == t {
			s.Linux.Namespaces[i].Path = path
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
}

func delNamespace(s *specs.Spec, t specs.LinuxNamespaceType) {
	out := s.Linux.Namespaces[:0]
	for _, n := range s.Linux.Namespaces {
		if n.Type != t {
			out = append(out, n)
		}
	}
	s.Linux.Namespaces = out
}

func withoutMount(dest string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		out := s.Mounts[:0]
		for _, m := range s.Mounts {
			if filepath.Clean(m.Destination) != dest {
				out = append(out, m)
			}
		}
		s.Mounts = out
		return nil
	}
}

// replaceMount puts m in place of any mount at its destination.
func replaceMount(m specs.Mount) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *specs.Spec) error {
		if err := withoutMount(m.Destination)(ctx, cl, c, s); err != nil {
			return err
		}
		s.Mounts = append(s.Mounts, m)
		return nil
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// withSysfsForUserns: with host network and a user namespace, sysfs cannot
// be mounted (the network namespace is not the user namespace's), so the
// host's /sys is bound read-only instead.
func withSysfsForUserns(u *userns, ns *runtimeapi.NamespaceOption) oci.SpecOpts {
	if u == nil || ns.GetNetwork() != runtimeapi.NamespaceMode_NODE {
		return func(context.Context, oci.Client, *containers.Container, *specs.Spec) error { return nil }
	}
	return replaceMount(specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "rro", "nosuid", "nodev", "noexec"}})
}

// withoutDefaultSecurity drops the generated default seccomp profile and
// rlimits, as containerd's CRI does: seccomp comes from the security
// context, and rlimits are inherited (setting them needs CAP_SYS_RESOURCE
// across a user namespace).
func withoutDefaultSecurity(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
	s.Process.Rlimits = nil
	s.Process.ApparmorProfile = ""
	if s.Linux != nil {
		s.Linux.Seccomp = nil
	}
	return nil
}

// hostNetwork: a Linux pod is on the host network when its namespace
// options say so.
func hostNetwork(cfg *runtimeapi.PodSandboxConfig) bool {
	return cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
}

// rootfsSnapshotOpts: the overlay snapshotter takes no size.
func rootfsSnapshotOpts(*runtimeapi.ContainerConfig) []snapshots.Opt { return nil }
