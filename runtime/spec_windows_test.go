package runtime

import (
	"context"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"github.com/opencontainers/runtime-spec/specs-go"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/config"
	"github.com/wincri/wincri/runtime/images"
	"github.com/wincri/wincri/runtime/winspec"
)

// TestWindowsAnnotationPassThrough: with the default handlers, a pod author
// reaches the shim only with io.microsoft.container.* container annotations,
// and io.microsoft.virtualmachine.* pod annotations on the Hyper-V handler.
func TestWindowsAnnotationPassThrough(t *testing.T) {
	cfg := config.Default()
	hs, err := loadHandlers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runtime{cfg: cfg, handlers: hs}
	pod := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "n", Uid: "u"},
		Annotations: map[string]string{
			"io.microsoft.virtualmachine.computetopology.processor.count": "8",
			"io.microsoft.network.namespace":                              "someone-elses",
		},
	}
	ctr := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "sha256:abc", UserSpecifiedImage: "mcr.microsoft.com/windows/nanoserver:ltsc2022"},
		Command: []string{"cmd"},
		Annotations: map[string]string{
			"io.microsoft.container.processor.count": "2",
			"io.microsoft.virtualmachine.wcow.debug": "true",
		},
	}
	for handler, want := range map[string][]string{
		"runhcs-wcow-process":    {"io.microsoft.container.processor.count"},
		"runhcs-wcow-hypervisor": {"io.microsoft.container.processor.count", "io.microsoft.virtualmachine.computetopology.processor.count"},
	} {
		in := specInput{podID: "pod1", handler: r.handlers[handler], podCfg: pod, image: images.Image{References: []string{"mcr.microsoft.com/windows/nanoserver:ltsc2022"}}}
		s, err := winspec.ContainerSpec(context.Background(), r.winInput(in, ctr))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k := range s.Annotations {
			if len(k) > 13 && k[:13] == "io.microsoft." {
				n++
			}
		}
		for _, k := range want {
			if _, ok := s.Annotations[k]; !ok {
				t.Errorf("%s: %s did not reach the shim", handler, k)
			}
		}
		if n != len(want) {
			t.Errorf("%s: io.microsoft annotations in the spec: %v, want only %v", handler, s.Annotations, want)
		}
		if got := s.Annotations[annImageName]; got != "mcr.microsoft.com/windows/nanoserver:ltsc2022" {
			t.Errorf("image-name %q, want the image the user asked for", got)
		}
	}
}

func TestWindowsHostProcessIsHostNetwork(t *testing.T) {
	hpc := &runtimeapi.PodSandboxConfig{Windows: &runtimeapi.WindowsPodSandboxConfig{SecurityContext: &runtimeapi.WindowsSandboxSecurityContext{HostProcess: true}}}
	if !hostNetwork(hpc) || !netPod("p", hpc).HostNetwork {
		t.Error("a HostProcess pod must be on the host network")
	}
	// Linux namespace options mean nothing for a Windows pod.
	linuxNode := &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}}}
	if hostNetwork(linuxNode) {
		t.Error("a Windows pod that is not HostProcess gets its HCN namespace")
	}
}

func TestRootfsSizeLabel(t *testing.T) {
	cfg := &runtimeapi.ContainerConfig{Windows: &runtimeapi.WindowsContainerConfig{Resources: &runtimeapi.WindowsContainerResources{RootfsSizeInBytes: 40 << 30}}}
	var info snapshots.Info
	for _, o := range rootfsSnapshotOpts(cfg) {
		if err := o(&info); err != nil {
			t.Fatal(err)
		}
	}
	if info.Labels[rootfsSizeLabel] != "42949672960" {
		t.Errorf("snapshot labels %v: the windows snapshotter would use its default size", info.Labels)
	}
	if len(rootfsSnapshotOpts(&runtimeapi.ContainerConfig{})) != 0 {
		t.Error("no size asked: no label")
	}
}

// TestWindowsResourceUpdate: an update's Windows resources merge into the
// spec and reach the shim as its WindowsResources (typed for Update); the
// config reports them.
func TestWindowsResourceUpdate(t *testing.T) {
	r := &Runtime{}
	max, count := uint16(2000), uint64(2)
	spec := &specs.Spec{Windows: &specs.Windows{Resources: &specs.WindowsResources{CPU: &specs.WindowsCPUResources{Count: &count}}}}
	res := &runtimeapi.ContainerResources{Windows: &runtimeapi.WindowsContainerResources{CpuMaximum: int64(max), MemoryLimitInBytes: 512 << 20}}
	up, err := r.resourceUpdate(context.Background(), "c1", spec, res)
	if err != nil {
		t.Fatal(err)
	}
	wr, ok := up.(*specs.WindowsResources)
	if !ok || *wr.CPU.Maximum != max || *wr.CPU.Count != count || *wr.Memory.Limit != 512<<20 {
		t.Fatalf("update %#v", up)
	}
	if _, err := typeurl.MarshalAnyToProto(up); err != nil {
		t.Fatalf("the shim's Update needs a typed Any: %v", err)
	}
	if _, err := r.resourceUpdate(context.Background(), "c1", spec, &runtimeapi.ContainerResources{Windows: &runtimeapi.WindowsContainerResources{CpuShares: 20000}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("CPU shares out of range: %v", err)
	}
	cfg := &runtimeapi.ContainerConfig{}
	setConfigResources(cfg, res)
	if cfg.GetWindows().GetResources().GetMemoryLimitInBytes() != 512<<20 {
		t.Error("the config does not report the update")
	}
}
