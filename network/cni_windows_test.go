package network

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWindowsCNIConfig loads a Windows conflist through the manager New
// builds, as a pod's ADD does: the pod must join that network alone. A
// loopback network (there is no loopback plugin for Windows) would make
// every ADD and DEL fail.
func TestWindowsCNIConfig(t *testing.T) {
	dir := t.TempDir()
	conf := `{"cniVersion":"0.3.1","name":"nat","plugins":[{"type":"nat","master":"Ethernet",
  "ipam":{"type":"host-local","subnet":"10.244.1.0/24","routes":[{"dst":"0.0.0.0/0"}]},
  "capabilities":{"portMappings":true,"dns":true}}]}`
	if err := os.WriteFile(filepath.Join(dir, "10-nat.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(dir, []string{`C:\opt\cni\bin`}, t.TempDir()).(*windowsManager)
	n, err := m.cni.(*cniRunner).load()
	if err != nil {
		t.Fatal(err)
	}
	nets := n.GetConfig().Networks
	if len(nets) != 1 {
		t.Fatalf("pods join %d networks, want the default one only", len(nets))
	}
	for _, p := range nets[0].Config.Plugins {
		if p.Network.Type != "nat" {
			t.Errorf("network %s has plugin %q", nets[0].Config.Name, p.Network.Type)
		}
	}
	if nets[0].IFName != "eth0" {
		t.Errorf("interface %q, want eth0 (the attachment reads eth0's IPs)", nets[0].IFName)
	}
}
