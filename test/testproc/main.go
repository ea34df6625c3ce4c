//go:build linux

// Command testproc is the one program in wincri's test images: a static
// binary that acts as a pod's pause process or as a small workload.
//
//	testproc pause          sleep until SIGTERM/SIGINT, reaping children
//	testproc echo ARGS...   print ARGS (stdout) and "err" (stderr)
//	testproc exit N [SECS]  exit with status N, after SECS seconds
//	testproc tick           print "tick N" every 100ms forever
//	testproc env            print the environment
//	testproc spin           burn a CPU forever
//	testproc sleep SECS     sleep
//	testproc cat FILE       print a file
//	testproc serve PORT     HTTP on PORT: 200 "ok" for every path, one log line a request
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testproc pause|echo|exit|tick|spin|env|sleep|hostname|readlink|rm|cat ...")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "pause":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
		for s := range sigs {
			if s == syscall.SIGCHLD {
				for {
					if pid, _ := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); pid <= 0 {
						break
					}
				}
				continue
			}
			os.Exit(0)
		}
	case "echo":
		fmt.Println(strings.Join(args, " "))
		fmt.Fprintln(os.Stderr, "err")
	case "exit":
		if len(args) > 1 {
			time.Sleep(seconds(args[1]))
		}
		n, _ := strconv.Atoi(args[0])
		os.Exit(n)
	case "tick":
		for i := 0; ; i++ {
			fmt.Printf("tick %d\n", i)
			time.Sleep(100 * time.Millisecond)
		}
	case "env":
		for _, e := range os.Environ() {
			fmt.Println(e)
		}
	case "spin":
		for {
		}
	case "sleep":
		time.Sleep(seconds(args[0]))
	case "hostname":
		h, _ := os.Hostname()
		fmt.Println(h)
	case "readlink":
		for _, a := range args {
			l, err := os.Readlink(a)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			fmt.Println(l)
		}
	case "serve":
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Printf("%s %s\n", r.Method, r.URL.Path)
			fmt.Fprintln(w, "ok")
		})
		fmt.Fprintln(os.Stderr, http.ListenAndServe(":"+args[0], nil))
		os.Exit(1)
	case "rm":
		for _, a := range args {
			if err := os.RemoveAll(a); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	case "cat":
		b, err := os.ReadFile(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
	default:
		fmt.Fprintf(os.Stderr, "testproc: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func seconds(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Duration(f * float64(time.Second))
}
