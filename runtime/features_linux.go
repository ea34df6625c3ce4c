package runtime

import (
	"sync"

	"github.com/containerd/containerd/v2/plugins/snapshots/overlay/overlayutils"

	"golang.org/x/sys/unix"
)

var (
	featuresOnce sync.Once
	features     Features
)

// platformFeatures: recursive read-only mounts need mount_setattr (Linux
// 5.12); supplemental groups policy is applied in spec generation.
func platformFeatures() Features {
	featuresOnce.Do(func() {
		features.SupplementalGroupsPolicy = true
		// Pod user namespaces idmap the rootfs through the overlay snapshotter.
		features.UserNamespaces, _ = overlayutils.SupportsIDMappedMounts()
		var u unix.Utsname
		if unix.Uname(&u) == nil {
			var major, minor int
			for i, part := 0, 0; i < len(u.Release) && part < 2; i++ {
				c := u.Release[i]
				switch {
				case c >= '0' && c <= '9' && part == 0:
					major = major*10 + int(c-'0')
				case c >= '0' && c <= '9':
					minor = minor*10 + int(c-'0')
				case c == '.':
					part++
				default:
					part = 2
				}
			}
			features.RecursiveReadOnlyMounts = major > 5 || (major == 5 && minor >= 12)
		}
	})
	return features
}
