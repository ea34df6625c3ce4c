// Package winspec builds the OCI specs of Windows pods and containers (run
// by the runhcs shim) from CRI configs. It is plain logic with no Windows
// calls, so it is built and tested on every platform; its output matches
// what containerd's CRI produces for the same requests.
package winspec

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Annotations hcsshim and tools read on Windows specs.
const (
	AnnHostProcess   = "microsoft.com/hostprocess-container"
	annContainerType = "io.kubernetes.cri.container-type"
	annSandboxID     = "io.kubernetes.cri.sandbox-id"
	annSandboxName   = "io.kubernetes.cri.sandbox-name"
	annSandboxNS     = "io.kubernetes.cri.sandbox-namespace"
	annSandboxUID    = "io.kubernetes.cri.sandbox-uid"
	annSandboxLogDir = "io.kubernetes.cri.sandbox-log-directory"
	annContainerName = "io.kubernetes.cri.container-name"
	annImageName     = "io.kubernetes.cri.image-name"
	annSandboxImage  = "io.kubernetes.cri.podsandbox.image-name"
)

// DefaultSandboxCPUShares is the pause container's CPU weight (of 10000).
const DefaultSandboxCPUShares = 2

// Input is what a Windows spec is built from.
type Input struct {
	// ID is the pod sandbox id; for a container, the container's own id is not in its spec.
	SandboxID string
	Pod       *runtimeapi.PodSandboxConfig
	// Container is nil for the sandbox (pause) container.
	Container     *runtimeapi.ContainerConfig
	ContainerName string
	ImageName     string
	Image         imagespec.ImageConfig
	// NetNS is the pod's HCN namespace id ("" for host-network/HostProcess pods).
	NetNS string
	// PodAnnotations and ContainerAnnotations are the runtime handler's
	// pass-through patterns (path.Match, e.g. "io.microsoft.*").
	PodAnnotations, ContainerAnnotations []string
	// Host answers the questions mounts ask of the host's filesystem.
	Host HostFS
}

// SandboxSpec builds the pause container's spec of a Windows pod.
func SandboxSpec(ctx context.Context, in Input) (*specs.Spec, error) {
	img := in.Image
	if len(img.Entrypoint) == 0 && len(img.Cmd) == 0 {
		return nil, errors.New("sandbox image has neither entrypoint nor cmd")
	}
	sc := in.Pod.GetWindows().GetSecurityContext()
	opts := []oci.SpecOpts{
		oci.WithEnv(img.Env),
		oci.WithHostname(in.Pod.GetHostname()),
	}
	if img.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(img.WorkingDir))
	}
	opts = append(opts,
		oci.WithProcessArgs(append(append([]string{}, img.Entrypoint...), img.Cmd...)...),
		withoutRoot,
		oci.WithWindowsNetworkNamespace(in.NetNS),
		withSandboxShares,
	)
	if cs := sc.GetCredentialSpec(); cs != "" {
		opts = append(opts, withCredentialSpec(cs))
	}
	user, err := windowsUser(orDefault(sc.GetRunAsUsername(), img.User))
	if err != nil {
		return nil, err
	}
	opts = append(opts, user,
		withAnnotations(passthrough(in.Pod.GetAnnotations(), in.PodAnnotations)),
		withAnnotations(map[string]string{AnnHostProcess: strconv.FormatBool(sc.GetHostProcess())}),
		withAnnotations(criAnnotations(in, true)))
	return generate(ctx, opts)
}

// ContainerSpec builds a workload container's spec in a Windows pod.
func ContainerSpec(ctx context.Context, in Input) (*specs.Spec, error) {
	cfg, img := in.Container, in.Image
	hpc := cfg.GetWindows().GetSecurityContext().GetHostProcess()
	if hpc != in.Pod.GetWindows().GetSecurityContext().GetHostProcess() {
		return nil, errors.New("a pod and all its containers must have the same HostProcess setting")
	}
	opts := []oci.SpecOpts{withProcess(cfg, img)}
	switch {
	case cfg.GetWorkingDir() != "":
		opts = append(opts, oci.WithProcessCwd(cfg.GetWorkingDir()))
	case img.WorkingDir != "":
		opts = append(opts, oci.WithProcessCwd(img.WorkingDir))
	case hpc:
		opts = append(opts, oci.WithProcessCwd(`C:\hpc`))
	}
	if cfg.GetTty() {
		opts = append(opts, oci.WithTTY)
	}
	env := append([]string{}, img.Env...)
	for _, e := range cfg.GetEnvs() {
		env = append(env, e.GetKey()+"="+string(e.GetValue()))
	}
	opts = append(opts, oci.WithEnv(env), withoutRoot,
		oci.WithWindowsNetworkNamespace(in.NetNS), oci.WithHostname(in.Pod.GetHostname()),
		withMounts(in.Host, cfg.GetMounts()), withDevices(cfg.GetDevices()))
	user := img.User
	if w := cfg.GetWindows(); w != nil {
		opts = append(opts, withResources(w.GetResources()))
		if u := w.GetSecurityContext().GetRunAsUsername(); u != "" {
			user = u
		}
		if cs := w.GetSecurityContext().GetCredentialSpec(); cs != "" {
			opts = append(opts, withCredentialSpec(cs))
		}
	}
	userOpt, err := windowsUser(user)
	if err != nil {
		return nil, err
	}
	opts = append(opts, userOpt,
		withAnnotations(passthrough(in.Pod.GetAnnotations(), in.PodAnnotations)),
		withAnnotations(passthrough(cfg.GetAnnotations(), in.ContainerAnnotations)),
		withAnnotations(map[string]string{AnnHostProcess: strconv.FormatBool(hpc)}),
		withAnnotations(criAnnotations(in, false)))
	return generate(ctx, opts)
}

// generate runs the spec options. A panic in them (containerd's own code
// panics on some inputs) is an error, so the caller's cleanup runs.
func generate(ctx context.Context, opts []oci.SpecOpts) (s *specs.Spec, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("generate Windows OCI spec: panic: %v", p)
		}
	}()
	s, err = oci.GenerateSpecWithPlatform(ctx, nil, "windows/amd64", &containers.Container{}, opts...)
	if err != nil {
		return nil, fmt.Errorf("generate Windows OCI spec: %w", err)
	}
	return s, nil
}

// numericUser is a Linux-style uid or uid:gid.
var numericUser = regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`)

// windowsUser sets the user a Windows process runs as: a user name
// (ContainerUser, ContainerAdministrator, NT AUTHORITY\SYSTEM, ...). A
// numeric user, as a Linux-built image or a runAsUser may give, names no one
// on Windows (and makes containerd's option panic).
func windowsUser(u string) (oci.SpecOpts, error) {
	if numericUser.MatchString(u) {
		return nil, fmt.Errorf("user %q: a Windows container runs as a user name, not a numeric id: %w", u, errdefs.ErrInvalidArgument)
	}
	return oci.WithUser(u), nil
}

// withProcess sets the command: args, or a command line when the image's
// arguments are already escaped (ArgsEscaped images built on Windows).
func withProcess(cfg *runtimeapi.ContainerConfig, img imagespec.ImageConfig) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *specs.Spec) error {
		args, fromImage, err := commandArgs(img.Entrypoint, img.Cmd, cfg.GetCommand(), cfg.GetArgs())
		if err != nil {
			return err
		}
		if !img.ArgsEscaped { //nolint:staticcheck // still set by Windows images
			return oci.WithProcessArgs(args...)(ctx, cl, c, s)
		}
		line := escapeArgs(args)
		if fromImage {
			line = args[0]
			if len(args) > 1 {
				line += " " + escapeArgs(args[1:])
			}
		}
		s.Process.Args, s.Process.CommandLine = nil, line
		return nil
	}
}

// commandArgs resolves the command as Kubernetes defines it, and whether
// its first word came from the image.
func commandArgs(imgEntry, imgCmd, command, args []string) ([]string, bool, error) {
	fromImage := false
	entry, cmd := command, args
	if len(entry) == 0 {
		if len(cmd) == 0 {
			cmd = append([]string{}, imgCmd...)
			fromImage = len(imgCmd) > 0
		}
		if entry == nil {
			entry = append([]string{}, imgEntry...)
			if len(imgEntry) > 0 || len(args) == 0 {
				fromImage = true
			}
		}
	}
	if len(entry) == 0 && len(cmd) == 0 {
		return nil, false, errors.New("no command specified")
	}
	return append(entry, cmd...), fromImage, nil
}

func withoutRoot(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
	s.Root = nil
	return nil
}

func withSandboxShares(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
	res := windowsResources(s)
	if res.CPU == nil {
		res.CPU = &specs.WindowsCPUResources{}
	}
	shares := uint16(DefaultSandboxCPUShares)
	res.CPU.Shares = &shares
	return nil
}

func withCredentialSpec(cs string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		if s.Windows == nil {
			s.Windows = &specs.Windows{}
		}
		s.Windows.CredentialSpec = cs
		return nil
	}
}

func withAnnotations(a map[string]string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		if len(a) == 0 {
			return nil
		}
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		for k, v := range a {
			s.Annotations[k] = v
		}
		return nil
	}
}

// passthrough keeps the annotations whose keys match one of patterns.
func passthrough(a map[string]string, patterns []string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		for _, p := range patterns {
			if ok, _ := path.Match(p, k); ok {
				out[k] = v
			}
		}
	}
	return out
}

func criAnnotations(in Input, sandbox bool) map[string]string {
	md := in.Pod.GetMetadata()
	a := map[string]string{
		annSandboxID: in.SandboxID, annSandboxNS: md.GetNamespace(), annSandboxUID: md.GetUid(), annSandboxName: md.GetName(),
		annImageName: in.ImageName, annContainerType: "container",
	}
	if sandbox {
		a[annContainerType], a[annSandboxLogDir] = "sandbox", in.Pod.GetLogDirectory()
		a[annSandboxImage] = a[annImageName]
		delete(a, annImageName)
	} else {
		a[annContainerName] = in.ContainerName
	}
	return a
}

func windowsResources(s *specs.Spec) *specs.WindowsResources {
	if s.Windows == nil {
		s.Windows = &specs.Windows{}
	}
	if s.Windows.Resources == nil {
		s.Windows.Resources = &specs.WindowsResources{}
	}
	return s.Windows.Resources
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// escapeArgs joins args into a Windows command line, quoting as
// CommandLineToArgvW expects (the rules of syscall.EscapeArg).
func escapeArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = escapeArg(a)
	}
	return strings.Join(out, " ")
}

func escapeArg(s string) string {
	if s == "" {
		return `""`
	}
	space := strings.ContainsAny(s, " \t")
	if !space && !strings.ContainsRune(s, '"') {
		return s
	}
	var b strings.Builder
	if space {
		b.WriteByte('"')
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			slashes++
		case '"':
			// Backslashes before a quote are doubled, and the quote escaped.
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(s[i])
	}
	if space {
		b.WriteString(strings.Repeat(`\`, slashes))
		b.WriteByte('"')
	}
	return b.String()
}
