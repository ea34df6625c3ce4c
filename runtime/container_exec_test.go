package runtime

import (
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// TestExecProcess: an exec runs its own command, never the container's
// CommandLine (a Windows image built with ArgsEscaped has one), and leaves the
// container's process untouched.
func TestExecProcess(t *testing.T) {
	ctr := &specs.Process{Args: nil, CommandLine: `cmd /S /C "app.exe --port 80"`, Env: []string{"A=1", "TERM=dumb"}, Cwd: `C:\app`}
	p := execProcess(ctr, []string{"cmd", "/c", "echo hi"}, false)
	if p.CommandLine != "" || !slices.Equal(p.Args, []string{"cmd", "/c", "echo hi"}) || p.Cwd != `C:\app` || p.Terminal {
		t.Fatalf("exec process %+v", p)
	}
	if !slices.Equal(p.Env, ctr.Env) {
		t.Errorf("without a TTY the env is the container's: %v", p.Env)
	}
	tty := execProcess(ctr, []string{"sh"}, true)
	if !tty.Terminal || !slices.Equal(tty.Env, []string{"A=1", "TERM=xterm"}) {
		t.Errorf("a TTY exec gets TERM=xterm: %+v", tty)
	}
	if ctr.CommandLine == "" || ctr.Env[1] != "TERM=dumb" {
		t.Errorf("the container's process was changed: %+v", ctr)
	}
}
