package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/wincri/wincri/runtime/config"
)

func platformChecks(*config.Config) []check {
	return []check{
		{"runc in PATH", lookRunc()},
		{"cgroup filesystem (v1 or v2)", cgroups()},
		{"overlay filesystem", kernelFS("overlay")},
		{"running as root", root()},
	}
}

func lookRunc() error {
	p, err := exec.LookPath("runc")
	if err != nil {
		return fmt.Errorf("%w (hack/install-deps.sh builds runc)", err)
	}
	return exec.Command(p, "--version").Run()
}

func cgroups() error {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
		return nil
	}
	return fmt.Errorf("neither cgroup v2 nor the v1 memory controller is mounted at /sys/fs/cgroup")
}

func kernelFS(name string) error {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(strings.TrimPrefix(l, "nodev")) == name {
			return nil
		}
	}
	return fmt.Errorf("%s is not in /proc/filesystems (modprobe %s)", name, name)
}

func root() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("euid %d: pods need root", os.Geteuid())
	}
	return nil
}
