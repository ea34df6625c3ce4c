package stats

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		f := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadCgroup reads the figures the shim's metrics give from cgroup v1
// and v2 files, working set as cAdvisor computes it; a missing file sends
// the caller to the shim.
func TestReadCgroup(t *testing.T) {
	at := time.Unix(100, 0)
	v1 := t.TempDir()
	writeFiles(t, v1, map[string]string{
		"cpuacct/pods/c1/cpuacct.usage":        "2500000000\n",
		"pids/pods/c1/pids.current":            "3\n",
		"memory/pods/c1/memory.usage_in_bytes": "10485760\n",
		"memory/pods/c1/memory.limit_in_bytes": "67108864\n",
		"memory/pods/c1/memory.stat":           "cache 100\ntotal_inactive_file 2097152\ntotal_rss 4194304\ntotal_pgfault 77\ntotal_pgmajfault 1\n",
	})
	u, ok := ReadCgroup(v1, "/pods/c1", false, at)
	if !ok || u.CPU != 2.5e9 || u.Pids != 3 || u.Mem.WorkingSetBytes.Value != 8<<20 || u.Mem.UsageBytes.Value != 10<<20 ||
		u.Mem.RssBytes.Value != 4<<20 || u.Mem.PageFaults.Value != 77 || u.Mem.AvailableBytes.GetValue() != 56<<20 {
		t.Fatalf("v1: %v %+v", ok, u)
	}
	v2 := t.TempDir()
	writeFiles(t, v2, map[string]string{
		"pods/c1/cpu.stat":       "usage_usec 1500000\nuser_usec 1000000\n",
		"pods/c1/pids.current":   "2\n",
		"pods/c1/memory.current": "5242880\n",
		"pods/c1/memory.max":     "max\n",
		"pods/c1/memory.stat":    "anon 3145728\ninactive_file 1048576\npgfault 9\npgmajfault 0\n",
	})
	u, ok = ReadCgroup(v2, "/pods/c1", true, at)
	if !ok || u.CPU != 1.5e9 || u.Pids != 2 || u.Mem.WorkingSetBytes.Value != 4<<20 || u.Mem.AvailableBytes != nil {
		t.Fatalf("v2: %v %+v", ok, u)
	}
	if _, ok := ReadCgroup(v2, "/pods/gone", true, at); ok {
		t.Fatal("a missing cgroup must send the caller to the shim")
	}
}
