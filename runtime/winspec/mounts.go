package winspec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// HostFS is what building mounts asks of the host: the real filesystem on
// Windows, a fake in tests.
type HostFS interface {
	Stat(path string) (os.FileInfo, error)
	MkdirAll(path string, perm os.FileMode) error
	// ResolveSymbolicLink returns the final path of a path.
	ResolveSymbolicLink(path string) (string, error)
}

func isNamedPipe(p string) bool { return strings.HasPrefix(p, `\\.\pipe\`) }

// cleanPath cleans a Windows path ("C:/a/../b" -> `C:\b`) on any platform;
// named pipes, UNC paths (`\\server\share\...`) and volume GUID paths
// (`\\?\Volume{...}\...`) are left exactly as they are.
func cleanPath(p string) string {
	if strings.HasPrefix(p, `\\`) {
		return p
	}
	p = strings.ReplaceAll(p, "/", `\`)
	vol := ""
	if len(p) >= 2 && p[1] == ':' {
		vol, p = p[:2], p[2:]
	}
	rooted := strings.HasPrefix(p, `\`)
	var parts []string
	for _, e := range strings.Split(p, `\`) {
		switch e {
		case "", ".":
		case "..":
			if len(parts) > 0 && parts[len(parts)-1] != ".." {
				parts = parts[:len(parts)-1]
			} else if !rooted {
				parts = append(parts, "..")
			}
		default:
			parts = append(parts, e)
		}
	}
	out := strings.Join(parts, `\`)
	if rooted {
		out = `\` + out
	}
	if out == "" {
		out = "."
		if vol != "" {
			out = ""
		}
	}
	return vol + out
}

// withMounts adds the config's mounts: host directories and files (created
// when missing, symlinks resolved), and named pipes; a destination without
// a drive is on C:, and a whole drive other than C: can be mounted.
func withMounts(host HostFS, mounts []*runtimeapi.Mount) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		ms := append([]*runtimeapi.Mount{}, mounts...)
		// Parents before children, so a mount is not hidden by its parent's.
		sort.SliceStable(ms, func(i, j int) bool {
			return depth(ms[i].ContainerPath) < depth(ms[j].ContainerPath)
		})
		taken := map[string]bool{}
		for _, m := range ms {
			taken[cleanPath(m.ContainerPath)] = true
		}
		kept := s.Mounts[:0]
		for _, m := range s.Mounts {
			if !taken[cleanPath(m.Destination)] {
				kept = append(kept, m)
			}
		}
		s.Mounts = kept
		for _, m := range ms {
			pm, err := parseMount(host, m)
			if err != nil {
				return err
			}
			s.Mounts = append(s.Mounts, pm)
		}
		return nil
	}
}

func depth(p string) int { return strings.Count(cleanPath(p), `\`) }

func parseMount(host HostFS, m *runtimeapi.Mount) (specs.Mount, error) {
	src, dst := m.GetHostPath(), m.GetContainerPath()
	if !isNamedPipe(src) {
		if host == nil {
			return specs.Mount{}, errors.New("no host filesystem to check mount sources against")
		}
		if _, err := host.Stat(src); err != nil {
			if !os.IsNotExist(err) {
				return specs.Mount{}, fmt.Errorf("stat %q: %w", src, err)
			}
			if err := host.MkdirAll(src, 0o755); err != nil {
				return specs.Mount{}, fmt.Errorf("create %q: %w", src, err)
			}
		}
		resolved, err := host.ResolveSymbolicLink(src)
		if err != nil {
			return specs.Mount{}, fmt.Errorf("resolve %q: %w", src, err)
		}
		src = cleanPath(resolved)
		if len(dst) == 2 && dst[1] == ':' {
			if dst[0] == 'c' || dst[0] == 'C' {
				return specs.Mount{}, errors.New("the C: drive cannot be a mount destination")
			}
		} else {
			dst = cleanPath(dst)
			if strings.HasPrefix(dst, `\`) {
				dst = "C:" + dst
			}
		}
	}
	opt := "rw"
	if m.GetReadonly() {
		opt = "ro"
	}
	return specs.Mount{Source: src, Destination: dst, Options: []string{opt}}, nil
}

// withDevices assigns host devices by "IDType://ID" ("class/GUID" is short
// for "class://GUID"); Windows devices have no container path or permissions.
func withDevices(devices []*runtimeapi.Device) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *specs.Spec) error {
		for _, d := range devices {
			if d.ContainerPath != "" || d.Permissions != "" {
				return fmt.Errorf("device %s: Windows devices take no container path or permissions", d.HostPath)
			}
			hp := d.HostPath
			if rest, ok := strings.CutPrefix(hp, "class/"); ok {
				hp = "class://" + rest
			}
			idType, id, ok := strings.Cut(hp, "://")
			if !ok {
				return fmt.Errorf("device host path %q is not IDType://ID", d.HostPath)
			}
			if err := oci.WithWindowsDevice(idType, id)(ctx, cl, c, s); err != nil {
				return fmt.Errorf("device %s: %w", d.HostPath, err)
			}
		}
		return nil
	}
}

// withResources sets CPU count, shares, maximum, affinity and the memory limit.
func withResources(r *runtimeapi.WindowsContainerResources) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		if r == nil {
			return nil
		}
		res := windowsResources(s)
		if res.Memory == nil {
			res.Memory = &specs.WindowsMemoryResources{}
		}
		count, shares, maximum, limit := uint64(r.GetCpuCount()), uint16(r.GetCpuShares()), uint16(r.GetCpuMaximum()), uint64(r.GetMemoryLimitInBytes())
		cpu := func() *specs.WindowsCPUResources {
			if res.CPU == nil {
				res.CPU = &specs.WindowsCPUResources{}
			}
			return res.CPU
		}
		if count != 0 {
			cpu().Count = &count
		}
		if shares != 0 {
			cpu().Shares = &shares
		}
		if maximum != 0 {
			cpu().Maximum = &maximum
		}
		if limit != 0 {
			res.Memory.Limit = &limit
		}
		for _, a := range r.GetAffinityCpus() {
			if a != nil {
				cpu().Affinity = append(cpu().Affinity, specs.WindowsCPUGroupAffinity{Mask: a.CpuMask, Group: a.CpuGroup})
			}
		}
		return nil
	}
}

// UpdateResources merges an UpdateContainerResources request's Windows
// resources into a container's spec and returns them, as containerd sends
// them to the shim's Update.
func UpdateResources(s *specs.Spec, r *runtimeapi.WindowsContainerResources) *specs.WindowsResources {
	withResources(r)(context.Background(), nil, nil, s)
	return windowsResources(s)
}
