package winspec

import (
	"context"
	"testing"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// FuzzSpecs: any pod and container config a client sends yields a spec or
// an error, never a panic.
func FuzzSpecs(f *testing.F) {
	p, _ := proto.Marshal(pod(nil))
	c, _ := proto.Marshal(container(func(c *runtimeapi.ContainerConfig) {
		c.Mounts = []*runtimeapi.Mount{{HostPath: `C:\data`, ContainerPath: `D:`}}
		c.Devices = []*runtimeapi.Device{{HostPath: "class/x"}}
	}))
	f.Add(p, c, true)
	f.Fuzz(func(t *testing.T, podBytes, ctrBytes []byte, escaped bool) {
		pc, cc := &runtimeapi.PodSandboxConfig{}, &runtimeapi.ContainerConfig{}
		if proto.Unmarshal(podBytes, pc) != nil || proto.Unmarshal(ctrBytes, cc) != nil {
			return
		}
		img := imagespec.ImageConfig{Cmd: []string{"cmd", "/c", "x y"}, ArgsEscaped: escaped}
		in := Input{Pod: pc, Image: img, Host: &fakeHost{}, PodAnnotations: []string{"*"}, ContainerAnnotations: []string{"io.microsoft.*"}}
		SandboxSpec(context.Background(), in)
		in.Container = cc
		ContainerSpec(context.Background(), in)
	})
}
