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
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/cio"
)

// maxExecOutput caps what ExecSync returns per stream, as kubelet does.
const maxExecOutput = 16 << 20

// ExecResult is what ExecSync returns.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int32
}

// ExecSync runs cmd in a running container and returns its output. With a
// timeout the process is killed when it runs longer, and an error says so.
func (r *Runtime) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (*ExecResult, error) {
	if len(cmd) == 0 {
		return nil, fmt.Errorf("exec command must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	c, err := r.lookupContainer(id)
	if err != nil {
		return nil, err
	}
	rec := c.snapshot()
	s := r.podShim(c.podID)
	if rec.State != records.ContainerState_CONTAINER_RUNNING || s == nil {
		return nil, fmt.Errorf("container %s is not running: %w", rec.Id, errdefs.ErrFailedPrecondition)
	}
	spec := r.readSpec(rec.Id)
	if spec == nil || spec.Process == nil {
		return nil, fmt.Errorf("container %s has no spec: %w", rec.Id, errdefs.ErrFailedPrecondition)
	}
	proc := *spec.Process
	proc.Args, proc.Terminal = cmd, false
	procAny, err := typeurl.MarshalAnyToProto(&proc)
	if err != nil {
		return nil, err
	}
	execID := newID()[:16]
	dir := filepath.Join(r.ioDir(rec.Id), "exec-"+execID)
	defer cio.RemoveStreams(dir)
	streams, err := cio.NewStreams(dir, rec.Id+"-"+execID, false, false)
	if err != nil {
		return nil, err
	}
	pipes, err := cio.OpenPipes(ctx, streams)
	if err != nil {
		return nil, err
	}
	defer pipes.Close()
	var stdout, stderr cappedBuffer
	var wg sync.WaitGroup
	for _, p := range []struct {
		r io.Reader
		w *cappedBuffer
	}{{pipes.Stdout, &stdout}, {pipes.Stderr, &stderr}} {
		wg.Add(1)
		go func() { defer wg.Done(); io.Copy(p.w, p.r) }()
	}
	bg := context.WithoutCancel(ctx)
	if _, err := s.Task.Exec(ctx, &taskapi.ExecProcessRequest{ID: rec.Id, ExecID: execID, Stdout: streams.Stdout, Stderr: streams.Stderr, Spec: procAny}); err != nil {
		return nil, fmt.Errorf("exec in %s: %w", rec.Id, errgrpcFromShim(err))
	}
	defer s.Task.Delete(bg, &taskapi.DeleteRequest{ID: rec.Id, ExecID: execID})
	if _, err := s.Task.Start(ctx, &taskapi.StartRequest{ID: rec.Id, ExecID: execID}); err != nil {
		return nil, fmt.Errorf("start exec in %s: %w", rec.Id, errgrpcFromShim(err))
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	done := make(chan exitStatus, 1)
	go func() { done <- waitTask(bg, s, rec.Id, execID) }()
	var st exitStatus
	select {
	case st = <-done:
	case <-wctx.Done():
		s.Task.Kill(bg, &taskapi.KillRequest{ID: rec.Id, ExecID: execID, Signal: 9})
		<-done
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("command %q in container %s timed out after %s: %w", cmd, rec.Id, timeout, context.DeadlineExceeded)
	}
	if st.err != nil {
		return nil, fmt.Errorf("wait for exec in %s: %w", rec.Id, errgrpcFromShim(st.err))
	}
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	return &ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: st.code}, nil
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
