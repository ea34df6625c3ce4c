package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/containerd/log"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/wincri/wincri/runtime/config"
)

const serviceName = "wincri"

// serviceOpts are the Windows service flags.
type serviceOpts struct {
	register, unregister, run bool
	logFile                   string
}

func serviceFlags(fs *flag.FlagSet) *serviceOpts {
	o := &serviceOpts{}
	fs.BoolVar(&o.register, "register-service", false, "register wincri as a Windows service (started at boot) and exit")
	fs.BoolVar(&o.unregister, "unregister-service", false, "remove the wincri Windows service and exit")
	fs.BoolVar(&o.run, "run-service", false, "run as the Windows service (the service manager passes this)")
	fs.StringVar(&o.logFile, "log-file", "", "log to this file (service mode); errors also go to the event log")
	return o
}

// handle registers or unregisters the service; done says the command ended.
func (o *serviceOpts) handle(args []string) (bool, error) {
	switch {
	case o.register:
		return true, registerService(args)
	case o.unregister:
		return true, unregisterService()
	}
	return false, nil
}

// registerService creates an auto-start service running this binary with
// the same flags, plus --run-service, and its event log source.
func registerService(args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var pass []string
	for _, a := range args {
		if !strings.HasPrefix(strings.TrimLeft(a, "-"), "register-service") {
			pass = append(pass, a)
		}
	}
	pass = append(pass, "--run-service")
	hasLog := false
	for _, a := range pass {
		hasLog = hasLog || strings.HasPrefix(strings.TrimLeft(a, "-"), "log-file")
	}
	if !hasLog {
		pass = append(pass, "--log-file", filepath.Join(filepath.Dir(exe), "wincri.log"))
	}
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return fmt.Errorf("service %s already exists", serviceName)
	}
	s, err := m.CreateService(serviceName, exe, mgr.Config{
		DisplayName: "wincri CRI runtime",
		Description: "Kubernetes container runtime (CRI) for Windows containers",
		StartType:   mgr.StartAutomatic,
	}, pass...)
	if err != nil {
		return err
	}
	defer s.Close()
	// Restart after a crash, like kubelet expects of its runtime.
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{{Type: mgr.ServiceRestart, Delay: 5 * time.Second}}, 60); err != nil {
		return err
	}
	if err := eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		s.Delete()
		return fmt.Errorf("event log source: %w", err)
	}
	return nil
}

func unregisterService() error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("service %s: %w", serviceName, err)
	}
	defer s.Close()
	if err := s.Delete(); err != nil {
		return err
	}
	return eventlog.Remove(serviceName)
}

// runService runs the daemon under the service manager: logs to the log
// file, errors to the event log, stops on Stop and Shutdown.
func runService(cfg *config.Config, o *serviceOpts) error {
	// A service has no console: a panic or fatal error would vanish with
	// the process. The Go runtime writes it to root\panic.log instead.
	if err := crashOutput(filepath.Join(cfg.Root, "panic.log")); err != nil {
		return err
	}
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		log.L.Logger.SetOutput(f)
	}
	if elog, err := eventlog.Open(serviceName); err == nil {
		defer elog.Close()
		log.L.Logger.AddHook(&eventLogHook{elog})
	}
	return svc.Run(serviceName, &service{cfg: cfg})
}

type service struct{ cfg *config.Config }

func (s *service) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serve(s.cfg, stop) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case err := <-done:
			if err != nil {
				log.L.WithError(err).Error("wincri stopped")
				return true, 1
			}
			return false, 0
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				close(stop)
				if err := <-done; err != nil {
					return true, 1
				}
				return false, 0
			}
		}
	}
}

// crashOutput makes the runtime write a panic or fatal error of this
// process (with its stack) to path, appending.
func crashOutput(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close() // SetCrashOutput keeps its own duplicate
	return debug.SetCrashOutput(f, debug.CrashOptions{})
}
