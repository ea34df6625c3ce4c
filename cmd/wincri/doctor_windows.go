package main

import (
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/wincri/wincri/runtime/config"
	"github.com/wincri/wincri/server"
)

func platformChecks(cfg *config.Config) []check {
	_, pipeErr := server.PipePath(cfg.Listen)
	return []check{
		{"Containers feature (vmcompute.dll)", windows.NewLazySystemDLL("vmcompute.dll").Load()},
		{"Host Compute Service (vmcompute)", serviceRunning("vmcompute")},
		{"Host Network Service (hns)", serviceRunning("hns")},
		{"CRI endpoint is a named pipe: " + cfg.Listen, pipeErr},
	}
}

func serviceRunning(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("service %s not installed (Install-WindowsFeature Containers): %w", name, err)
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return err
	}
	if st.State != 4 { // SERVICE_RUNNING
		return fmt.Errorf("service %s is not running (state %d): Start-Service %s", name, st.State, name)
	}
	return nil
}
