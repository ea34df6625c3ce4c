package runtime

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// withImageVolumes returns cfg with a mount for each VOLUME of the image that
// no CRI mount covers, as containerd does: an empty directory of the
// container's own under containerDir/volumes, created by the mount code and
// removed with the container. cfg itself is not changed.
func withImageVolumes(cfg *runtimeapi.ContainerConfig, img imagespec.ImageConfig, dir string, linux bool) *runtimeapi.ContainerConfig {
	if len(img.Volumes) == 0 {
		return cfg
	}
	clean := func(p string) string {
		if linux {
			return path.Clean("/" + p)
		}
		return strings.ToLower(strings.TrimSuffix(strings.ReplaceAll(p, "/", `\`), `\`))
	}
	taken := map[string]bool{}
	for _, m := range cfg.GetMounts() {
		taken[clean(m.GetContainerPath())] = true
	}
	var dsts []string
	for dst := range img.Volumes {
		if taken[clean(dst)] {
			continue
		}
		if linux {
			dst = clean(dst) // "cache" -> "/cache", as containerd
		}
		dsts = append(dsts, dst)
	}
	if len(dsts) == 0 {
		return cfg
	}
	sort.Strings(dsts)
	out := proto.Clone(cfg).(*runtimeapi.ContainerConfig)
	for i, dst := range dsts {
		out.Mounts = append(out.Mounts, &runtimeapi.Mount{
			ContainerPath: dst,
			HostPath:      filepath.Join(dir, "volumes", fmt.Sprintf("v%d", i)),
			UidMappings:   cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions().GetUids(),
			GidMappings:   cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions().GetGids(),
		})
	}
	return out
}
