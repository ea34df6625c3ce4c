package hcsemu

import (
	"os/exec"
	"strings"
	"syscall"
)

// containerPATH is where a container finds a command named without a
// path: the default PATH of a Windows Server container.
var containerPATH = []string{`C:\Windows\System32`, `C:\Windows`, `C:\Windows\System32\WindowsPowerShell\v1.0`}

// hostCommandLine maps the image of a command line that names a path in
// the container (C:\pause.exe, \app\x.exe), or a bare name found on the
// container's default PATH in its layers (powershell, cmd), to the
// container's root on the host; other commands (ping, a cmd the image does
// not have) resolve on Wine's PATH, which stands in for the container's
// C:\Windows\System32.
func hostCommandLine(sys *system, cmdline string) (host, image string) {
	first, rest := splitFirst(cmdline)
	unq := strings.Trim(first, `"`)
	candidates := []string{unq}
	if !strings.ContainsAny(unq, `\/:`) {
		for _, dir := range containerPATH {
			candidates = append(candidates, dir+`\`+unq)
		}
	}
	for _, cand := range candidates {
		mapped := sys.containerPath(cand)
		if mapped == cand {
			continue
		}
		for _, c := range []string{mapped, mapped + ".exe"} {
			if isFile(c) {
				return syscall.EscapeArg(c) + rest, c
			}
		}
	}
	if lp, err := exec.LookPath(unq); err == nil {
		return cmdline, lp
	}
	return cmdline, unq
}

func splitFirst(s string) (first, rest string) {
	s = strings.TrimLeft(s, " \t")
	if strings.HasPrefix(s, `"`) {
		if i := strings.Index(s[1:], `"`); i >= 0 {
			return s[:i+2], s[i+2:]
		}
		return s, ""
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}
