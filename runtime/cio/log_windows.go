package cio

import (
	"os"

	"golang.org/x/sys/windows"
)

// openAppend opens or creates a log file for appending. Unlike os.OpenFile
// it shares the file for deletion too: kubelet rotates a container log by
// renaming it while wincri holds it open, then asks for ReopenContainerLog,
// and Windows refuses that rename without FILE_SHARE_DELETE.
func openAppend(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
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
