package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// writePodFiles writes the hostname, hosts and resolv.conf the pod's
// containers mount.
func writePodFiles(dir string, cfg *runtimeapi.PodSandboxConfig) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	hostNet := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
	hostname := cfg.GetHostname()
	if hostNet || hostname == "" {
		if h, err := os.Hostname(); err == nil && (hostNet || hostname == "") {
			hostname = h
		}
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	if hostNet {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	resolv, err := resolvConf(cfg.GetDnsConfig())
	if err != nil {
		return err
	}
	for name, body := range map[string]string{"hostname": hostname + "\n", "hosts": hosts, "resolv.conf": resolv} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// resolvConf renders the pod's DNS config, or copies the host's when the pod
// gives none.
func resolvConf(dns *runtimeapi.DNSConfig) (string, error) {
	if len(dns.GetServers()) == 0 && len(dns.GetSearches()) == 0 && len(dns.GetOptions()) == 0 {
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil && !os.IsNotExist(err) {
			return "", fmt.Errorf("read host resolv.conf: %w", err)
		}
		return string(b), nil
	}
	var sb strings.Builder
	if len(dns.GetSearches()) > 0 {
		fmt.Fprintf(&sb, "search %s\n", strings.Join(dns.GetSearches(), " "))
	}
	for _, s := range dns.GetServers() {
		fmt.Fprintf(&sb, "nameserver %s\n", s)
	}
	if len(dns.GetOptions()) > 0 {
		fmt.Fprintf(&sb, "options %s\n", strings.Join(dns.GetOptions(), " "))
	}
	return sb.String(), nil
}
