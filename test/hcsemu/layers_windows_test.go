package hcsemu

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/Microsoft/hcsshim"
)

// TestActivatedLayerHeld, through hcsshim's layer API and the emulated
// vmcompute.dll: an activated layer's directory cannot be renamed (its VHD
// is attached; Windows says access denied, which containerd's windows
// snapshotter meets for a scratch layer a crash left mounted);
// DeactivateLayer frees a layer that is still prepared, which is how that
// snapshotter recovers, but not while a compute system that is not
// stopped has it as its root; unpreparing a layer that is not prepared
// fails with ERROR_DEV_NOT_EXIST.
func TestActivatedLayerHeld(t *testing.T) {
	s := start(t)
	base, home := t.TempDir(), t.TempDir()
	t.Cleanup(s.releaseAll) // before the temporary directories go
	scratch, renamed := filepath.Join(home, "12"), filepath.Join(home, "rm-12")
	for _, d := range []string{filepath.Join(base, "Files"), scratch} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(scratch, "sandbox.vhdx"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	di := hcsshim.DriverInfo{HomeDir: home}
	if err := hcsshim.ActivateLayer(di, "12"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(scratch, renamed); !os.IsPermission(err) {
		t.Fatalf("renaming an activated layer's directory: %v, want access denied", err)
	}
	if err := hcsshim.PrepareLayer(di, "12", []string{base}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(scratch, renamed); !os.IsPermission(err) {
		t.Fatalf("renaming a prepared layer's directory: %v, want access denied", err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "hcsemu-root", "written"), nil, 0o644); err != nil {
		t.Errorf("the mounted root takes writes: %v", err)
	}
	vol, err := hcsshim.GetLayerMountPath(di, "12")
	if err != nil {
		t.Fatal(err)
	}
	me := uint32(os.Getpid())
	h, herr := s.createSystem(me, []string{"held", containerJSON(base, vol)})
	if herr != nil {
		t.Fatal(herr)
	}
	for what, f := range map[string]func(hcsshim.DriverInfo, string) error{"deactivate": hcsshim.DeactivateLayer, "unprepare": hcsshim.UnprepareLayer} {
		if err := f(di, "12"); err == nil {
			t.Errorf("%s the root of a created compute system: accepted", what)
		}
	}
	if _, herr := s.stopSystem(me, h[:1], "Forced"); herr != nil {
		t.Fatal(herr)
	}
	// What a crash leaves: activated and prepared, and no UnprepareLayer.
	if err := hcsshim.DeactivateLayer(di, "12"); err != nil {
		t.Fatalf("deactivating a prepared layer whose system stopped: %v", err)
	}
	if l := s.Layers(); len(l) != 0 {
		t.Errorf("layers still mounted after DeactivateLayer: %v", l)
	}
	if err := os.Rename(scratch, renamed); err != nil {
		t.Fatalf("renaming a deactivated layer's directory: %v", err)
	}
	// hcsshim's error has no Unwrap: the HRESULT the DLL returned is read
	// from the emulator's record of the call.
	err = hcsshim.UnprepareLayer(di, "rm-12")
	if calls := s.Calls("UnprepareLayer"); err == nil || calls[len(calls)-1].HR != hrDevNotExist {
		t.Errorf("unpreparing a layer that is not prepared: %v, want HRESULT_FROM_WIN32(ERROR_DEV_NOT_EXIST)", err)
	}
}
