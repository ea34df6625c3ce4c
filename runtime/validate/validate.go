// Package validate checks CRI requests whole before anything is made: a
// field the kernel, runc or a CNI plugin would refuse halfway is
// InvalidArgument naming the field, and nothing is left to undo.
package validate

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Limits on what a request may carry (Kubernetes' own are lower: names are
// DNS subdomains of at most 253 bytes, annotations at most 256 KiB in all).
const (
	maxName        = 253
	maxHostname    = 64 // HOST_NAME_MAX
	maxMapBytes    = 256 << 10
	maxArgBytes    = 128 << 10 // one argument or environment entry (MAX_ARG_STRLEN)
	maxListEntries = 4096
)

func badField(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", field, fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
}

// checkText: at most max bytes, no control characters.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return badField(field, "%d bytes, at most %d", len(s), max)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return badField(field, "control character at byte %d", i)
	}
	return nil
}

// checkName: a required metadata name.
func checkName(field, s string) error {
	if s == "" {
		return badField(field, "must be set")
	}
	return checkText(field, s, maxName)
}

func checkMap(field string, m map[string]string) error {
	n := 0
	for k, v := range m {
		if k == "" {
			return badField(field, "empty key")
		}
		n += len(k) + len(v)
	}
	if n > maxMapBytes {
		return badField(field, "%d bytes, at most %d", n, maxMapBytes)
	}
	return nil
}

// checkPath: an absolute, clean path (no ".." element), as a host path a
// request names must be.
func checkPath(field, p string) error {
	if !filepath.IsAbs(p) {
		return badField(field, "%q is not an absolute path", p)
	}
	for _, e := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if e == ".." {
			return badField(field, "%q has a .. element", p)
		}
	}
	return checkText(field, p, 4096)
}

// checkArgs: arguments and environment entries exec can pass (no NUL).
func checkArgs(field string, args []string) error {
	if len(args) > maxListEntries {
		return badField(field, "%d entries, at most %d", len(args), maxListEntries)
	}
	for i, a := range args {
		if len(a) > maxArgBytes || strings.ContainsRune(a, 0) {
			return badField(fmt.Sprintf("%s[%d]", field, i), "more than %d bytes or a NUL byte", maxArgBytes)
		}
	}
	return nil
}

// PodConfig checks a RunPodSandbox request's config.
func PodConfig(cfg *runtimeapi.PodSandboxConfig) error {
	md := cfg.GetMetadata()
	for _, f := range []struct{ name, v string }{{"metadata.name", md.GetName()}, {"metadata.namespace", md.GetNamespace()}, {"metadata.uid", md.GetUid()}} {
		if err := checkName(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkText("hostname", cfg.GetHostname(), maxHostname); err != nil {
		return err
	}
	if d := cfg.GetLogDirectory(); d != "" {
		if err := checkPath("log_directory", d); err != nil {
			return err
		}
	}
	if err := checkDNS(cfg.GetDnsConfig()); err != nil {
		return err
	}
	for i, pm := range cfg.GetPortMappings() {
		if err := checkPortMapping(fmt.Sprintf("port_mappings[%d]", i), pm); err != nil {
			return err
		}
	}
	if err := checkMap("labels", cfg.GetLabels()); err != nil {
		return err
	}
	if err := checkMap("annotations", cfg.GetAnnotations()); err != nil {
		return err
	}
	return validatePodPlatform(cfg)
}

func checkDNS(dns *runtimeapi.DNSConfig) error {
	for i, s := range dns.GetServers() {
		if net.ParseIP(s) == nil {
			return badField(fmt.Sprintf("dns_config.servers[%d]", i), "%q is not an IP address", s)
		}
	}
	// Written one per line into resolv.conf: no whitespace, no line breaks.
	for field, l := range map[string][]string{"dns_config.searches": dns.GetSearches(), "dns_config.options": dns.GetOptions()} {
		for i, s := range l {
			if s == "" || strings.ContainsFunc(s, unicode.IsSpace) || strings.ContainsFunc(s, unicode.IsControl) || len(s) > maxName {
				return badField(fmt.Sprintf("%s[%d]", field, i), "%q is empty, too long or holds a space or control character", s)
			}
		}
	}
	return nil
}

func checkPortMapping(field string, pm *runtimeapi.PortMapping) error {
	if _, ok := runtimeapi.Protocol_name[int32(pm.GetProtocol())]; !ok {
		return badField(field+".protocol", "unknown protocol %d", pm.GetProtocol())
	}
	if p := pm.GetContainerPort(); p < 1 || p > 65535 {
		return badField(field+".container_port", "%d is not a port (1-65535)", p)
	}
	if p := pm.GetHostPort(); p < 0 || p > 65535 {
		return badField(field+".host_port", "%d is not a port (0-65535)", p)
	}
	if ip := pm.GetHostIp(); ip != "" && net.ParseIP(ip) == nil {
		return badField(field+".host_ip", "%q is not an IP address", ip)
	}
	return nil
}

// ContainerConfig checks a CreateContainer request's config.
func ContainerConfig(cfg *runtimeapi.ContainerConfig) error {
	if err := checkName("metadata.name", cfg.GetMetadata().GetName()); err != nil {
		return err
	}
	if cfg.GetImage().GetImage() == "" {
		return badField("image.image", "must be set")
	}
	if err := checkArgs("command", cfg.GetCommand()); err != nil {
		return err
	}
	if err := checkArgs("args", cfg.GetArgs()); err != nil {
		return err
	}
	if len(cfg.GetEnvs()) > maxListEntries {
		return badField("envs", "%d entries, at most %d", len(cfg.GetEnvs()), maxListEntries)
	}
	for i, e := range cfg.GetEnvs() {
		if k := e.GetKey(); k == "" || strings.ContainsAny(k, "=\x00") || len(k)+len(e.GetValue()) > maxArgBytes || strings.ContainsRune(string(e.GetValue()), 0) {
			return badField(fmt.Sprintf("envs[%d]", i), "key %q is empty or holds '=' or NUL, or the entry is too long", k)
		}
	}
	if err := checkText("working_dir", cfg.GetWorkingDir(), 4096); err != nil {
		return err
	}
	for i, m := range cfg.GetMounts() {
		if err := checkMount(fmt.Sprintf("mounts[%d]", i), m); err != nil {
			return err
		}
	}
	if err := checkMap("labels", cfg.GetLabels()); err != nil {
		return err
	}
	if err := checkMap("annotations", cfg.GetAnnotations()); err != nil {
		return err
	}
	return ContainerPlatform(cfg)
}

func checkMount(field string, m *runtimeapi.Mount) error {
	if m.GetContainerPath() == "" {
		return badField(field+".container_path", "must be set")
	}
	if err := checkText(field+".container_path", m.GetContainerPath(), 4096); err != nil {
		return err
	}
	if _, ok := runtimeapi.MountPropagation_name[int32(m.GetPropagation())]; !ok {
		return badField(field+".propagation", "unknown propagation %d", m.GetPropagation())
	}
	if m.GetImage().GetImage() != "" {
		return nil // an image volume: no host path
	}
	return checkPath(field+".host_path", m.GetHostPath())
}
