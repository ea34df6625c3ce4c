package hcsemu

import "fmt"

// An activated layer's sandbox.vhdx is attached on Windows, and the
// attached VHD keeps its directory from being renamed or removed: the
// rename fails with "Access is denied". Docker and containerd rename a
// layer's directory before destroying it for that reason (moby#27963),
// and containerd's windows snapshotter answers that error, met with a
// scratch layer a crash left mounted, with DeactivateLayer and a second
// rename (containerd#5422, its preRemove). Wine renames a directory
// whatever is open in it, so the emulator holds an activated layer's
// directory itself: it marks it immutable on the Linux side (chattr +i,
// which Wine runs as a Unix program), which Wine reports as access
// denied. The files under it stay writable; only the directory's own
// entries are fixed, so PrepareLayer releases it while it makes its root.

// hold makes l's directory unmovable while it is activated; release
// undoes it. A failure is logged once: the emulator then lets the
// directory move, as Wine does, and says so.
func (s *Server) hold(l *layer) {
	if l.held {
		return
	}
	if err := setImmutable(l.path, true); err != nil {
		s.holdFailed(err)
		return
	}
	l.held = true
}

func (s *Server) release(l *layer) {
	if !l.held {
		return
	}
	if err := setImmutable(l.path, false); err != nil {
		s.holdFailed(err)
		return
	}
	l.held = false
}

func (s *Server) holdFailed(err error) {
	s.holdOnce.Do(func() {
		if s.Log != nil {
			s.Log(fmt.Sprintf("hcsemu: WARNING: activated layer directories cannot be held, so a rename that Windows refuses succeeds: %v", err))
		}
	})
}

// releaseAll lets every held directory go (at Close, so that the test's
// temporary directories can be removed).
func (s *Server) releaseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.layers {
		s.release(l)
	}
}

// setImmutable runs chattr on dir's Unix path.
func setImmutable(dir string, on bool) error {
	u, err := unixPath(dir)
	if err != nil {
		return err
	}
	flag := "-i"
	if on {
		flag = "+i"
	}
	_, err = runUnix(fmt.Sprintf("chattr %s '%s'", flag, u))
	return err
}
