package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"

	"github.com/wincri/wincri/network"
	"github.com/wincri/wincri/runtime/config"
)

// check is one thing a node needs: ok, or what is wrong and how to fix it.
type check struct {
	what string
	err  error
}

// doctor checks what this node needs to run pods and prints each finding;
// it fails when something is missing.
func doctor(cfg *config.Config, out io.Writer) error {
	checks := append(commonChecks(cfg), platformChecks(cfg)...)
	failed := 0
	for _, c := range checks {
		if c.err != nil {
			failed++
			fmt.Fprintf(out, "MISSING  %s: %v\n", c.what, c.err)
		} else {
			fmt.Fprintf(out, "ok       %s\n", c.what)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(checks))
	}
	fmt.Fprintf(out, "all %d checks passed\n", len(checks))
	return nil
}

func commonChecks(cfg *config.Config) []check {
	var cs []check
	for _, name := range cfg.RuntimeNames() {
		h := cfg.Runtimes[name]
		_, err := exec.LookPath(h.Shim)
		cs = append(cs, check{fmt.Sprintf("runtime handler %s: shim %s", name, h.Shim), err})
	}
	cs = append(cs, check{"CNI network config in " + cfg.CNI.ConfDir, network.ConfigReady(cfg.CNI.ConfDir)})
	for _, p := range cniPluginTypes(cfg.CNI.ConfDir) {
		cs = append(cs, check{"CNI plugin " + p, findPlugin(p, cfg.CNI.BinDirs)})
	}
	for _, d := range []string{cfg.Root, cfg.State} {
		cs = append(cs, check{"writable directory " + d, writable(d)})
	}
	return cs
}

// cniPluginTypes lists the plugin types the conf dir's networks use.
func cniPluginTypes(dir string) []string {
	files, _ := libcni.ConfFiles(dir, []string{".conf", ".conflist", ".json"})
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var conf struct {
			Type    string `json:"type"`
			Plugins []struct {
				Type string `json:"type"`
			} `json:"plugins"`
		}
		if json.Unmarshal(b, &conf) != nil {
			continue
		}
		types := []string{conf.Type}
		for _, p := range conf.Plugins {
			types = append(types, p.Type)
		}
		for _, t := range types {
			if t != "" && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

func findPlugin(name string, dirs []string) error {
	for _, d := range dirs {
		for _, f := range []string{name, name + ".exe"} {
			if fi, err := os.Stat(filepath.Join(d, f)); err == nil && !fi.IsDir() {
				return nil
			}
		}
	}
	return fmt.Errorf("not found in %s", strings.Join(dirs, ", "))
}

func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}
