// Command wincri is a Kubernetes CRI runtime server.
//
//	wincri [--config FILE] [--listen EP] [--root DIR] [--state DIR] [--log-level L]
//	wincri config default
//	wincri version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/containerd/log"

	"github.com/wincri/wincri/runtime"
	"github.com/wincri/wincri/runtime/config"
	"github.com/wincri/wincri/server"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wincri:", err)
		os.Exit(1)
	}
}

// options are the daemon's command-line flags; set ones override the file.
type options struct {
	config, listen, root, state, logLevel string
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintf(stdout, "wincri %s (CRI v1)\n", runtime.Version)
			return nil
		case "config":
			if len(args) == 2 && args[1] == "default" {
				fmt.Fprint(stdout, config.DefaultTOML())
				return nil
			}
			return errors.New("usage: wincri config default")
		case "doctor":
			fs := flag.NewFlagSet("wincri doctor", flag.ContinueOnError)
			fs.SetOutput(stderr)
			var o options
			fs.StringVar(&o.config, "config", "", "config file")
			if err := fs.Parse(args[1:]); err != nil {
				return err
			}
			cfg, err := loadConfig(o)
			if err != nil {
				return err
			}
			return doctor(cfg, stdout)
		}
	}
	fs := flag.NewFlagSet("wincri", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.config, "config", "", "config file (default "+defaultConfigPath+" when it exists)")
	fs.StringVar(&o.listen, "listen", "", "CRI endpoint: unix:///path or npipe:////./pipe/NAME")
	fs.StringVar(&o.root, "root", "", "persistent directory (images, metadata)")
	fs.StringVar(&o.state, "state", "", "runtime directory (sockets, bundles)")
	fs.StringVar(&o.logLevel, "log-level", "", "trace, debug, info, warn or error")
	svc := serviceFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: wincri [flags]      run the CRI daemon\n       wincri config default   print the default config\n       wincri doctor           check what this node needs\n       wincri version\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unknown command %q", fs.Arg(0))
	}
	if done, err := svc.handle(args); done {
		return err
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	if svc.run {
		return runService(cfg, svc)
	}
	return serve(cfg, nil)
}

// loadConfig reads the config file (the given one, or the default path when
// it exists, or none) and applies the flags over it.
func loadConfig(o options) (*config.Config, error) {
	cfg := config.Default()
	path := o.config
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); err == nil {
			path = defaultConfigPath
		}
	}
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		flag string
		dst  *string
	}{
		{o.listen, &cfg.Listen}, {o.root, &cfg.Root}, {o.state, &cfg.State}, {o.logLevel, &cfg.LogLevel},
	} {
		if f.flag != "" {
			*f.dst = f.flag
		}
	}
	if err := log.SetLevel(cfg.LogLevel); err != nil {
		return nil, fmt.Errorf("log level %q: %w", cfg.LogLevel, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := log.SetFormat(log.OutputFormat(cfg.LogFormat)); err != nil {
		return nil, err
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
	return cfg, nil
}

// serve runs the daemon until SIGINT or SIGTERM, or until stop is closed
// (the Windows service manager's stop).
func serve(cfg *config.Config, stop <-chan struct{}) error {
	ctx := context.Background()
	// Listen before the recovery: a client (the kubelet after a restart of
	// this daemon) that connects meanwhile waits in the backlog and is
	// answered as soon as the runtime is ready, instead of retrying on its
	// backoff; a second daemon started meanwhile finds the socket taken.
	l, err := server.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	defer l.Close()
	rt, err := runtime.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer rt.Close()
	st, err := server.StartStreaming(rt, cfg.Streaming.Address)
	if err != nil {
		return err
	}
	defer st.Close()
	log.G(ctx).WithField("address", st.Addr()).Debug("streaming server listening")
	var metrics *server.Metrics
	if cfg.Metrics.Address != "" {
		metrics = server.NewMetrics(rt)
		if err := metrics.Serve(cfg.Metrics.Address, cfg.Metrics.Pprof); err != nil {
			return err
		}
		defer metrics.Close()
		log.G(ctx).WithField("address", metrics.Addr()).Info("metrics endpoint listening")
	}
	srv := server.New(rt, st, metrics)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	log.G(ctx).WithField("listen", cfg.Listen).WithField("version", runtime.Version).Info("wincri serving CRI")
	select {
	case sig := <-sigs:
		log.G(ctx).WithField("signal", sig).Info("stopping")
		srv.Stop(10 * time.Second)
		return nil
	case <-stop:
		log.G(ctx).Info("stopping: service stop requested")
		srv.Stop(10 * time.Second)
		return nil
	case err := <-errc:
		return err
	}
}
