// Command report reads ginkgo JSON reports of node e2e runs (hack/node-e2e.sh)
// and prints, per report, the specs run, passed, failed and skipped, the
// run's duration and its failures; given two reports (wincri's first, the
// reference's second), also every spec whose outcome differs.
//
// Usage: report RUN.json [REFERENCE.json]
// It exits 1 when a run failed a spec, or, with two reports, when the first
// failed a spec the second passed.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// The parts of ginkgo v2's types.Report this reads.
type suiteReport struct {
	SuiteDescription string
	RunTime          time.Duration
	PreRunStats      struct{ TotalSpecs, SpecsThatWillRun int }
	SpecReports      []specReport
}

type specReport struct {
	ContainerHierarchyTexts []string
	LeafNodeText            string
	LeafNodeType            string
	State                   string
	RunTime                 time.Duration
	Failure                 struct{ Message string }
}

func (s specReport) name() string {
	return strings.TrimSpace(strings.Join(append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText), " "))
}

// outcome is passed, failed or skipped for a spec that ran (a skip from
// inside the spec, e2eskipper), "" for one the focus left out.
func (s specReport) outcome() string {
	switch s.State {
	case "passed":
		return "passed"
	case "skipped", "pending":
		if s.Failure.Message == "" {
			return ""
		}
		return "skipped"
	default: // failed, panicked, timedout, interrupted, aborted
		return "failed"
	}
}

type run struct {
	path     string
	runTime  time.Duration
	selected int // the specs the focus chose, which every run must report
	outcomes map[string]string
	messages map[string]string
	suite    []string // failures outside specs (BeforeSuite, AfterSuite, ...)
}

func load(path string) (*run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var reports []suiteReport
	if err := json.Unmarshal(data, &reports); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(reports) == 0 {
		return nil, fmt.Errorf("%s: no suite in the report", path)
	}
	r := &run{path: path, outcomes: map[string]string{}, messages: map[string]string{}}
	for _, rep := range reports {
		r.runTime += rep.RunTime
		r.selected += rep.PreRunStats.SpecsThatWillRun
		for _, s := range rep.SpecReports {
			if s.LeafNodeType != "It" {
				if s.outcome() == "failed" {
					r.suite = append(r.suite, fmt.Sprintf("%s: %s", s.LeafNodeType, firstLine(s.Failure.Message)))
				}
				continue
			}
			if o := s.outcome(); o != "" {
				r.outcomes[s.name()] = o
				r.messages[s.name()] = firstLine(s.Failure.Message)
			}
		}
	}
	if len(r.outcomes) != r.selected {
		r.suite = append(r.suite, fmt.Sprintf("%d specs selected, %d reported", r.selected, len(r.outcomes)))
	}
	return r, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func (r *run) count(outcome string) int {
	n := 0
	for _, o := range r.outcomes {
		if o == outcome {
			n++
		}
	}
	return n
}

func (r *run) print() {
	fmt.Printf("%s: %d specs run, %d passed, %d failed, %d skipped in %s\n",
		r.path, len(r.outcomes), r.count("passed"), r.count("failed"), r.count("skipped"), r.runTime.Round(time.Second))
	for _, s := range r.suite {
		fmt.Printf("  suite failure: %s\n", s)
	}
	for _, name := range sortedNames(r.outcomes) {
		if r.outcomes[name] == "failed" {
			fmt.Printf("  FAIL %s\n       %s\n", name, r.messages[name])
		}
	}
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: report RUN.json [REFERENCE.json]")
		os.Exit(2)
	}
	var runs []*run
	for _, p := range os.Args[1:] {
		r, err := load(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(2)
		}
		r.print()
		runs = append(runs, r)
	}
	bad := runs[0].count("failed") > 0 || len(runs[0].suite) > 0
	if len(runs) == 2 {
		bad = len(runs[0].suite) > 0
		all := map[string]string{}
		for _, r := range runs {
			for n := range r.outcomes {
				all[n] = ""
			}
		}
		differ := 0
		for _, n := range sortedNames(all) {
			a, b := runs[0].outcomes[n], runs[1].outcomes[n]
			if a == b {
				continue
			}
			differ++
			fmt.Printf("  DIFFERS %s: %s vs %s\n", n, or(a, "not run"), or(b, "not run"))
			if a == "failed" {
				fmt.Printf("       %s\n", runs[0].messages[n])
			}
			if a == "failed" && b == "passed" {
				bad = true
			}
		}
		fmt.Printf("%d specs differ\n", differ)
	}
	if bad {
		os.Exit(1)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
