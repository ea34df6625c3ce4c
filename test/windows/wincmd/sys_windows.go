package main

import (
	"os/exec"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// command runs program p with the rest of a command line as written.
func command(p, rest string) *exec.Cmd {
	return &exec.Cmd{Path: p, SysProcAttr: &syscall.SysProcAttr{CmdLine: syscall.EscapeArg(p) + " " + rest}}
}

// processNames are the running processes' names without ".exe", as
// Get-Process lists them.
func processNames() ([]string, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(snap)
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	var names []string
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		n := windows.UTF16ToString(e.ExeFile[:])
		if i := strings.LastIndex(strings.ToLower(n), ".exe"); i > 0 {
			n = n[:i]
		}
		names = append(names, n)
	}
	return names, nil
}
