//go:build linux

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// nriPlugin records the events it sees and adds an env var to every
// container it is asked about.
type nriPlugin struct {
	mu     sync.Mutex
	events []string
}

func (p *nriPlugin) record(s string) {
	p.mu.Lock()
	p.events = append(p.events, s)
	p.mu.Unlock()
}

func (p *nriPlugin) seen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.events, ",")
}

func (p *nriPlugin) RunPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.record("RunPod:" + pod.Name)
	var ns []string
	for _, n := range pod.GetLinux().GetNamespaces() {
		ns = append(ns, n.Type)
		if fi, err := os.Stat(n.Path); err != nil || fi.IsDir() {
			ns = append(ns, "(no "+n.Path+")")
		}
	}
	p.record("namespaces " + strings.Join(ns, " "))
	return nil
}

func (p *nriPlugin) CreateContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	p.record("Create:" + c.Name)
	adj := &api.ContainerAdjustment{}
	adj.AddEnv("NRI_WAS_HERE", "yes")
	return adj, nil, nil
}

func (p *nriPlugin) StopContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) ([]*api.ContainerUpdate, error) {
	p.record("Stop:" + c.Name)
	return nil, nil
}

func (p *nriPlugin) RemovePodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.record("RemovePod:" + pod.Name)
	return nil
}

// TestNRIPluginAdjustsContainers runs wincri with NRI on and a real NRI
// plugin (the nri stub): the plugin sees the lifecycle and its adjustment
// reaches the container's environment.
func TestNRIPluginAdjustsContainers(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nri.sock")
	e := newPodEnvWith(t, fmt.Sprintf("[nri]\nenable = true\nsocket_path = %q\nplugin_path = %q\nplugin_config_path = %q\n",
		sock, t.TempDir(), t.TempDir()))
	plugin := &nriPlugin{}
	s, err := stub.New(plugin, stub.WithPluginName("wincri-test"), stub.WithPluginIdx("10"), stub.WithSocketPath(sock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("plugin start: %v", err)
	}
	defer s.Stop()

	podID, pod := e.runPod("nri")
	c := e.create(podID, pod, "adjusted", "env")
	e.start(c)
	e.waitExited(c)
	log, _ := os.ReadFile(filepath.Join(pod.LogDirectory, "adjusted.log"))
	if !strings.Contains(string(log), " stdout F NRI_WAS_HERE=yes\n") {
		t.Errorf("the plugin's env adjustment is not in the container's environment (plugin saw %s):\n%s", plugin.seen(), log)
	}
	e.removeAll()
	// The pod runs without pause (pid 0): its namespaces are given by path.
	want := "RunPod:nri,namespaces ipc network uts,Create:adjusted,Stop:adjusted,RemovePod:nri"
	waitFor(t, "the plugin to see the whole lifecycle", func() bool { return plugin.seen() == want })
}
