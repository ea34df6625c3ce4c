package images

import "testing"

// FuzzNormalizeRef: any image name a client sends is a reference or an
// InvalidArgument error.
func FuzzNormalizeRef(f *testing.F) {
	for _, s := range []string{"busybox", "registry.k8s.io/pause:3.10", "a/b@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "UPPER", "", ":::", "sha256:abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		NormalizeRef(s)
		s2 := &Store{byID: map[string]*Image{"sha256:" + "ab": {ID: "sha256:ab"}}, byRef: map[string]string{}}
		s2.resolveLocked(s)
	})
}
