package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// powershellMain: powershell -c|/c|-Command SCRIPT... (the rest of the
// arguments joined by spaces, as PowerShell does).
func (sh *shell) powershellMain(args []string) int {
	for i, a := range args {
		switch strings.ToLower(a) {
		case "-c", "/c", "-command":
			return sh.script(strings.Join(args[i+1:], " "))
		case "-noprofile", "-noninteractive", "-nologo":
		default:
			fmt.Fprintf(sh.errOut, "powershell: argument %s is not answered by this stand-in\r\n", a)
			return 1
		}
	}
	fmt.Fprint(sh.errOut, "powershell: an interactive session is not answered by this stand-in\r\n")
	return 1
}

var whileTrue = regexp.MustCompile(`(?is)^while\s*\(\s*\$true\s*\)\s*\{(.*)\}$`)

// script runs statements separated by ";" at the top level; the exit code
// is exit's, or 1 if the last statement failed.
func (sh *shell) script(s string) int {
	code := 0
	for _, st := range splitTop(s, ';') {
		st = strings.TrimSpace(st)
		if st == "" {
			continue
		}
		if m := whileTrue.FindStringSubmatch(st); m != nil {
			for {
				if c, exit := sh.statement(m[1]); exit {
					return c
				}
			}
		}
		c, exit := sh.statement(st)
		if exit {
			return c
		}
		code = c
	}
	return code
}

// statement runs a statement or a pipeline ending in findstr.
func (sh *shell) statement(st string) (code int, exit bool) {
	if strings.Contains(st, ";") {
		for _, s := range splitTop(st, ';') {
			if c, exit := sh.statement(s); exit {
				return c, true
			} else {
				code = c
			}
		}
		return code, false
	}
	stages := splitTop(st, '|')
	if len(stages) > 1 {
		var buf strings.Builder
		inner := &shell{root: sh.root, out: &buf, errOut: sh.errOut}
		code, exit = inner.statement(stages[0])
		lines := strings.Split(strings.ReplaceAll(buf.String(), "\r\n", "\n"), "\n")
		for _, stage := range stages[1:] {
			name, rest := split(strings.TrimSpace(stage))
			if !strings.EqualFold(name, "findstr") {
				fmt.Fprintf(sh.errOut, "powershell: the pipeline stage %q is not answered by this stand-in\r\n", stage)
				return 1, false
			}
			pat := strings.Trim(rest, `"'`)
			var kept []string
			for _, l := range lines {
				if strings.Contains(l, pat) {
					kept = append(kept, l)
				}
			}
			lines = kept
		}
		for _, l := range lines {
			fmt.Fprint(sh.out, l+"\r\n")
		}
		if len(lines) == 0 {
			return 1, exit // findstr finds nothing: exit code 1
		}
		return code, exit
	}
	words := fields(strings.TrimSpace(st))
	if len(words) == 0 {
		return 0, false
	}
	name, args := strings.ToLower(words[0]), words[1:]
	switch {
	case name == "exit":
		n := 0
		if len(args) > 0 {
			n, _ = strconv.Atoi(args[0])
		}
		return n, true
	case name == "echo" || name == "write-output" || name == "write-host":
		for _, a := range args {
			fmt.Fprint(sh.out, a+"\r\n")
		}
		return 0, false
	case name == "start-sleep" || name == "sleep":
		return sh.sleep(args), false
	case strings.HasPrefix(name, "$env:") && len(args) == 0:
		fmt.Fprint(sh.out, os.Getenv(words[0][len("$env:"):])+"\r\n")
		return 0, false
	case name == "ls" || name == "dir" || name == "get-childitem":
		return sh.list(args), false
	case name == "get-process" && len(args) == 0:
		return sh.processes(), false
	}
	if c, ok := sh.builtin(name, args); ok {
		return c, false
	}
	fmt.Fprintf(sh.errOut, "%s : The term '%s' is not recognized as the name of a cmdlet, function, script file, or operable program.\r\n", words[0], words[0])
	return 1, false
}

func (sh *shell) sleep(args []string) int {
	unit, n := time.Second, ""
	for _, a := range args {
		switch strings.ToLower(a) {
		case "-s", "-seconds":
		case "-m", "-milliseconds":
			unit = time.Millisecond
		default:
			n = a
		}
	}
	v, err := strconv.ParseFloat(n, 64)
	if err != nil || v < 0 {
		fmt.Fprintf(sh.errOut, "Start-Sleep : Cannot bind parameter 'Seconds' to %q\r\n", n)
		return 1
	}
	time.Sleep(time.Duration(v * float64(unit)))
	return 0
}

// list prints a directory's entries as Get-ChildItem's table does.
func (sh *shell) list(args []string) int {
	p := "."
	if len(args) > 0 {
		p = args[0]
	}
	ents, err := os.ReadDir(sh.hostPath(p))
	if err != nil {
		fmt.Fprintf(sh.errOut, "ls : Cannot find path '%s' because it does not exist.\r\n", p)
		return 1
	}
	if len(ents) == 0 {
		return 0
	}
	fmt.Fprintf(sh.out, "\r\n    Directory: %s\r\n\r\nMode                 LastWriteTime         Length Name\r\n----                 -------------         ------ ----\r\n", p)
	for _, e := range ents {
		mode, size := "-a----", ""
		info, err := e.Info()
		if err != nil {
			continue
		}
		if e.IsDir() {
			mode = "d-----"
		} else {
			size = strconv.FormatInt(info.Size(), 10)
		}
		fmt.Fprintf(sh.out, "%s %21s %14s %s\r\n", mode, info.ModTime().Format("1/2/2006 3:04 PM"), size, e.Name())
	}
	return 0
}

func (sh *shell) processes() int {
	names, err := processNames()
	if err != nil {
		fmt.Fprintf(sh.errOut, "get-process : %v\r\n", err)
		return 1
	}
	for _, n := range names {
		fmt.Fprint(sh.out, n+"\r\n")
	}
	return 0
}

// splitTop splits s at sep outside quotes, braces and parentheses.
func splitTop(s string, sep byte) []string {
	var parts []string
	depth, quote, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '{' || c == '(':
			depth++
		case c == '}' || c == ')':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// fields splits a statement into words, a quoted string being one word
// without its quotes.
func fields(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '\'' || s[0] == '"' {
			if i := strings.IndexByte(s[1:], s[0]); i >= 0 {
				out = append(out, s[1:i+1])
				s = s[i+2:]
				continue
			}
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}
