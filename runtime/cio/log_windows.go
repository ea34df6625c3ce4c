package cio

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// openAppend opens or creates a log file for appending. Unlike os.OpenFile
// it shares the file for deletion too: kubelet rotates a container log by
// renaming it while wincri holds it open, then asks for ReopenContainerLog,
// and Windows refuses that rename without FILE_SHARE_DELETE.
func openAppend(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(longPath(path))
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateFile(p, windows.FILE_APPEND_DATA|windows.SYNCHRONIZE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_ALWAYS, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// longPath gives a path of 248 bytes or more the \\?\ form CreateFile needs
// past MAX_PATH (os.OpenFile does this itself; containerd's fixLongPath
// too): pod log directories of long pod names reach it. Relative paths, UNC
// paths and paths with .. elements are left as they are.
func longPath(p string) string {
	if len(p) < 248 || strings.HasPrefix(p, `\\`) || !filepath.IsAbs(p) {
		return p
	}
	for _, e := range strings.FieldsFunc(p, func(r rune) bool { return r == '\\' || r == '/' }) {
		if e == ".." {
			return p
		}
	}
	return `\\?\` + filepath.Clean(p)
}
