package shim

import (
	"context"
	"io"
	"testing"

	runhcsoptions "github.com/Microsoft/hcsshim/cmd/containerd-shim-runhcs-v1/options"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestRunhcsStartOptions: the runhcs shim reads its options at start from
// stdin as a typed Any (hcsshim's readOptions); decoded that way, they are
// the handler's.
func TestRunhcsStartOptions(t *testing.T) {
	m := &Manager{cfg: Config{Namespace: "k8s.io", Address: "unused"}}
	want := &runhcsoptions.Options{SandboxIsolation: runhcsoptions.Options_HYPERVISOR, ScrubLogs: proto.Bool(true), ScaleCpuLimitsToSandbox: true, DebugType: runhcsoptions.Options_ETW}
	cmd, err := m.command(context.Background(), "containerd-shim-runhcs-v1.exe", "pod1", t.TempDir(), "start", want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(cmd.Stdin)
	if err != nil {
		t.Fatal(err)
	}
	var a anypb.Any
	if err := proto.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	v, err := typeurl.UnmarshalAny(&a)
	if err != nil {
		t.Fatalf("stdin is not a typed Any: %v", err)
	}
	got, ok := v.(*runhcsoptions.Options)
	if !ok || !proto.Equal(got, want) {
		t.Fatalf("the shim would read %T %v, want %v", v, v, want)
	}
}
