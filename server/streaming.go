package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/containerd/log"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/wincri/wincri/runtime"
)

// Streaming serves exec, attach and port-forward sessions with the CRI
// streaming library kubelet's runtimes use; the CRI RPCs hand out URLs to it.
type Streaming struct {
	srv  streaming.Server
	http *http.Server
	l    net.Listener
}

// StartStreaming listens on addr (host:port, port 0 for any) and serves.
func StartStreaming(rt *runtime.Runtime, addr string) (*Streaming, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	cfg := streaming.DefaultConfig
	cfg.Addr = l.Addr().String()
	cfg.BaseURL = &url.URL{Scheme: "http", Host: l.Addr().String()}
	srv, err := streaming.NewServer(cfg, streamRuntime{rt})
	if err != nil {
		l.Close()
		return nil, err
	}
	s := &Streaming{srv: srv, l: l, http: &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}}
	go func() {
		if err := s.http.Serve(l); err != nil && err != http.ErrServerClosed {
			log.L.WithError(err).Error("streaming server stopped")
		}
	}()
	return s, nil
}

// Addr is where the streaming server listens.
func (s *Streaming) Addr() string { return s.l.Addr().String() }

// Close stops the server and its sessions.
func (s *Streaming) Close() error { return s.http.Close() }

// streamRuntime adapts the runtime to the streaming library.
type streamRuntime struct{ rt *runtime.Runtime }

func (s streamRuntime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	code, err := s.rt.Exec(ctx, id, cmd, execIO(in, out, errw, tty, resize), 0)
	if err != nil {
		return err
	}
	if code != 0 {
		return &utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: int(code)}
	}
	return nil
}

func (s streamRuntime) Attach(ctx context.Context, id string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	return s.rt.Attach(ctx, id, execIO(in, out, errw, tty, resize))
}

func (s streamRuntime) PortForward(ctx context.Context, podID string, port int32, stream io.ReadWriteCloser) error {
	return s.rt.PortForward(ctx, podID, port, stream)
}

// execIO converts the library's streams; nil writers stay nil.
func execIO(in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) runtime.ExecIO {
	e := runtime.ExecIO{Stdin: in, TTY: tty}
	if out != nil {
		e.Stdout = out
	}
	if errw != nil {
		e.Stderr = errw
	}
	if resize != nil {
		sizes := make(chan runtime.TerminalSize)
		go func() {
			defer close(sizes)
			for sz := range resize {
				sizes <- runtime.TerminalSize{Width: sz.Width, Height: sz.Height}
			}
		}()
		e.Resize = sizes
	}
	return e
}

// Exec returns the URL of an exec session in a running container.
func (s *RuntimeService) Exec(_ context.Context, r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if r.GetContainerId() == "" || len(r.GetCmd()) == 0 {
		return nil, invalid("Exec: container_id and cmd must be set")
	}
	if !r.GetStdin() && !r.GetStdout() && !r.GetStderr() {
		return nil, invalid("Exec: one of stdin, stdout or stderr must be set")
	}
	if err := s.rt.CheckRunning(r.GetContainerId()); err != nil {
		return nil, toStatus(err)
	}
	return s.streaming.srv.GetExec(r)
}

// Attach returns the URL of an attach session to a running container.
func (s *RuntimeService) Attach(_ context.Context, r *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if r.GetContainerId() == "" {
		return nil, invalid("Attach: container_id must be set")
	}
	if err := s.rt.CheckRunning(r.GetContainerId()); err != nil {
		return nil, toStatus(err)
	}
	return s.streaming.srv.GetAttach(r)
}

// PortForward returns the URL of a port-forward session into a pod.
func (s *RuntimeService) PortForward(ctx context.Context, r *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if r.GetPodSandboxId() == "" {
		return nil, invalid("PortForward: pod_sandbox_id must be set")
	}
	for _, p := range r.GetPort() {
		if p < 1 || p > 65535 {
			return nil, invalid(fmt.Sprintf("PortForward: port %d is not a port (1-65535)", p))
		}
	}
	if _, err := s.rt.PodSandboxStatus(ctx, r.GetPodSandboxId(), false); err != nil {
		return nil, toStatus(err)
	}
	return s.streaming.srv.GetPortForward(r)
}
