package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A report as ginkgo writes it: a spec that passed, one that failed, one
// skipped from inside (e2eskipper: it has a message), one the focus left out
// (skipped without a message), and a failed BeforeSuite.
const sample = `[{"SuiteDescription":"E2eNode Suite","RunTime":90000000000,
 "PreRunStats":{"TotalSpecs":5,"SpecsThatWillRun":3},
 "SpecReports":[
  {"ContainerHierarchyTexts":["[sig-node] A"],"LeafNodeText":"passes","LeafNodeType":"It","State":"passed"},
  {"ContainerHierarchyTexts":["[sig-node] A"],"LeafNodeText":"fails","LeafNodeType":"It","State":"failed","Failure":{"Message":"Timed out\nafter 5s"}},
  {"ContainerHierarchyTexts":["[sig-node] B"],"LeafNodeText":"skips","LeafNodeType":"It","State":"skipped","Failure":{"Message":"Only supported for cgroup v2"}},
  {"ContainerHierarchyTexts":["[sig-node] B"],"LeafNodeText":"not focused","LeafNodeType":"It","State":"skipped"},
  {"LeafNodeType":"SynchronizedBeforeSuite","State":"failed","Failure":{"Message":"kubelet did not start"}}
 ]}]`

func TestLoadCountsEachOutcome(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(path, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.outcomes) != 3 || r.count("passed") != 1 || r.count("failed") != 1 || r.count("skipped") != 1 {
		t.Errorf("outcomes %v: want one passed, one failed, one skipped, the unfocused spec left out", r.outcomes)
	}
	if r.messages["[sig-node] A fails"] != "Timed out" {
		t.Errorf("failure message %q, want its first line", r.messages["[sig-node] A fails"])
	}
	if len(r.suite) != 1 {
		t.Errorf("suite failures %q, want the BeforeSuite's", r.suite)
	}
	if r.selected != 3 {
		t.Errorf("%d selected, want 3", r.selected)
	}
	if r.runTime.Seconds() != 90 {
		t.Errorf("run time %s", r.runTime)
	}
}

func TestLoadRefusesAnEmptyReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(path, []byte(`[]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := load(path); err == nil {
		t.Error("an empty report loaded without error")
	}
}
