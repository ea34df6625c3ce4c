package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/cio"
	"github.com/wincri/wincri/runtime/shim"
)

// maxExecOutput caps what ExecSync returns per stream, as kubelet does.
const maxExecOutput = 16 << 20

// ExecResult is what ExecSync returns.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int32
}

// ExecIO is how an exec process is connected: stdin (nil for none),
// stdout and stderr (stderr unused with a TTY), and TTY resizes.
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	Resize         <-chan TerminalSize
}

// TerminalSize is a TTY's size in characters.
type TerminalSize struct{ Width, Height uint16 }

// ExecSync runs cmd in a running container and returns its output. With a
// timeout the process is killed when it runs longer, and an error says so.
func (r *Runtime) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (*ExecResult, error) {
	var stdout, stderr cappedBuffer
	code, err := r.Exec(ctx, id, cmd, ExecIO{Stdout: &stdout, Stderr: &stderr}, timeout)
	if err != nil {
		return nil, err
	}
	return &ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code}, nil
}

// Exec runs cmd in a running container connected to eio and returns its
// exit code once it exits and its output is drained.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, eio ExecIO, timeout time.Duration) (int32, error) {
	if len(cmd) == 0 {
		return 0, fmt.Errorf("exec command must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	c, s, err := r.runningContainer(id)
	if err != nil {
		return 0, err
	}
	spec := r.containerSpecOf(c)
	if spec == nil || spec.Process == nil {
		return 0, fmt.Errorf("container %s has no spec: %w", c.rec.Id, errdefs.ErrFailedPrecondition)
	}
	proc := execProcess(spec.Process, cmd, eio.TTY)
	procAny, err := typeurl.MarshalAnyToProto(proc)
	if err != nil {
		return 0, err
	}
	cid, execID := c.rec.Id, newID()[:16]
	dir := filepath.Join(r.ioDir(cid), "exec-"+execID)
	defer cio.RemoveStreams(dir)
	streams, err := cio.NewStreams(dir, cid+"-"+execID, eio.Stdin != nil, eio.TTY)
	if err != nil {
		return 0, err
	}
	pipes, err := cio.OpenPipes(ctx, streams)
	if err != nil {
		return 0, err
	}
	defer pipes.Close()
	var wg sync.WaitGroup
	copyOut := func(w io.Writer, rd io.Reader) {
		if w == nil || rd == nil {
			return
		}
		wg.Add(1)
		go func() { defer wg.Done(); io.Copy(w, rd) }()
	}
	copyOut(eio.Stdout, pipes.Stdout)
	copyOut(eio.Stderr, pipes.Stderr)
	bg := context.WithoutCancel(ctx)
	if _, err := s.Task.Exec(ctx, &taskapi.ExecProcessRequest{ID: cid, ExecID: execID, Terminal: eio.TTY,
		Stdin: streams.Stdin, Stdout: streams.Stdout, Stderr: streams.Stderr, Spec: procAny}); err != nil {
		return 0, execFailed(bg, s, cid, err)
	}
	defer s.Task.Delete(bg, &taskapi.DeleteRequest{ID: cid, ExecID: execID})
	if _, err := s.Task.Start(ctx, &taskapi.StartRequest{ID: cid, ExecID: execID}); err != nil {
		// A command that cannot start (not found, not executable, the
		// working directory gone, a denial) is an error with the shim's
		// code, as containerd 2.4.2 answers it (measured: docs/kubelet.md),
		// never an exit code guessed from the error's text.
		return 0, execFailed(bg, s, cid, err)
	}
	if eio.Stdin != nil {
		go func() {
			io.Copy(pipes.Stdin, eio.Stdin)
			pipes.Stdin.Close()
			s.Task.CloseIO(bg, &taskapi.CloseIORequest{ID: cid, ExecID: execID, Stdin: true})
		}()
	}
	go forwardResizes(bg, s, cid, execID, eio.Resize)
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	done := make(chan exitStatus, 1)
	go func() { done <- waitTask(bg, s, cid, execID) }()
	var st exitStatus
	select {
	case st = <-done:
	case <-wctx.Done():
		s.Task.Kill(bg, &taskapi.KillRequest{ID: cid, ExecID: execID, Signal: 9})
		// A shim that never reports the exit keeps this call only as long
		// as its client waits (containerd waits on the request's context).
		select {
		case <-done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("command %q in container %s timed out after %s: %w", cmd, cid, timeout, context.DeadlineExceeded)
	}
	if st.err != nil {
		return 0, execFailed(bg, s, cid, st.err)
	}
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	return st.code, nil
}

// runningContainer returns a running container and its pod's shim.
func (r *Runtime) runningContainer(id string) (*container, *shim.Shim, error) {
	c, err := r.lookupContainer(id)
	if err != nil {
		return nil, nil, err
	}
	s := r.podShim(c.podID)
	if c.snapshot().State != records.ContainerState_CONTAINER_RUNNING || s == nil {
		return nil, nil, fmt.Errorf("container %s is not running: %w", c.rec.Id, errdefs.ErrFailedPrecondition)
	}
	return c, s, nil
}

// forwardResizes passes TTY size changes to the process until sizes closes.
func forwardResizes(ctx context.Context, s *shim.Shim, id, execID string, sizes <-chan TerminalSize) {
	if sizes == nil {
		return
	}
	for sz := range sizes {
		s.Task.ResizePty(ctx, &taskapi.ResizePtyRequest{ID: id, ExecID: execID, Width: uint32(sz.Width), Height: uint32(sz.Height)})
	}
}

// Attach connects a client to a running container's stdin and output until
// ctx ends or the container exits.
func (r *Runtime) Attach(ctx context.Context, id string, eio ExecIO) error {
	c, s, err := r.runningContainer(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	logger, exited := c.logger, c.exited
	c.mu.Unlock()
	if logger == nil {
		return fmt.Errorf("container %s output is not connected: %w", c.rec.Id, errdefs.ErrFailedPrecondition)
	}
	detach := logger.Attach(eio.Stdout, eio.Stderr)
	defer detach()
	if eio.Stdin != nil && logger.Stdin() != nil {
		go func() {
			io.Copy(logger.Stdin(), eio.Stdin)
			if c.cfg.GetStdinOnce() {
				logger.Stdin().Close()
				s.Task.CloseIO(context.WithoutCancel(ctx), &taskapi.CloseIORequest{ID: c.rec.Id, Stdin: true})
			}
		}()
	}
	go forwardResizes(context.WithoutCancel(ctx), s, c.rec.Id, "", eio.Resize)
	select {
	case <-ctx.Done():
	case <-exited:
		logger.Wait()
	}
	return nil
}

// cappedBuffer keeps the first maxExecOutput bytes written to it.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxExecOutput - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// CheckRunning says whether a container exists and runs.
func (r *Runtime) CheckRunning(id string) error {
	_, _, err := r.runningContainer(id)
	return err
}

// execProcess is an exec's process: the container's, running cmd. Its
// CommandLine is cleared (hcsshim runs CommandLine over Args, so a Windows
// container built with ArgsEscaped would run its entrypoint again), and a TTY
// gets TERM=xterm, as containerd does.
func execProcess(ctr *specs.Process, cmd []string, tty bool) *specs.Process {
	p := *ctr
	p.Args, p.CommandLine, p.Terminal = cmd, "", tty
	if tty {
		p.Env = mergeEnv(p.Env, []*runtimeapi.KeyValue{{Key: "TERM", Value: []byte("xterm")}})
	}
	return &p
}

// taskRunning asks the shim whether the container's task still runs; an
// error when the shim does not answer.
func taskRunning(ctx context.Context, s *shim.Shim, id string) (bool, error) {
	st, err := s.Task.State(ctx, &taskapi.StateRequest{ID: id})
	if err != nil {
		return false, errgrpcFromShim(err)
	}
	return st.Status == tasktypes.Status_RUNNING, nil
}

// execFailed is the error of an exec the shim refused: FailedPrecondition
// when the container stopped meanwhile (an exec racing a stop: runc fails
// the exec as the init dies, a moment before the shim sees the exit, so
// the task is watched for that moment); Unavailable when the shim does not
// answer (it crashed, or its connection broke), or NotFound if it no longer
// knows the task; else the shim's error.
func execFailed(ctx context.Context, s *shim.Shim, id string, err error) error {
	// A shim that does not answer (stopped, hung) must not hold the call.
	ctx, cancel := context.WithTimeout(ctx, shimAnswerTimeout)
	defer cancel()
	for deadline := time.Now().Add(execStopWait); ; time.Sleep(20 * time.Millisecond) {
		running, stErr := taskRunning(ctx, s, id)
		switch {
		case errdefs.IsNotFound(stErr):
			return fmt.Errorf("container %s: its shim no longer knows the task (%v) after the exec failed: %v: %w", id, stErr, err, errdefs.ErrNotFound)
		case stErr != nil:
			return fmt.Errorf("container %s: its shim does not answer (%v) after the exec failed: %v: %w", id, stErr, err, errdefs.ErrUnavailable)
		case !running:
			return fmt.Errorf("container %s is not running: %w", id, errdefs.ErrFailedPrecondition)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("exec in %s: %w", id, errgrpcFromShim(err))
		}
	}
}

// shimAnswerTimeout bounds how long a failed exec waits for the shim's
// answer about its task.
const shimAnswerTimeout = 10 * time.Second

// execStopWait is how long a failed exec waits to learn whether its
// container is stopping.
const execStopWait = 500 * time.Millisecond
