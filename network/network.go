// Package network sets up pod networking: a network namespace and CNI on
// Linux, an HCN namespace and the Windows CNI plugins on Windows.
package network

import (
	"fmt"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// ConfigReady reports whether confDir holds a CNI network configuration that
// loads, and says what is wrong when it does not.
func ConfigReady(confDir string) error {
	files, err := libcni.ConfFiles(confDir, []string{".conf", ".conflist", ".json"})
	if err != nil {
		return fmt.Errorf("read CNI config dir %s: %w", confDir, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("no network config found in %s", confDir)
	}
	var problems []string
	for _, f := range files {
		var err error
		if strings.HasSuffix(f, ".conflist") {
			_, err = libcni.ConfListFromFile(f)
		} else {
			_, err = libcni.ConfFromFile(f)
		}
		if err == nil {
			return nil
		}
		problems = append(problems, fmt.Sprintf("%s: %v", f, err))
	}
	return fmt.Errorf("no loadable network config in %s: %s", confDir, strings.Join(problems, "; "))
}
