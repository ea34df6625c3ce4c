package main

import (
	"errors"
	"flag"

	"github.com/wincri/wincri/runtime/config"
)

// serviceOpts: on Linux, wincri runs under systemd (or by hand); the Windows
// service flags do not exist.
type serviceOpts struct{ run bool }

func serviceFlags(*flag.FlagSet) *serviceOpts { return &serviceOpts{} }

func (*serviceOpts) handle([]string) (bool, error) { return false, nil }

func runService(*config.Config, *serviceOpts) error {
	return errors.New("Windows service mode is only available on Windows")
}
