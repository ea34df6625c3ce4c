package windowse2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// critestConformanceSpecs is how many specs -ginkgo.focus=Conformance
// selects in cri-tools v1.37.0 on Windows (its report of 2026-12-07).
const critestConformanceSpecs = 48

// critestUnsupported are the Conformance specs the emulated host cannot
// pass, each with the reason (docs/windows.md lists them). A spec named
// here that passes fails the test too, so the list stays true.
var critestUnsupported = map[string]string{
	"[k8s.io] Image Manager public image with digest should be pulled and removed [Conformance]": "it pulls win-test-image-digest by the digest of the image gcr.io serves; " +
		"the offline test registry cannot serve an image with that digest",
	"[k8s.io] PodSandbox runtime should support metrics operations runtime should support listing pod sandbox metrics [Conformance]": "the spec execs " +
		"/bin/sh in the container, which a Windows container does not have (HCS: ERROR_FILE_NOT_FOUND), on any Windows host",
	"[k8s.io] Container runtime should support adding volume and device runtime should support starting container with volume when host path is a symlink [Conformance]": "" +
		"Wine 8's CreateSymbolicLinkW returns success and creates nothing, so critest.exe's symlink never exists and the container sees an empty directory",
}

// TestCritest runs cri-tools' own conformance suite, critest.exe v1.37.0
// (GOOS=windows), against wincri.exe as containerd's Windows CI runs it
// (-ginkgo.focus=Conformance), with the images it pulls on Windows served
// by the test's registry under their own names through wincri's registry
// hosts (certs.d) config.
func TestCritest(t *testing.T) {
	e := newEnv(t)
	e.pushCritestImages(t)
	out := t.TempDir()
	report := filepath.Join(out, "report.json")
	logPath := filepath.Join(out, "critest.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, filepath.Join(e.bin, "critest.exe"),
		"-runtime-endpoint", "npipe://"+strings.ReplaceAll(e.pipe, `\`, "/"),
		"-ginkgo.focus", "Conformance", "-ginkgo.no-color", "-ginkgo.v",
		"-ginkgo.json-report", report, "-config", filepath.Join(out, "crictl.yaml"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = out, logf, logf
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("critest.exe ran %s: %v", time.Since(start).Round(time.Second), runErr)
	specs, err := readGinkgoReport(report)
	if err != nil {
		dumpFile(t, "critest log", logPath)
		t.Fatalf("critest.exe left no report: %v", err)
	}
	var passed, failed, skipped []string
	for _, s := range specs {
		switch s.State {
		case "passed":
			passed = append(passed, s.name())
		case "skipped", "pending":
			skipped = append(skipped, s.name())
		default:
			failed = append(failed, s.name())
			t.Logf("%s %s: %s", s.State, s.name(), firstLines(s.Failure.Message, 6))
		}
	}
	sort.Strings(failed)
	t.Logf("critest.exe: %d passed, %d failed, %d skipped", len(passed), len(failed), len(skipped))
	// A critest.exe that stopped early (crashed, timed out) reports fewer
	// specs: every Conformance spec must have run.
	if ran := len(passed) + len(failed); ran != critestConformanceSpecs {
		t.Errorf("%d Conformance specs ran, want all %d of cri-tools v1.37.0's for Windows", ran, critestConformanceSpecs)
	}
	unexpected := 0
	for _, f := range failed {
		if why, ok := critestUnsupported[f]; ok {
			t.Logf("expected failure (%s): %s", why, f)
		} else {
			t.Errorf("spec failed: %s", f)
			unexpected++
		}
	}
	for _, p := range passed {
		if _, ok := critestUnsupported[p]; ok {
			t.Errorf("spec listed as unsupported passed; take it off the list: %s", p)
		}
	}
	if unexpected > 0 || len(passed) == 0 {
		dumpFile(t, "critest log", logPath)
	}
}

type ginkgoSpec struct {
	ContainerHierarchyTexts []string
	LeafNodeText            string
	LeafNodeType            string
	State                   string
	Failure                 struct{ Message string }
}

func (s ginkgoSpec) name() string {
	return strings.Join(append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText), " ")
}

// readGinkgoReport reads the It specs of a ginkgo JSON report.
func readGinkgoReport(path string) ([]ginkgoSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var reports []struct{ SpecReports []ginkgoSpec }
	if err := json.Unmarshal(b, &reports); err != nil {
		return nil, err
	}
	var out []ginkgoSpec
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType == "It" {
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no specs", path)
	}
	return out, nil
}

func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	if len(l) > n {
		l = append(l[:n], "...")
	}
	return strings.Join(l, "\n")
}

// pushCritestImages serves the images critest pulls on Windows and points
// wincri's registry hosts for registry.k8s.io, k8s.gcr.io and gcr.io at
// the test registry. The busybox and test images hold wincmd.exe as
// C:\Windows\System32\cmd.exe and its PowerShell, which answer critest's
// command lines; nginx holds winproc.exe serving HTTP on port 80; the pause
// image winproc.exe pausing. Images critest wants different differ in a
// file naming them.
func (e *env) pushCritestImages(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(e.bin, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	wincmd, winproc := read("wincmd.exe"), read("winproc.exe")
	shells := func(id string) []layerFile {
		return []layerFile{
			{"Windows/System32/cmd.exe", wincmd},
			{"Windows/System32/WindowsPowerShell/v1.0/powershell.exe", wincmd},
			{"image-id.txt", []byte(id)},
		}
	}
	r := e.reg
	r.pushImage(t, "e2e-test-images/busybox", []string{"1.29-2"}, shells("busybox"), []string{"cmd", "/c", "ping -t localhost"}, false)
	r.pushImage(t, "e2e-test-images/nginx", []string{"1.14-2"}, append(shells("nginx"), layerFile{"winproc.exe", winproc}),
		[]string{`C:\winproc.exe`, "serve", "80"}, false)
	// Not the node's sandbox image (e2e/pause:1): critest counts pause:3.9's tags.
	r.pushImage(t, "pause", []string{"3.9"}, []layerFile{{"winproc.exe", winproc}, {"image-id.txt", []byte("pause 3.9")}},
		[]string{`C:\winproc.exe`, "pause"}, false)
	const staging = "k8s-staging-cri-tools/"
	r.pushImage(t, staging+"win-test-image-latest", []string{"latest"}, shells("latest"), []string{"cmd"}, false)
	r.pushImage(t, staging+"win-test-image-tag", []string{"test", "all"}, shells("tag"), []string{"cmd"}, false)
	for _, n := range []string{"1", "2", "3"} {
		r.pushImage(t, staging+"win-test-image-"+n, []string{"latest"}, shells("image-"+n), []string{"cmd"}, false)
	}
	r.pushImage(t, staging+"win-test-image-tags", []string{"1", "2", "3"}, shells("tags"), []string{"cmd"}, false)
	for _, host := range []string{"registry.k8s.io", "k8s.gcr.io", "gcr.io"} {
		dir := filepath.Join(e.dir, "certs.d", host)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "hosts.toml"), fmt.Sprintf("server = \"http://%s\"\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", r.addr, r.addr))
	}
}
