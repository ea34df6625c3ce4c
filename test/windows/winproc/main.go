// Command winproc is the program inside the Windows end-to-end test's
// image (C:\winproc.exe): the pod's pause process and the workloads.
//
//	winproc pause         wait until killed
//	winproc tick PREFIX   print PREFIX N every 200 ms, forever
//	winproc burn          spin one CPU
//	winproc burnfor SECS  spin one CPU for SECS seconds, then exit
//	winproc env NAME...   print NAME=value and the working directory
//	winproc cat           copy stdin to stdout
//	winproc exit N        exit with code N
//	winproc failonce FILE exit 1 and create FILE if it does not exist, else 0
//	                      (a probe that fails once)
//	winproc serve PORT    answer HTTP on PORT (the web server image)
//	winproc holdterm      print every console control event it gets ("got
//	                      terminated", ...) and keep running (a process that
//	                      ignores a graceful stop)
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: winproc pause|tick|burn|burnfor|env|cat|exit|failonce|serve|holdterm")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "pause":
		for {
			time.Sleep(time.Hour)
		}
	case "tick":
		prefix := "tick"
		if len(os.Args) > 2 {
			prefix = os.Args[2]
		}
		for i := 0; ; i++ {
			fmt.Printf("%s %d\n", prefix, i)
			time.Sleep(200 * time.Millisecond)
		}
	case "burn":
		for x := 0; ; x++ {
			_ = x * x
		}
	case "burnfor":
		secs, _ := strconv.Atoi(os.Args[2])
		for end := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(end); {
			for x := 0; x < 1_000_000; x++ {
				_ = x * x
			}
		}
	case "env":
		for _, n := range os.Args[2:] {
			fmt.Printf("%s=%s\n", n, os.Getenv(n))
		}
		wd, _ := os.Getwd()
		fmt.Printf("cwd=%s\n", wd)
	case "cat":
		_, _ = io.Copy(os.Stdout, os.Stdin)
	case "exit":
		code, _ := strconv.Atoi(os.Args[2])
		fmt.Fprintf(os.Stderr, "exiting with %d\n", code)
		os.Exit(code)
	case "failonce":
		f, err := os.OpenFile(os.Args[2], os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			if os.IsExist(err) {
				os.Exit(0)
			}
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		f.Close()
		fmt.Fprintln(os.Stderr, "failing once")
		os.Exit(1)
	case "holdterm":
		c := make(chan os.Signal, 4)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		fmt.Println("holding")
		for sig := range c {
			fmt.Println("got", sig)
		}
	case "serve":
		err := http.ListenAndServe(":"+os.Args[2], http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "winproc serves")
		}))
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", os.Args[1])
		os.Exit(2)
	}
}
