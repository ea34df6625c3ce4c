//go:build linux

// Package integration runs the real wincri daemon against an in-test
// registry: the tests speak CRI over its unix socket, as kubelet and crictl do.
package integration

import (
	"fmt"
	"os"
	"testing"

	"github.com/wincri/wincri/test/testutil"
)

var daemonBin, testProcBin string

// testCgroupParent holds the cgroups of this run's containers, so that
// leak checks count only them.
var testCgroupParent = fmt.Sprintf("/wincri-it-%d", os.Getpid())

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("skipping integration tests: they mount snapshots and need root")
		os.Exit(0)
	}
	dir, daemon, testproc, err := testutil.BuildTestBinaries()
	daemonBin, testProcBin = daemon, testproc
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	code := m.Run()
	testutil.RemoveCgroup(testCgroupParent)
	os.RemoveAll(dir)
	os.Exit(code)
}

// startDaemon starts a daemon that mirrors registry.k8s.io to reg.
func startDaemon(t *testing.T, reg *testutil.Registry) *testutil.Daemon {
	t.Helper()
	d := testutil.NewDaemon(t, daemonBin, testutil.Options{Hosts: map[string]string{"registry.k8s.io": testutil.Mirror(reg.Host)}})
	d.Start(t)
	return d
}
