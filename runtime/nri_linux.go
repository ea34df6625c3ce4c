package runtime

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/containerd/log"
	nri "github.com/containerd/nri/pkg/adaptation"
	nrigen "github.com/containerd/nri/pkg/runtime-tools/generate"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/config"
)

// nriHooks tells NRI plugins of pod and container events and applies what
// they ask. A nil *nriHooks (NRI off) does nothing.
type nriHooks struct {
	a *nri.Adaptation
	r *Runtime
}

// startNRI serves the NRI socket when the config enables it.
func (r *Runtime) startNRI(cfg config.NRI) error {
	if !cfg.Enable {
		return nil
	}
	h := &nriHooks{r: r}
	a, err := nri.New("wincri", Version, h.sync, h.update,
		nri.WithSocketPath(cfg.SocketPath), nri.WithPluginPath(cfg.PluginPath), nri.WithPluginConfigPath(cfg.PluginConfigPath))
	if err != nil {
		return fmt.Errorf("NRI: %w", err)
	}
	h.a = a
	if err := a.Start(); err != nil {
		return fmt.Errorf("NRI: %w", err)
	}
	r.nri = h
	return nil
}

func (h *nriHooks) stop() {
	if h != nil {
		h.a.Stop()
	}
}

// sync hands a newly registered plugin every pod and container.
func (h *nriHooks) sync(ctx context.Context, cb nri.SyncCB) error {
	var pods []*nri.PodSandbox
	var ctrs []*nri.Container
	ps, cs := h.r.objects()
	for _, p := range ps {
		pods = append(pods, h.r.nriPod(p))
	}
	for _, c := range cs {
		ctrs = append(ctrs, nriContainer(c, h.r.containerSpecOf(c)))
	}
	updates, err := cb(ctx, pods, ctrs)
	if err != nil {
		return err
	}
	_, err = h.update(ctx, updates)
	return err
}

// update applies container updates plugins ask for; it returns the ones
// that failed.
func (h *nriHooks) update(ctx context.Context, updates []*nri.ContainerUpdate) ([]*nri.ContainerUpdate, error) {
	var failed []*nri.ContainerUpdate
	for _, u := range updates {
		res := u.GetLinux().GetResources()
		if res == nil {
			continue
		}
		if err := h.r.updateResources(ctx, u.ContainerId, &runtimeapi.ContainerResources{Linux: criResources(res)}, false); err != nil {
			if !u.IgnoreFailure {
				failed = append(failed, u)
			}
		}
	}
	return failed, nil
}

func (h *nriHooks) runPod(ctx context.Context, p *pod) error {
	if h == nil {
		return nil
	}
	return h.a.RunPodSandbox(ctx, &nri.RunPodSandboxRequest{Pod: h.r.nriPod(p)})
}

func (h *nriHooks) stopPod(ctx context.Context, p *pod) error {
	if h == nil {
		return nil
	}
	return h.a.StopPodSandbox(ctx, &nri.StopPodSandboxRequest{Pod: h.r.nriPod(p)})
}

func (h *nriHooks) removePod(ctx context.Context, p *pod) error {
	if h == nil {
		return nil
	}
	return h.a.RemovePodSandbox(ctx, &nri.RemovePodSandboxRequest{Pod: h.r.nriPod(p)})
}

// createContainer lets plugins adjust the container's spec before it is
// written, and applies the updates they ask for other containers.
func (h *nriHooks) createContainer(ctx context.Context, p *pod, c *container, spec *specs.Spec) error {
	if h == nil {
		return nil
	}
	resp, err := h.a.CreateContainer(ctx, &nri.CreateContainerRequest{Pod: h.r.nriPod(p), Container: nriContainer(c, spec)})
	if err != nil {
		return err
	}
	if adj := resp.GetAdjust(); adj != nil {
		if err := nrigen.SpecGenerator(&specEditor{spec}).Adjust(adj); err != nil {
			return fmt.Errorf("NRI adjustment: %w", err)
		}
	}
	if failed, _ := h.update(ctx, resp.GetUpdate()); len(failed) > 0 {
		return fmt.Errorf("NRI: %d container updates failed", len(failed))
	}
	return nil
}

// event sends a container event that asks nothing back.
func (h *nriHooks) event(ctx context.Context, kind string, p *pod, c *container) {
	if h == nil || p == nil {
		return
	}
	np, nc := h.r.nriPod(p), nriContainer(c, h.r.containerSpecOf(c))
	var err error
	switch kind {
	case "post-create":
		err = h.a.PostCreateContainer(ctx, &nri.PostCreateContainerRequest{Pod: np, Container: nc})
	case "post-start":
		err = h.a.PostStartContainer(ctx, &nri.PostStartContainerRequest{Pod: np, Container: nc})
	case "post-update":
		err = h.a.PostUpdateContainer(ctx, &nri.PostUpdateContainerRequest{Pod: np, Container: nc})
	case "stop":
		var resp *nri.StopContainerResponse
		if resp, err = h.a.StopContainer(ctx, &nri.StopContainerRequest{Pod: np, Container: nc}); err == nil {
			h.update(ctx, resp.GetUpdate())
		}
	case "remove":
		err = h.a.RemoveContainer(ctx, &nri.RemoveContainerRequest{Pod: np, Container: nc})
	}
	if err != nil {
		log.G(ctx).WithError(err).WithField("container", c.rec.Id).WithField("event", kind).Warn("NRI")
	}
}

// startContainer may refuse the start; the caller holds c.mu.
func (h *nriHooks) startContainer(ctx context.Context, p *pod, c *container) error {
	if h == nil || p == nil {
		return nil
	}
	return h.a.StartContainer(ctx, &nri.StartContainerRequest{Pod: h.r.nriPod(p), Container: nriContainerOf(c, c.rec, h.r.containerSpecOf(c))})
}

// updateContainer lets plugins amend a resource update.
func (h *nriHooks) updateContainer(ctx context.Context, p *pod, c *container, res *runtimeapi.LinuxContainerResources) (*runtimeapi.LinuxContainerResources, error) {
	if h == nil {
		return res, nil
	}
	resp, err := h.a.UpdateContainer(ctx, &nri.UpdateContainerRequest{Pod: h.r.nriPod(p), Container: nriContainer(c, h.r.containerSpecOf(c)),
		LinuxResources: nri.FromOCILinuxResources(linuxResources(nil, res), nil)})
	if err != nil {
		return nil, err
	}
	for _, u := range resp.GetUpdate() {
		if u.ContainerId == c.rec.Id && u.GetLinux().GetResources() != nil {
			res = criResources(u.GetLinux().GetResources())
		}
	}
	return res, nil
}

// nriPod describes a pod to NRI plugins. A pod without pause has no pid:
// plugins find its namespaces in Linux.Namespaces (as for any pod).
func (r *Runtime) nriPod(p *pod) *nri.PodSandbox {
	rec, md := p.snapshot(), p.cfg.GetMetadata()
	return &nri.PodSandbox{
		Id: rec.Id, Name: md.GetName(), Uid: md.GetUid(), Namespace: md.GetNamespace(),
		Labels: p.cfg.GetLabels(), Annotations: p.cfg.GetAnnotations(), RuntimeHandler: rec.RuntimeHandler,
		Linux: &nri.LinuxPodSandbox{CgroupParent: p.cfg.GetLinux().GetCgroupParent(), Namespaces: nriNamespaces(rec, p.cfg, r.podDir(rec.Id))},
		Pid:   rec.Pid, Ips: rec.Ips,
	}
}

// nriNamespaces are the pod's own namespaces, not those it shares with the
// node.
func nriNamespaces(rec *records.Pod, cfg *runtimeapi.PodSandboxConfig, podDir string) []*nri.LinuxNamespace {
	if rec.State != records.PodState_POD_READY {
		return nil
	}
	ns := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	host := map[string]bool{
		"net": ns.GetNetwork() == runtimeapi.NamespaceMode_NODE, "uts": ns.GetNetwork() == runtimeapi.NamespaceMode_NODE,
		"ipc": ns.GetIpc() == runtimeapi.NamespaceMode_NODE, "pid": ns.GetPid() == runtimeapi.NamespaceMode_NODE,
	}
	var out []*nri.LinuxNamespace
	for kind, path := range podNamespacePaths(rec, podDir) {
		if _, err := os.Stat(path); err == nil && !host[kind] {
			out = append(out, &nri.LinuxNamespace{Type: nriNamespaceTypes[kind], Path: path})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

var nriNamespaceTypes = map[string]string{"net": "network", "ipc": "ipc", "uts": "uts", "pid": "pid"}

func nriContainer(c *container, spec *specs.Spec) *nri.Container {
	return nriContainerOf(c, c.snapshot(), spec)
}

// nriContainerOf converts with a record the caller already holds (under c.mu).
func nriContainerOf(c *container, rec *records.Container, spec *specs.Spec) *nri.Container {
	ct := &nri.Container{
		Id: rec.Id, PodSandboxId: rec.PodId, Name: c.cfg.GetMetadata().GetName(), State: nriState(rec.State),
		Labels: c.cfg.GetLabels(), Annotations: c.cfg.GetAnnotations(), Pid: rec.Pid,
		CreatedAt: rec.CreatedAt, StartedAt: rec.StartedAt, FinishedAt: rec.FinishedAt,
		ExitCode: rec.ExitCode, StatusReason: rec.Reason, StatusMessage: rec.Message,
	}
	if spec != nil {
		if spec.Process != nil {
			ct.Args, ct.Env = spec.Process.Args, spec.Process.Env
		}
		ct.Mounts, ct.Hooks = nri.FromOCIMounts(spec.Mounts), nri.FromOCIHooks(spec.Hooks)
		if spec.Linux != nil {
			ct.Linux = &nri.LinuxContainer{
				Namespaces: nri.FromOCILinuxNamespaces(spec.Linux.Namespaces), Devices: nri.FromOCILinuxDevices(spec.Linux.Devices),
				Resources: nri.FromOCILinuxResources(spec.Linux.Resources, nil), CgroupsPath: spec.Linux.CgroupsPath,
			}
		}
	}
	return ct
}

func nriState(s records.ContainerState) nri.ContainerState {
	switch s {
	case records.ContainerState_CONTAINER_CREATED:
		return nri.ContainerState_CONTAINER_CREATED
	case records.ContainerState_CONTAINER_RUNNING:
		return nri.ContainerState_CONTAINER_RUNNING
	case records.ContainerState_CONTAINER_EXITED:
		return nri.ContainerState_CONTAINER_STOPPED
	}
	return nri.ContainerState_CONTAINER_UNKNOWN
}

// criResources turns NRI's resources into CRI's.
func criResources(r *nri.LinuxResources) *runtimeapi.LinuxContainerResources {
	out := &runtimeapi.LinuxContainerResources{
		CpuPeriod: int64(r.GetCpu().GetPeriod().GetValue()), CpuQuota: r.GetCpu().GetQuota().GetValue(),
		CpuShares: int64(r.GetCpu().GetShares().GetValue()), CpusetCpus: r.GetCpu().GetCpus(), CpusetMems: r.GetCpu().GetMems(),
		MemoryLimitInBytes: r.GetMemory().GetLimit().GetValue(), Unified: r.GetUnified(),
	}
	for _, h := range r.GetHugepageLimits() {
		out.HugepageLimits = append(out.HugepageLimits, &runtimeapi.HugepageLimit{PageSize: h.PageSize, Limit: h.Limit})
	}
	return out
}
