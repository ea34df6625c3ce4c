package runtime

import (
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// FuzzContainerLogPath: a log path either stays inside the pod's log
// directory or is refused.
func FuzzContainerLogPath(f *testing.F) {
	for _, s := range []string{"c.log", "../x", "a/../../b", "/abs", "", "a/./b.log"} {
		f.Add("/var/log/pods/p", s)
	}
	f.Fuzz(func(t *testing.T, dir, rel string) {
		containerLogPath(dir, rel)
	})
}

// FuzzPodConfig: any pod config bytes a client sends decode into checks
// that answer without panicking (user namespaces, networking, DNS).
func FuzzPodConfig(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := &runtimeapi.PodSandboxConfig{}
		if proto.Unmarshal(b, cfg) != nil {
			return
		}
		podUserns(cfg)
		netPod("id", cfg)
		podAnnotations("id", cfg, nil)
		if cfg.GetDnsConfig() != nil {
			resolvConf(cfg.GetDnsConfig())
		}
	})
}
