// Command wincmd stands in for cmd.exe and powershell.exe in the Windows
// test images critest pulls (test/windows critest_windows_test.go): Wine's
// own powershell does nothing, and a Windows container runs these programs
// from its own C:\Windows\System32. It answers the command lines
// cri-tools' pkg/validate and pkg/framework run in a Windows container, and
// refuses anything else the way the real shell would (a message on stderr
// and exit code 1):
//
//	cmd /c ping -t localhost              cmd /Q (reads commands from stdin)
//	powershell -c "echo hello"            powershell -c "start-sleep 4321"
//	powershell -c "ping -t localhost"     powershell -c "get-process | findstr sleep; exit 0"
//	powershell -c "echo 'X'"              powershell -c "while($true) { echo 'X'; sleep 1; }"
//	powershell -c ls PATH                 powershell /c "ipconfig /all"
//	powershell /c "$env:computername"
//
// The program is named by its file: cmd.exe or powershell.exe. Paths in the
// container (C:\...) are resolved from the directory holding the program
// (ROOT\Windows\System32\...), which is C:\ in a real container and the
// container's root directory under the emulated host.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	name := strings.ToLower(strings.TrimSuffix(filepath.Base(os.Args[0]), filepath.Ext(os.Args[0])))
	sh := &shell{root: containerRoot(), out: os.Stdout, errOut: os.Stderr}
	switch name {
	case "cmd":
		os.Exit(sh.cmdMain(os.Args[1:]))
	case "powershell":
		os.Exit(sh.powershellMain(os.Args[1:]))
	default:
		fmt.Fprintf(os.Stderr, "wincmd: run as cmd.exe or powershell.exe, not %q\n", name)
		os.Exit(2)
	}
}

type shell struct {
	root   string // the container's C:\ on this host
	out    io.Writer
	errOut io.Writer
}

// containerRoot is the directory above Windows\System32 that holds this
// program.
func containerRoot() string {
	exe, err := os.Executable()
	if err != nil {
		return `C:\`
	}
	dir := filepath.Dir(exe)
	for range 4 {
		if strings.EqualFold(filepath.Base(dir), "Windows") {
			return filepath.Dir(dir)
		}
		dir = filepath.Dir(dir)
	}
	return `C:\`
}

// hostPath maps a path in the container to this host.
func (sh *shell) hostPath(p string) string {
	if len(p) >= 2 && (p[0] == 'C' || p[0] == 'c') && p[1] == ':' {
		return filepath.Join(sh.root, p[2:])
	}
	if strings.HasPrefix(p, `\`) && !strings.HasPrefix(p, `\\`) {
		return filepath.Join(sh.root, p)
	}
	return p
}

// containerPath is the inverse of hostPath, for prompts.
func (sh *shell) containerPath(p string) string {
	rel, err := filepath.Rel(sh.root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	if rel == "." {
		return `C:\`
	}
	return `C:\` + rel
}

// cmdMain: cmd /c LINE runs one line; without /c (cmd /Q) each line read
// from stdin, with the prompt after each, until stdin ends or "exit".
func (sh *shell) cmdMain(args []string) int {
	for i, a := range args {
		switch strings.ToLower(a) {
		case "/c", "/k":
			code, _ := sh.cmdLine(strings.Join(args[i+1:], " "))
			return code
		case "/q", "/s", "/d":
		default:
			fmt.Fprintf(sh.errOut, "cmd: option %s is not answered by this stand-in\n", a)
			return 1
		}
	}
	fmt.Fprint(sh.out, "Microsoft Windows [Version 10.0.20348.2849]\r\n(c) Microsoft Corporation. All rights reserved.\r\n")
	sh.prompt()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			sh.prompt()
			continue
		}
		code, exit := sh.cmdLine(line)
		if exit {
			return code
		}
		sh.prompt()
	}
	return 0
}

func (sh *shell) prompt() {
	wd, _ := os.Getwd()
	fmt.Fprintf(sh.out, "\r\n%s>", sh.containerPath(wd))
}

// cmdLine runs one cmd line; exit reports an "exit" command.
func (sh *shell) cmdLine(line string) (code int, exit bool) {
	first, rest := split(strings.TrimSpace(line))
	switch strings.ToLower(first) {
	case "echo":
		fmt.Fprint(sh.out, strings.TrimSpace(rest)+"\r\n")
		return 0, false
	case "exit":
		n := 0
		for _, f := range strings.Fields(rest) {
			if !strings.EqualFold(f, "/b") {
				fmt.Sscan(f, &n)
			}
		}
		return n, true
	}
	if code, ok := sh.builtin(first, strings.Fields(rest)); ok {
		return code, false
	}
	return sh.external(first, rest), false
}

// builtin runs what both shells reach as a program in System32 (PING.EXE,
// ipconfig.exe, hostname.exe); the stand-in answers them itself.
func (sh *shell) builtin(name string, args []string) (int, bool) {
	switch strings.ToLower(strings.TrimSuffix(strings.ToLower(name), ".exe")) {
	case "ping":
		return sh.ping(args), true
	case "ipconfig":
		return sh.ipconfig(args), true
	case "hostname":
		h, _ := os.Hostname()
		fmt.Fprint(sh.out, h+"\r\n")
		return 0, true
	}
	return 0, false
}

// external starts a program of the container (cmd.exe, powershell.exe) by
// its name, as cmd finds it on the container's PATH.
func (sh *shell) external(name, rest string) int {
	for _, dir := range []string{`Windows\System32`, `Windows`, `Windows\System32\WindowsPowerShell\v1.0`} {
		for _, n := range []string{name, name + ".exe"} {
			p := filepath.Join(sh.root, dir, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				c := command(p, rest)
				c.Stdout, c.Stderr = sh.out, sh.errOut
				if err := c.Run(); err != nil {
					if ee, ok := err.(*exec.ExitError); ok {
						return ee.ExitCode()
					}
					fmt.Fprintln(sh.errOut, err)
					return 1
				}
				return 0
			}
		}
	}
	fmt.Fprintf(sh.errOut, "'%s' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", name)
	return 1
}

// ping -t HOST answers every second until killed; ping HOST four times.
func (sh *shell) ping(args []string) int {
	forever, host := false, ""
	for _, a := range args {
		switch {
		case strings.EqualFold(a, "-t") || strings.EqualFold(a, "/t"):
			forever = true
		case !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "/"):
			host = a
		}
	}
	if host == "" {
		fmt.Fprint(sh.errOut, "IP address must be specified.\r\n")
		return 1
	}
	if !strings.EqualFold(host, "localhost") && host != "127.0.0.1" && host != "::1" {
		fmt.Fprintf(sh.errOut, "ping: this stand-in answers only localhost, not %s\r\n", host)
		return 1
	}
	fmt.Fprintf(sh.out, "\r\nPinging %s [::1] with 32 bytes of data:\r\n", host)
	for i := 0; forever || i < 4; i++ {
		fmt.Fprint(sh.out, "Reply from ::1: time<1ms \r\n")
		time.Sleep(time.Second)
	}
	return 0
}

func split(s string) (first, rest string) {
	s = strings.TrimLeft(s, " \t")
	if strings.HasPrefix(s, `"`) {
		if i := strings.Index(s[1:], `"`); i >= 0 {
			return s[1 : i+1], strings.TrimLeft(s[i+2:], " \t")
		}
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], strings.TrimLeft(s[i:], " \t")
	}
	return s, ""
}
