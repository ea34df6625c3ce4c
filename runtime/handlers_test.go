package runtime

import (
	"strings"
	"testing"

	runhcsoptions "github.com/Microsoft/hcsshim/cmd/containerd-shim-runhcs-v1/options"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/typeurl/v2"

	"github.com/wincri/wincri/runtime/config"
)

func TestHandlerOptionsDecodeIntoTheShimsTypes(t *testing.T) {
	cfg := config.Default()
	if err := config.Decode([]byte(`
default_runtime = "runhcs-wcow-hypervisor"
[runtimes.runhcs-wcow-hypervisor]
  shim = "containerd-shim-runhcs-v1"
  platform = "windows"
  [runtimes.runhcs-wcow-hypervisor.options]
    SandboxIsolation = 1
    VmProcessorCount = 2
    VmMemorySizeInMb = 2048
    DefaultContainerScratchSizeInGb = 40
[runtimes.runc-debian]
  shim = "containerd-shim-runc-v2"
  platform = "linux"
  [runtimes.runc-debian.options]
    BinaryName = "/usr/sbin/runc"
    SystemdCgroup = true
`), cfg); err != nil {
		t.Fatal(err)
	}
	hs, err := loadHandlers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hv, ok := hs["runhcs-wcow-hypervisor"].opts.(*runhcsoptions.Options)
	if !ok || hv.SandboxIsolation != runhcsoptions.Options_HYPERVISOR || hv.VmProcessorCount != 2 || hv.VmMemorySizeInMb != 2048 || hv.DefaultContainerScratchSizeInGb != 40 {
		t.Fatalf("runhcs options: %+v", hs["runhcs-wcow-hypervisor"].opts)
	}
	// Sent as containerd sends them: an Any of containerd.runhcs.v1.Options.
	a, err := typeurl.MarshalAnyToProto(hv)
	if err != nil || a.GetTypeUrl() != "containerd.runhcs.v1.Options" {
		t.Fatalf("options Any: %v %v", a.GetTypeUrl(), err)
	}
	rc, ok := hs["runc-debian"].opts.(*runcoptions.Options)
	if !ok || rc.BinaryName != "/usr/sbin/runc" || !rc.SystemdCgroup {
		t.Fatalf("runc options: %+v", hs["runc-debian"].opts)
	}
	cfg.Runtimes["typo"] = config.Runtime{Shim: "containerd-shim-runhcs-v1", Platform: "windows", Options: map[string]any{"SandboxIsolaton": 1}}
	if _, err := loadHandlers(cfg); err == nil || !strings.Contains(err.Error(), "typo") {
		t.Fatalf("misspelt option: %v", err)
	}
}

// TestDefaultWindowsHandlers: containerd's defaults (ScrubLogs; Hyper-V CPU
// limits scaled to the VM) and stdio that outlives a wincri restart.
func TestDefaultWindowsHandlers(t *testing.T) {
	cfg := config.Default()
	cfg.Runtimes = config.DefaultWindowsRuntimes()
	hs, err := loadHandlers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, hv := range map[string]bool{"runhcs-wcow-process": false, "runhcs-wcow-hypervisor": true} {
		o, ok := hs[name].opts.(*runhcsoptions.Options)
		if !ok || !o.GetScrubLogs() || o.IoRetryTimeoutInSec <= 0 || o.ScaleCpuLimitsToSandbox != hv ||
			(o.SandboxIsolation == runhcsoptions.Options_HYPERVISOR) != hv {
			t.Errorf("%s: %v", name, hs[name].opts)
		}
	}
}
