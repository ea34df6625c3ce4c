package network

import (
	"context"
	"fmt"
	"sync"

	gocni "github.com/containerd/go-cni"
)

// cniRunner runs the CNI plugins of the conf dir through libcni (go-cni).
type cniRunner struct {
	confDir string
	binDirs []string

	mu  sync.Mutex
	cni gocni.CNI
}

// load (re)reads the network configuration; a config added after start-up
// is picked up at the next pod.
func (c *cniRunner) load() (gocni.CNI, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ConfigReady(c.confDir); err != nil {
		return nil, err
	}
	if c.cni == nil {
		n, err := gocni.New(gocni.WithMinNetworkCount(len(cniLoadOpts)), gocni.WithPluginConfDir(c.confDir),
			gocni.WithPluginDir(c.binDirs), gocni.WithInterfacePrefix("eth"))
		if err != nil {
			return nil, err
		}
		c.cni = n
	}
	if err := c.cni.Load(cniLoadOpts...); err != nil {
		return nil, fmt.Errorf("load CNI config from %s: %w", c.confDir, err)
	}
	return c.cni, nil
}

func (c *cniRunner) opts(pod *Pod) []gocni.NamespaceOpts {
	opts := []gocni.NamespaceOpts{gocni.WithLabels(cniLabels(pod))}
	var ports []gocni.PortMapping
	for _, p := range pod.PortMappings {
		if p.HostPort <= 0 {
			continue
		}
		ports = append(ports, gocni.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol, HostIP: p.HostIP})
	}
	opts = append(opts, gocni.WithCapabilityPortMap(ports))
	if pod.DNS != nil {
		opts = append(opts, gocni.WithCapabilityDNS(gocni.DNS{Servers: pod.DNS.Servers, Searches: pod.DNS.Searches, Options: pod.DNS.Options}))
	}
	if pod.CgroupParent != "" {
		opts = append(opts, gocni.WithCapabilityCgroupPath(pod.CgroupParent))
	}
	return opts
}

func (c *cniRunner) attach(ctx context.Context, pod *Pod, ns string) (*Attachment, error) {
	n, err := c.load()
	if err != nil {
		return nil, err
	}
	res, err := n.Setup(ctx, pod.ID, ns, c.opts(pod)...)
	if err != nil {
		return nil, fmt.Errorf("CNI ADD for pod %s: %w", pod.ID, err)
	}
	a := &Attachment{Namespace: ns}
	if cfg, ok := res.Interfaces["eth0"]; ok {
		for _, ip := range cfg.IPConfigs {
			if ip.IP.To4() != nil {
				a.IPs = append([]string{ip.IP.String()}, a.IPs...)
			} else {
				a.IPs = append(a.IPs, ip.IP.String())
			}
		}
	}
	return a, nil
}

func (c *cniRunner) detach(ctx context.Context, pod *Pod, ns string) error {
	n, err := c.load()
	if err != nil {
		return err
	}
	if err := n.Remove(ctx, pod.ID, ns, c.opts(pod)...); err != nil {
		return fmt.Errorf("CNI DEL for pod %s: %w", pod.ID, err)
	}
	return nil
}
