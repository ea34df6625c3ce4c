package runtime

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/images"
)

// TestCRIImageName: the image-name annotation is what the user asked for,
// never the image id kubelet sends as the image.
func TestCRIImageName(t *testing.T) {
	img := images.Image{ID: "sha256:abc", References: []string{"registry.k8s.io/app:1", "registry.k8s.io/app@sha256:def"}}
	for _, tc := range []struct {
		spec *runtimeapi.ImageSpec
		want string
	}{
		{&runtimeapi.ImageSpec{Image: "sha256:abc", UserSpecifiedImage: "app:1"}, "app:1"},
		{&runtimeapi.ImageSpec{Image: "sha256:abc"}, "registry.k8s.io/app:1"},
		{&runtimeapi.ImageSpec{Image: "registry.k8s.io/app@sha256:def"}, "registry.k8s.io/app@sha256:def"},
	} {
		if got := criImageName(&runtimeapi.ContainerConfig{Image: tc.spec}, img); got != tc.want {
			t.Errorf("criImageName(%v) = %q, want %q", tc.spec, got, tc.want)
		}
	}
}
