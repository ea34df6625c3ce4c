package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultTOMLDecodesToDefault(t *testing.T) {
	var got Config
	if err := Decode([]byte(DefaultTOML()), &got); err != nil {
		t.Fatalf("decode default TOML: %v\n%s", err, DefaultTOML())
	}
	if want := Default(); !reflect.DeepEqual(&got, want) {
		t.Fatalf("default TOML decodes to\n%+v\nwant\n%+v", got, *want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
}

func TestLoadOverridesOnlyWhatTheFileSets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte("root = \"/r\"\n[registry]\npull_progress_timeout = \"30s\"\n[runtimes.kata]\nshim = \"containerd-shim-kata-v2\"\nplatform = \"linux\"\n"), 0o644)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.Root != "/r" || c.State != d.State || c.Registry.PullProgressTimeout.Duration != 30*time.Second ||
		c.Registry.ConfigPath != d.Registry.ConfigPath || c.Runtimes["kata"].Shim != "containerd-shim-kata-v2" {
		t.Fatalf("loaded %+v", c)
	}
	if _, ok := c.Runtimes[d.DefaultRuntime]; !ok {
		t.Fatal("adding a runtime dropped the default one")
	}
}

func TestLoadRejectsUnknownKeysAndBadValues(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"roott = \"/x\"\n", "roott"},
		{"[registry]\npull_progress_timeout = \"soon\"\n", "invalid duration"},
		{"root = [\n", ""},
	} {
		p := filepath.Join(t.TempDir(), "c.toml")
		os.WriteFile(p, []byte(tc.body), 0o644)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q): %v, want an error mentioning %q", tc.body, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	c := Default()
	c.DefaultRuntime = "nope"
	c.Runtimes["bad"] = Runtime{Platform: "plan9"}
	c.Registry.MaxConcurrentDownloads = 0
	c.GCPercent = 0
	c.LogFormat = "xml"
	err := c.Validate()
	for _, want := range []string{`default_runtime "nope"`, "runtimes.bad: shim", "runtimes.bad: platform", "max_concurrent_downloads", "gc_percent", `log_format must be text or json, not "xml"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want it to mention %q", err, want)
		}
	}
}
