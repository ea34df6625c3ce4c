package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	capparmor "github.com/containerd/containerd/v2/contrib/apparmor"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/apparmor"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerSpec builds a workload container's spec: it joins the pod's
// namespaces through the pause process and gets the CRI config's process,
// mounts, security context and resources.
func (r *Runtime) containerSpec(ctx context.Context, in specInput, cfg *runtimeapi.ContainerConfig) (*specs.Spec, error) {
	img := in.image.Spec.Config
	args := processArgs(cfg, img)
	if len(args) == 0 {
		return nil, fmt.Errorf("no command: neither the container config nor image %s gives one: %w", in.image.ID, errdefs.ErrInvalidArgument)
	}
	lin := cfg.GetLinux()
	sc := lin.GetSecurityContext()
	podNS := in.podCfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	opts := []oci.SpecOpts{
		withoutDefaultSecurity,
		withoutMount("/run"),
		oci.WithProcessArgs(args...),
		oci.WithEnv(mergeEnv(img.Env, cfg.GetEnvs())),
		oci.WithProcessCwd(orDefault(cfg.GetWorkingDir(), orDefault(img.WorkingDir, "/"))),
		oci.WithAnnotations(podAnnotations(in.podID, in.podCfg, map[string]string{
			annContainerType: "container",
			annContainerName: cfg.GetMetadata().GetName(),
			annImageName:     criImageName(cfg, in.image),
		})),
		withCgroupsPath(in.podCfg.GetLinux().GetCgroupParent(), in.id),
		withJoinedNamespaces(in.podNS, podNS, sc.GetNamespaceOptions()),
		in.userns.specOpt(fmt.Sprintf("/proc/%d/ns/user", in.pausePid)),
		withSysfsForUserns(in.userns, podNS),
		withShm(in.podDir, podNS),
		withResources(lin.GetResources()),
	}
	opts = append(opts, podFileMounts(in.podDir, podNS, cfg.GetMounts())...)
	mounts, propagation, err := criMounts(cfg.GetMounts())
	if err != nil {
		return nil, err
	}
	imageMounts, err := r.imageVolumeMounts(ctx, in.id, cfg.GetMounts())
	if err != nil {
		return nil, err
	}
	opts = append(opts, withCgroupfs(cfg.GetMounts()), oci.WithMounts(append(mounts, imageMounts...)), withRootfsPropagation(propagation))
	if cfg.GetTty() {
		opts = append(opts, oci.WithTTY)
	}
	for _, d := range cfg.GetDevices() {
		opts = append(opts, oci.WithDevices(d.HostPath, d.ContainerPath, d.Permissions))
	}
	sec, err := securityOpts(sc, img.User)
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	return r.generateSpec(ctx, in.id, opts)
}

// withJoinedNamespaces makes the container share the pod's network, IPC
// and UTS namespaces, and its PID namespace as the mode asks.
func withJoinedNamespaces(paths map[string]string, pod, ctr *runtimeapi.NamespaceOption) oci.SpecOpts {
	ns := func(kind string) string { return paths[kind] }
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		if pod.GetNetwork() == runtimeapi.NamespaceMode_NODE {
			delNamespace(s, specs.NetworkNamespace)
			delNamespace(s, specs.UTSNamespace)
		} else {
			setNamespace(s, specs.NetworkNamespace, ns("net"))
			setNamespace(s, specs.UTSNamespace, ns("uts"))
		}
		if pod.GetIpc() == runtimeapi.NamespaceMode_NODE {
			delNamespace(s, specs.IPCNamespace)
		} else {
			setNamespace(s, specs.IPCNamespace, ns("ipc"))
		}
		switch ctr.GetPid() {
		case runtimeapi.NamespaceMode_NODE:
			delNamespace(s, specs.PIDNamespace)
		case runtimeapi.NamespaceMode_POD:
			if ns("pid") == "" {
				return fmt.Errorf("PID namespace mode POD in a pod sandbox created without a shared PID namespace: %w", errdefs.ErrFailedPrecondition)
			}
			setNamespace(s, specs.PIDNamespace, ns("pid"))
		case runtimeapi.NamespaceMode_TARGET:
			return fmt.Errorf("PID namespace mode TARGET: %w", errdefs.ErrNotImplemented)
		}
		return nil
	}
}

// podFileMounts bind-mounts the pod's hostname, hosts and resolv.conf unless
// the config mounts something there itself.
func podFileMounts(podDir string, ns *runtimeapi.NamespaceOption, mounts []*runtimeapi.Mount) []oci.SpecOpts {
	var opts []oci.SpecOpts
	for _, f := range []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"} {
		taken := false
		for _, m := range mounts {
			if filepath.Clean(m.ContainerPath) == f {
				taken = true
			}
		}
		if taken {
			continue
		}
		src := filepath.Join(podDir, filepath.Base(f))
		if _, err := os.Stat(src); err != nil {
			continue
		}
		opts = append(opts, replaceMount(specs.Mount{Destination: f, Type: "bind", Source: src, Options: []string{"rbind", "rprivate", "rw"}}))
	}
	return opts
}

// criMounts converts the config's bind mounts; a missing host directory is
// created, as kubelet expects. It also returns the rootfs propagation the
// mounts need ("rshared" for bidirectional, "rslave" for host-to-container).
func criMounts(in []*runtimeapi.Mount) ([]specs.Mount, string, error) {
	var out []specs.Mount
	propagation := ""
	for _, m := range in {
		if m.GetImage().GetImage() != "" {
			continue // see imageVolumeMounts
		}
		if !filepath.IsAbs(m.ContainerPath) {
			return nil, "", fmt.Errorf("mount container path %q is not absolute: %w", m.ContainerPath, errdefs.ErrInvalidArgument)
		}
		src := m.HostPath
		if src == "" {
			return nil, "", fmt.Errorf("mount at %s has no host path: %w", m.ContainerPath, errdefs.ErrInvalidArgument)
		}
		if _, err := os.Stat(src); os.IsNotExist(err) {
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, "", fmt.Errorf("create host path %s: %w", src, err)
			}
		}
		if resolved, err := filepath.EvalSymlinks(src); err == nil {
			src = resolved
		}
		opts := []string{"rbind"}
		switch m.Propagation {
		case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
			if err := requirePropagation(src, "shared"); err != nil {
				return nil, "", err
			}
			opts, propagation = append(opts, "rshared"), "rshared"
		case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
			if err := requirePropagation(src, "shared", "master"); err != nil {
				return nil, "", err
			}
			opts = append(opts, "rslave")
			if propagation == "" {
				propagation = "rslave"
			}
		default:
			opts = append(opts, "rprivate")
		}
		ro, err := readonlyOptions(m)
		if err != nil {
			return nil, "", err
		}
		opts = append(opts, ro...)
		out = append(out, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: src, Options: opts})
	}
	return out, propagation, nil
}

// readonlyOptions: "rw", "ro", or "ro" + "rro" for a recursive read-only
// mount, which must be read-only and private.
func readonlyOptions(m *runtimeapi.Mount) ([]string, error) {
	if m.RecursiveReadOnly {
		if !m.Readonly {
			return nil, fmt.Errorf("mount %s: recursive read-only needs readonly: %w", m.ContainerPath, errdefs.ErrInvalidArgument)
		}
		if m.Propagation != runtimeapi.MountPropagation_PROPAGATION_PRIVATE {
			return nil, fmt.Errorf("mount %s: recursive read-only needs private propagation, not %s: %w", m.ContainerPath, m.Propagation, errdefs.ErrInvalidArgument)
		}
		return []string{"ro", "rro"}, nil
	}
	if m.Readonly {
		return []string{"ro"}, nil
	}
	return []string{"rw"}, nil
}

// requirePropagation checks that the mount holding path propagates as one
// of kinds ("shared", "master"): otherwise the container would not see
// (or share) mounts, silently.
func requirePropagation(path string, kinds ...string) error {
	info, err := mountinfo.GetMounts(mountinfo.ParentsFilter(path))
	if err != nil {
		return err
	}
	var best *mountinfo.Info
	for _, m := range info {
		if best == nil || len(m.Mountpoint) > len(best.Mountpoint) {
			best = m
		}
	}
	if best == nil {
		return fmt.Errorf("no mount holds %s: %w", path, errdefs.ErrFailedPrecondition)
	}
	for _, f := range strings.Fields(best.Optional) {
		for _, k := range kinds {
			if strings.HasPrefix(f, k+":") {
				return nil
			}
		}
	}
	return fmt.Errorf("path %s is mounted on %s which is not %s: %w", path, best.Mountpoint, strings.Join(kinds, " or "), errdefs.ErrFailedPrecondition)
}

// withCgroupfs mounts the container's cgroups at /sys/fs/cgroup, read-only
// (oci.WithWriteableCgroupfs makes it writable for privileged containers),
// as containerd and CRI-O do: .NET, the JVM and Go size their heaps and
// thread pools from the limits they read there. A CRI mount at
// /sys/fs/cgroup takes its place. Without a cgroup namespace it keeps the
// host's shared cgroup2 options (nodeCgroups.sharedMountOptions).
func withCgroupfs(mounts []*runtimeapi.Mount) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		for _, m := range mounts {
			if filepath.Clean(m.GetContainerPath()) == cgroupRoot {
				return nil
			}
		}
		opts := []string{"nosuid", "noexec", "nodev", "relatime", "ro"}
		cgroupNS := s.Linux != nil && slices.ContainsFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.CgroupNamespace
		})
		if !cgroupNS {
			opts = append(opts, hostCgroups().sharedMountOptions...)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Source: "cgroup", Destination: cgroupRoot, Type: "cgroup", Options: opts})
		return nil
	}
}

func withRootfsPropagation(p string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		if p != "" && s.Linux.RootfsPropagation != "rshared" {
			s.Linux.RootfsPropagation = p
		}
		return nil
	}
}

// securityOpts applies the container security context.
func securityOpts(sc *runtimeapi.LinuxContainerSecurityContext, imageUser string) ([]oci.SpecOpts, error) {
	var opts []oci.SpecOpts
	if sc.GetRunAsGroup() != nil && sc.GetRunAsUser() == nil && sc.GetRunAsUsername() == "" {
		return nil, fmt.Errorf("run_as_group is set without run_as_user or run_as_username: %w", errdefs.ErrInvalidArgument)
	}
	user := imageUser
	switch {
	case sc.GetRunAsUser() != nil:
		user = strconv.FormatInt(sc.GetRunAsUser().Value, 10)
	case sc.GetRunAsUsername() != "":
		user = sc.GetRunAsUsername()
	}
	if g := sc.GetRunAsGroup(); g != nil {
		user = strings.Split(user, ":")[0] + ":" + strconv.FormatInt(g.Value, 10)
	}
	if user != "" {
		opts = append(opts, oci.WithUser(user))
	}
	if sc.GetSupplementalGroupsPolicy() != runtimeapi.SupplementalGroupsPolicy_Strict {
		// The image's /etc/group memberships of the user, root (0) when
		// neither the config nor the image names one, as containerd does.
		opts = append(opts, oci.WithAdditionalGIDs(orDefault(strings.Split(user, ":")[0], "0")))
	}
	if gs := sc.GetSupplementalGroups(); len(gs) > 0 {
		opts = append(opts, withSupplementalGroups(gs))
	}
	if sc.GetPrivileged() {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices,
			oci.WithWriteableSysfs, oci.WithWriteableCgroupfs, oci.WithMaskedPaths(nil), oci.WithReadonlyPaths(nil))
	} else {
		opts = append(opts, capabilityOpts(sc.GetCapabilities())...)
		// Exactly the paths the request names, none when it names none, as
		// containerd does: the kubelet sends its defaults, and an empty list
		// for a pod whose procMount is Unmasked, which reaches us as no list
		// (proto3), so "none named" cannot mean "the defaults".
		opts = append(opts, oci.WithMaskedPaths(sc.GetMaskedPaths()), oci.WithReadonlyPaths(sc.GetReadonlyPaths()))
		so, err := seccompOpt(sc.GetSeccomp(), sc.GetSeccompProfilePath())
		if err != nil {
			return nil, err
		}
		if so != nil {
			opts = append(opts, so)
		}
		ao, err := apparmorOpt(sc.GetApparmor(), sc.GetApparmorProfile(), apparmor.HostSupports())
		if err != nil {
			return nil, err
		}
		if ao != nil {
			opts = append(opts, ao)
		}
	}
	if sc.GetReadonlyRootfs() {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if sc.GetNoNewPrivs() {
		opts = append(opts, oci.WithNoNewPrivileges)
	} else {
		opts = append(opts, oci.WithNewPrivileges)
	}
	return opts, nil
}

func withSupplementalGroups(gs []int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		for _, g := range gs {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
		}
		return nil
	}
}

func capabilityOpts(c *runtimeapi.Capability) []oci.SpecOpts {
	caps := func(names []string) (all bool, out []string) {
		for _, n := range names {
			if strings.EqualFold(n, "ALL") {
				all = true
				continue
			}
			n = strings.ToUpper(n)
			if !strings.HasPrefix(n, "CAP_") {
				n = "CAP_" + n
			}
			out = append(out, n)
		}
		return all, out
	}
	addAll, add := caps(c.GetAddCapabilities())
	dropAll, drop := caps(c.GetDropCapabilities())
	var opts []oci.SpecOpts
	if addAll {
		// What this process holds: a capability it lacks cannot be granted.
		opts = append(opts, oci.WithAllCurrentCapabilities)
	}
	if dropAll {
		opts = append(opts, oci.WithCapabilities(nil))
	}
	if len(add) > 0 {
		opts = append(opts, oci.WithAddedCapabilities(add))
	}
	if len(drop) > 0 {
		opts = append(opts, oci.WithDroppedCapabilities(drop))
	}
	return opts
}

// seccompOpt picks the seccomp profile: runtime default, unconfined (none),
// or a localhost profile file.
func seccompOpt(profile *runtimeapi.SecurityProfile, profilePath string) (oci.SpecOpts, error) {
	kind, path := "", ""
	if p := profile; p != nil {
		switch p.ProfileType {
		case runtimeapi.SecurityProfile_RuntimeDefault:
			kind = "default"
		case runtimeapi.SecurityProfile_Unconfined:
			kind = "unconfined"
		case runtimeapi.SecurityProfile_Localhost:
			kind, path = "localhost", p.LocalhostRef
		}
	} else {
		switch p := profilePath; {
		case p == "runtime/default" || p == "docker/default":
			kind = "default"
		case strings.HasPrefix(p, "localhost/"):
			kind, path = "localhost", strings.TrimPrefix(p, "localhost/")
		default:
			kind = "unconfined"
		}
	}
	switch kind {
	case "default":
		return seccomp.WithDefaultProfile(), nil
	case "localhost":
		if !filepath.IsAbs(path) {
			return nil, fmt.Errorf("seccomp localhost profile %q is not an absolute path: %w", path, errdefs.ErrInvalidArgument)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("seccomp profile %s: %w", path, errdefs.ErrInvalidArgument)
		}
		return seccomp.WithProfile(path), nil
	}
	return nil, nil
}

// withResources applies CPU, memory and cpuset limits and the OOM score.
func withResources(res *runtimeapi.LinuxContainerResources) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *specs.Spec) error {
		if res == nil {
			return withOOMScoreAdj(0)(ctx, cl, c, s)
		}
		if err := withOOMScoreAdj(int(res.OomScoreAdj))(ctx, cl, c, s); err != nil {
			return err
		}
		s.Linux.Resources = linuxResources(s.Linux.Resources, res)
		return nil
	}
}

// defaultApparmorProfile is the profile wincri loads for RuntimeDefault.
const defaultApparmorProfile = "wincri-default"

// apparmorOpt applies the container's AppArmor profile (the security
// profile, else the deprecated "runtime/default" / "localhost/NAME" string).
// On a host without AppArmor, RuntimeDefault and Unconfined are tolerated (no
// profile can apply), but a named profile is refused: starting the container
// unconfined would silently drop what the pod asked for.
func apparmorOpt(sp *runtimeapi.SecurityProfile, legacy string, enabled bool) (oci.SpecOpts, error) {
	kind, name := runtimeapi.SecurityProfile_Unconfined, ""
	switch {
	case sp != nil:
		kind, name = sp.GetProfileType(), sp.GetLocalhostRef()
	case legacy == "runtime/default":
		kind = runtimeapi.SecurityProfile_RuntimeDefault
	case strings.HasPrefix(legacy, "localhost/"):
		kind, name = runtimeapi.SecurityProfile_Localhost, strings.TrimPrefix(legacy, "localhost/")
	case legacy != "" && legacy != "unconfined":
		return nil, fmt.Errorf("apparmor profile %q: want runtime/default, unconfined or localhost/NAME: %w", legacy, errdefs.ErrInvalidArgument)
	}
	switch kind {
	case runtimeapi.SecurityProfile_RuntimeDefault:
		if !enabled {
			return nil, nil
		}
		return capparmor.WithDefaultProfile(defaultApparmorProfile), nil
	case runtimeapi.SecurityProfile_Localhost:
		name = strings.TrimPrefix(name, "localhost/")
		if name == "" {
			return nil, fmt.Errorf("apparmor profile type Localhost needs a profile name: %w", errdefs.ErrInvalidArgument)
		}
		if !enabled {
			return nil, fmt.Errorf("apparmor profile %q: AppArmor is not enabled on this host: %w", name, errdefs.ErrFailedPrecondition)
		}
		return capparmor.WithProfile(name), nil
	}
	return nil, nil
}
