//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

func TestVersionAndUnimplemented(t *testing.T) {
	d := startDaemon(t, testutil.NewRegistry(t))
	v, err := d.Runtime.Version(testutil.Ctx(t), &runtimeapi.VersionRequest{})
	if err != nil || v.RuntimeName != "wincri" || v.RuntimeApiVersion != "v1" || v.RuntimeVersion == "" {
		t.Fatalf("Version: %v %v", v, err)
	}
	fi, err := os.Stat(d.Socket)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v (%v), want 0600", fi.Mode(), err)
	}
	_, err = d.Runtime.CheckpointContainer(testutil.Ctx(t), &runtimeapi.CheckpointContainerRequest{})
	if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "CheckpointContainer") {
		t.Fatalf("unimplemented RPC: %v", err)
	}
}

func TestStatusReportsNetworkReadinessTruthfully(t *testing.T) {
	d := startDaemon(t, testutil.NewRegistry(t))
	net := func() *runtimeapi.RuntimeCondition {
		resp, err := d.Runtime.Status(testutil.Ctx(t), &runtimeapi.StatusRequest{Verbose: true})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(resp.Info["config"], d.Socket) {
			t.Errorf("verbose Status info does not show the config: %v", resp.Info)
		}
		for _, c := range resp.Status.Conditions {
			if c.Type == runtimeapi.NetworkReady {
				return c
			}
		}
		t.Fatal("no NetworkReady condition")
		return nil
	}
	if c := net(); c.Status || c.Reason == "" || !strings.Contains(c.Message, "no network config") {
		t.Fatalf("NetworkReady without CNI config: %v", c)
	}
	conf := filepath.Join(d.Dir, "cni")
	os.MkdirAll(conf, 0o755)
	os.WriteFile(filepath.Join(conf, "10-test.conflist"), []byte(`{"cniVersion":"1.0.0","name":"test","plugins":[{"type":"bridge"}]}`), 0o644)
	if c := net(); !c.Status {
		t.Fatalf("NetworkReady with a CNI config: %v", c)
	}
}

func TestRefusesToTakeOverALiveSocket(t *testing.T) {
	d := startDaemon(t, testutil.NewRegistry(t))
	second := testutil.NewDaemon(t, daemonBin, testutil.Options{})
	// Same socket, other root: only the socket is contended.
	cfg, _ := os.ReadFile(second.ConfigPath())
	os.WriteFile(second.ConfigPath(), []byte(strings.Replace(string(cfg), second.Socket, d.Socket, 1)), 0o644)
	out, err := exec.CommandContext(testutil.Ctx(t), daemonBin, "--config", second.ConfigPath()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another live process") {
		t.Fatalf("second daemon on a live socket: %v\n%s", err, out)
	}
	if _, err := d.Runtime.Version(testutil.Ctx(t), &runtimeapi.VersionRequest{}); err != nil {
		t.Fatalf("first daemon hurt: %v", err)
	}
}

func TestCommands(t *testing.T) {
	out, err := exec.Command(daemonBin, "config", "default").Output()
	if err != nil || !strings.Contains(string(out), "[registry]") || !strings.Contains(string(out), "sandbox_image") {
		t.Fatalf("config default: %v\n%s", err, out)
	}
	out, err = exec.Command(daemonBin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "wincri ") {
		t.Fatalf("version: %v %s", err, out)
	}
	cfg := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(cfg, []byte("listenn = \"x\"\n"), 0o644)
	out, err = exec.Command(daemonBin, "--config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "listenn") {
		t.Fatalf("unknown config key: %v %s", err, out)
	}
}
