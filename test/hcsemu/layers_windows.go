package hcsemu

import (
	"bufio"
	"crypto/sha1"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// layer is what HCS knows of a layer directory: whether it is activated
// (its sandbox.vhdx "attached") and prepared (its parents mounted under
// it). The mounted view is a directory, root, that the container's
// processes see as C:\ (real HCS shows a volume).
type layer struct {
	path      string
	activated bool
	prepared  bool
	root      string
	volume    string   // \\?\Volume{GUID}\ naming root
	parents   []string // the parent layers it was prepared with, top-most first
	held      bool     // its directory cannot be renamed (hold_windows.go)
}

func layerKey(p string) string { return strings.ToLower(filepath.Clean(p)) }

func (s *Server) registerLayers() {
	s.fns["NameToGuid"] = func(_ uint32, a []string) ([]string, *hcsError) {
		return []string{nameToGUID(argN(a, 1)[0])}, nil
	}
	s.fns["LayerExists"] = func(_ uint32, a []string) ([]string, *hcsError) {
		if isDir(layerPath(a)) {
			return []string{"1"}, nil
		}
		return []string{"0"}, nil
	}
	s.fns["ProcessBaseImage"] = processBaseImage
	s.fns["ProcessUtilityImage"] = func(_ uint32, a []string) ([]string, *hcsError) {
		p := argN(a, 1)[0]
		if !isDir(filepath.Join(p, "Files")) {
			return nil, fail(hrPathNotFound, "utility VM image %s has no Files directory", p)
		}
		// HCS leaves the utility VM's scratch templates beside Files.
		for _, f := range []string{"SystemTemplate.vhdx", "SystemTemplateBase.vhdx"} {
			if err := os.WriteFile(filepath.Join(p, f), []byte("hcsemu utility VM template\n"), 0o644); err != nil {
				return nil, fail(hrFail, "%v", err)
			}
		}
		return nil, nil
	}
	s.fns["GrantVmAccess"] = func(uint32, []string) ([]string, *hcsError) { return nil, nil }
	s.fns["GetBaseImages"] = func(uint32, []string) ([]string, *hcsError) { return []string{`{"Images":[]}`}, nil }
	s.fns["CreateSandboxLayer"] = s.createSandboxLayer
	s.fns["ExpandSandboxSize"] = func(_ uint32, a []string) ([]string, *hcsError) {
		if !isFile(filepath.Join(layerPath(a), "sandbox.vhdx")) {
			return nil, fail(hrPathNotFound, "%s has no sandbox.vhdx", layerPath(a))
		}
		return nil, nil
	}
	s.fns["ImportLayer"] = s.importLayer
	s.fns["ActivateLayer"] = s.activateLayer
	s.fns["DeactivateLayer"] = s.deactivateLayer
	s.fns["PrepareLayer"] = s.prepareLayer
	s.fns["UnprepareLayer"] = s.unprepareLayer
	s.fns["GetLayerMountPath"] = s.layerMountPath
	s.fns["DestroyLayer"] = s.destroyLayer
}

// layerPath joins the DriverInfo home directory and the layer id.
func layerPath(a []string) string {
	a = argN(a, 2)
	if a[0] == "" {
		return a[1]
	}
	return filepath.Join(a[0], a[1])
}

// descriptors reads "count, path..." starting at a[i].
func descriptors(a []string, i int) []string {
	a = argN(a, i+1)
	var n int
	fmt.Sscan(a[i], &n)
	return argN(a, i+1+n)[i+1 : i+1+n]
}

// nameToGUID is a name-based (SHA-1, version 5 layout) GUID: stable for a
// name, as HCS's is.
func nameToGUID(name string) string {
	h := sha1.Sum([]byte(name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// processBaseImage checks a base layer and creates the scratch templates
// (blank.vhdx, blank-base.vhdx) that containerd's snapshotter copies.
func processBaseImage(_ uint32, a []string) ([]string, *hcsError) {
	p := argN(a, 1)[0]
	if !isDir(filepath.Join(p, "Files")) {
		return nil, fail(hrPathNotFound, "base layer %s has no Files directory", p)
	}
	for _, f := range []string{"blank.vhdx", "blank-base.vhdx"} {
		if err := os.WriteFile(filepath.Join(p, f), []byte("hcsemu scratch template\n"), 0o644); err != nil {
			return nil, fail(hrFail, "%v", err)
		}
	}
	return nil, nil
}

func (s *Server) createSandboxLayer(_ uint32, a []string) ([]string, *hcsError) {
	p := layerPath(a)
	for _, parent := range descriptors(a, 3) {
		if !isDir(parent) {
			return nil, fail(hrPathNotFound, "parent layer %s does not exist", parent)
		}
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return nil, fail(hrFail, "%v", err)
	}
	if err := os.WriteFile(filepath.Join(p, "sandbox.vhdx"), []byte("hcsemu sandbox\n"), 0o644); err != nil {
		return nil, fail(hrFail, "%v", err)
	}
	return nil, nil
}

// importLayer copies a layer that hcsshim's legacy writer staged (Files,
// Hives, tombstones.txt) into the layer directory.
func (s *Server) importLayer(_ uint32, a []string) ([]string, *hcsError) {
	dst := layerPath(a)
	src := argN(a, 3)[2]
	for _, parent := range descriptors(a, 3) {
		if !isDir(parent) {
			return nil, fail(hrPathNotFound, "parent layer %s does not exist", parent)
		}
	}
	if !isDir(src) {
		return nil, fail(hrPathNotFound, "import source %s does not exist", src)
	}
	if err := copyTree(src, dst); err != nil {
		return nil, fail(hrFail, "import %s: %v", src, err)
	}
	return nil, nil
}

func (s *Server) layerOf(p string) *layer {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.layers[layerKey(p)]
	if l == nil {
		l = &layer{path: p}
		s.layers[layerKey(p)] = l
	}
	return l
}

func (s *Server) activateLayer(_ uint32, a []string) ([]string, *hcsError) {
	p := layerPath(a)
	if !isFile(filepath.Join(p, "sandbox.vhdx")) {
		return nil, fail(hrPathNotFound, "%s has no sandbox.vhdx to attach", p)
	}
	l := s.layerOf(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	l.activated = true
	s.hold(l)
	return nil, nil
}

// deactivateLayer detaches the layer's VHD, and with it what PrepareLayer
// mounted on it: containerd's windows snapshotter relies on that to free
// a scratch layer a crash left activated and prepared (hold_windows.go).
// A compute system that is not stopped still uses it: refused, as what
// HCS does then is not known here (docs/windows.md).
func (s *Server) deactivateLayer(_ uint32, a []string) ([]string, *hcsError) {
	l := s.layerOf(layerPath(a))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.inUse(l); err != nil {
		return nil, err
	}
	l.prepared, l.activated = false, false
	s.release(l)
	return nil, nil
}

// inUse refuses to take away the mount of a compute system that is not
// stopped. Called with s.mu held.
func (s *Server) inUse(l *layer) *hcsError {
	for _, o := range s.systems {
		if l.prepared && o.root == l.root && o.state != "Stopped" {
			return fail(hrInvalidState, "layer %s is compute system %s's root", l.path, o.id)
		}
	}
	return nil
}

// prepareLayer mounts the parents (top first, base last) under the
// activated scratch layer: their Files are copied, base first, into the
// root directory, skipping what upper layers' tombstones delete. A root
// that exists already keeps what the container wrote there, as the
// scratch VHD would.
func (s *Server) prepareLayer(_ uint32, a []string) ([]string, *hcsError) {
	p := layerPath(a)
	parents := descriptors(a, 2)
	l := s.layerOf(p)
	s.mu.Lock()
	activated, prepared := l.activated, l.prepared
	s.mu.Unlock()
	if !activated {
		return nil, fail(hrInvalidState, "layer %s is not activated", p)
	}
	if prepared {
		return nil, fail(hrInvalidState, "layer %s is already prepared", p)
	}
	if len(parents) == 0 {
		return nil, fail(hrInvalidArg, "no parent layers to prepare %s with", p)
	}
	root := filepath.Join(p, "hcsemu-root")
	if !isDir(root) {
		// The held directory takes no new entries: let it go meanwhile.
		s.mu.Lock()
		s.release(l)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			if l.activated {
				s.hold(l)
			}
			s.mu.Unlock()
		}()
		tmp := root + ".tmp"
		os.RemoveAll(tmp)
		for i := len(parents) - 1; i >= 0; i-- {
			files := filepath.Join(parents[i], "Files")
			if !isDir(files) {
				return nil, fail(hrPathNotFound, "parent layer %s has no Files", parents[i])
			}
			if err := applyTombstones(filepath.Join(parents[i], "tombstones.txt"), tmp); err != nil {
				return nil, fail(hrFail, "%v", err)
			}
			if err := copyTree(files, tmp); err != nil {
				return nil, fail(hrFail, "mount %s: %v", parents[i], err)
			}
		}
		if err := os.Rename(tmp, root); err != nil {
			return nil, fail(hrFail, "%v", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l.prepared, l.root, l.parents = true, root, parents
	l.volume = `\\?\Volume{` + nameToGUID(layerKey(p)) + `}\`
	return nil, nil
}

func (s *Server) unprepareLayer(_ uint32, a []string) ([]string, *hcsError) {
	l := s.layerOf(layerPath(a))
	s.mu.Lock()
	defer s.mu.Unlock()
	if !l.prepared {
		// The error containerd's test clean-up ignores (containerd#5133).
		return nil, fail(hrDevNotExist, "layer %s is not prepared", l.path)
	}
	if err := s.inUse(l); err != nil {
		return nil, err
	}
	l.prepared = false
	return nil, nil
}

func (s *Server) layerMountPath(_ uint32, a []string) ([]string, *hcsError) {
	l := s.layerOf(layerPath(a))
	s.mu.Lock()
	defer s.mu.Unlock()
	if !l.prepared {
		return nil, fail(hrInvalidState, "layer %s is not prepared", l.path)
	}
	return []string{l.volume}, nil
}

// mountedRoot returns the root directory of the prepared layer whose
// volume is p, or "". HCS mounts a scratch layer as a volume; the emulator
// names it with a volume GUID path that only the emulator resolves (Wine
// cannot mount volumes), and container processes see root as C:\.
func (s *Server) mountedRoot(p string) (root string, parents []string) {
	want := strings.ToLower(strings.TrimRight(p, `\`))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.layers {
		if l.prepared && strings.ToLower(strings.TrimRight(l.volume, `\`)) == want {
			return l.root, l.parents
		}
	}
	return "", nil
}

func (s *Server) destroyLayer(_ uint32, a []string) ([]string, *hcsError) {
	p := layerPath(a)
	s.mu.Lock()
	l := s.layers[layerKey(p)]
	if l != nil && (l.prepared || l.activated) {
		s.mu.Unlock()
		return nil, fail(hrInvalidState, "layer %s is in use", p)
	}
	delete(s.layers, layerKey(p))
	s.mu.Unlock()
	if err := os.RemoveAll(p); err != nil {
		return nil, fail(hrFail, "%v", err)
	}
	return nil, nil
}

// applyTombstones removes from root what a layer's tombstones.txt (the
// legacy layer format: a version line, then \Files\... paths) deletes.
func applyTombstones(list, root string) error {
	f, err := os.Open(list)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rel, ok := strings.CutPrefix(line, `\Files\`)
		if ok && rel != "" {
			os.RemoveAll(filepath.Join(root, rel))
		}
	}
	return sc.Err()
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
