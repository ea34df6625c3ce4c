package runtime

import (
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/images"
)

// Annotations containerd's CRI puts on OCI specs; shims (runc's grouping,
// hcsshim) and tools read them.
const (
	annContainerType = "io.kubernetes.cri.container-type"
	annSandboxID     = "io.kubernetes.cri.sandbox-id"
	annSandboxName   = "io.kubernetes.cri.sandbox-name"
	annSandboxNS     = "io.kubernetes.cri.sandbox-namespace"
	annSandboxUID    = "io.kubernetes.cri.sandbox-uid"
	annContainerName = "io.kubernetes.cri.container-name"
	annImageName     = "io.kubernetes.cri.image-name"
	annSandboxImage  = "io.kubernetes.cri.podsandbox.image-name"
	annLogDirectory  = "io.kubernetes.cri.sandbox-log-directory"
)

// specInput is what a spec is built from.
type specInput struct {
	id       string
	podID    string
	handler  handler
	podCfg   *runtimeapi.PodSandboxConfig
	image    images.Image
	netns    string // pod network namespace ("" for host network)
	podDir   string
	pausePid uint32 // the pod's pause process (0 for none)
	// podNS are the namespace files containers join, by kind (see
	// podNamespacePaths).
	podNS map[string]string
	// userns is the pod's user namespace (nil for none); usernsPath is the
	// pinned namespace the pause process joins ("" for a new one).
	userns     *userns
	usernsPath string
}

// processArgs resolves what a container runs, as Kubernetes defines it: the
// config's command replaces the image entrypoint, its args replace the
// image cmd, and a command given without args drops the image cmd.
func processArgs(cfg *runtimeapi.ContainerConfig, img imagespec.ImageConfig) []string {
	command, args := cfg.GetCommand(), cfg.GetArgs()
	if len(command) == 0 {
		command = img.Entrypoint
		if len(args) == 0 {
			args = img.Cmd
		}
	}
	return append(append([]string{}, command...), args...)
}

// mergeEnv returns the image env with the config's entries added or replacing
// same-named ones.
func mergeEnv(image []string, kvs []*runtimeapi.KeyValue) []string {
	out := append([]string{}, image...)
	for _, kv := range kvs {
		entry := kv.Key + "=" + string(kv.Value)
		replaced := false
		for i, e := range out {
			if k, _, _ := strings.Cut(e, "="); k == kv.Key {
				out[i], replaced = entry, true
			}
		}
		if !replaced {
			out = append(out, entry)
		}
	}
	return out
}

func podAnnotations(id string, cfg *runtimeapi.PodSandboxConfig, extra map[string]string) map[string]string {
	a := map[string]string{
		annSandboxID:    id,
		annSandboxName:  cfg.GetMetadata().GetName(),
		annSandboxNS:    cfg.GetMetadata().GetNamespace(),
		annSandboxUID:   cfg.GetMetadata().GetUid(),
		annLogDirectory: cfg.GetLogDirectory(),
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

// linuxResources sets the CRI resources onto an OCI resources block.
func linuxResources(dst *specs.LinuxResources, res *runtimeapi.LinuxContainerResources) *specs.LinuxResources {
	if dst == nil {
		dst = &specs.LinuxResources{}
	}
	if dst.CPU == nil {
		dst.CPU = &specs.LinuxCPU{}
	}
	if dst.Memory == nil {
		dst.Memory = &specs.LinuxMemory{}
	}
	if v := res.GetCpuPeriod(); v > 0 {
		p := uint64(v)
		dst.CPU.Period = &p
	}
	if v := res.GetCpuQuota(); v > 0 {
		dst.CPU.Quota = &v
	}
	if v := res.GetCpuShares(); v > 0 {
		sh := uint64(v)
		dst.CPU.Shares = &sh
	}
	dst.CPU.Cpus, dst.CPU.Mems = res.GetCpusetCpus(), res.GetCpusetMems()
	if v := res.GetMemoryLimitInBytes(); v > 0 {
		dst.Memory.Limit = &v
	}
	if v := res.GetMemorySwapLimitInBytes(); v > 0 {
		dst.Memory.Swap = &v
	}
	for _, h := range res.GetHugepageLimits() {
		dst.HugepageLimits = append(dst.HugepageLimits, specs.LinuxHugepageLimit{Pagesize: h.PageSize, Limit: h.Limit})
	}
	if len(res.GetUnified()) > 0 {
		dst.Unified = res.GetUnified()
	}
	return dst
}

// criImageName is the image name a container's spec carries, as containerd
// gives it: the image the user asked for (kubelet sends it apart, as it
// sends the image id as the image), else the image's own name.
func criImageName(cfg *runtimeapi.ContainerConfig, img images.Image) string {
	if u := cfg.GetImage().GetUserSpecifiedImage(); u != "" {
		return u
	}
	want := cfg.GetImage().GetImage()
	for _, r := range img.References {
		if r == want {
			return r
		}
	}
	for _, r := range img.References {
		if !strings.Contains(r, "@") {
			return r
		}
	}
	if len(img.References) > 0 {
		return img.References[0]
	}
	return want
}
