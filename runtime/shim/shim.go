// Package shim starts, reattaches to and cleans up containerd runtime-v2
// shims (containerd-shim-runc-v2 on Linux, containerd-shim-runhcs-v1 on
// Windows) without a containerd daemon: one shim per pod, reached over ttrpc.
package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/containerd/typeurl/v2"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/api/runtime/task/v2"
	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	v2 "github.com/containerd/containerd/v2/core/runtime/v2"
	shimclient "github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/log"
	"github.com/containerd/ttrpc"
	"github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/wincri/wincri/proto/records"
)

// Task is the runtime-v2 task API of a shim (v2 and v3 shims alike).
type Task = v2.TaskServiceClient

// Config is what every shim is started with.
type Config struct {
	// Namespace is the containerd namespace the shims are told.
	Namespace string
	// Address identifies this daemon to the shim (the shim derives its socket
	// name from it); it need not be a containerd socket.
	Address string
	// SocketDir is where v2.4+ shims put their sockets ("" for their default).
	SocketDir string
	// Events receives what shims publish. Events are hints: State and Wait
	// tell the truth.
	Events func(ns, topic string, event *anypb.Any)
}

// Manager starts and tracks shims. It serves the ttrpc event service the
// shims publish to.
type Manager struct {
	cfg          Config
	ttrpcAddress string
	events       *eventServer
}

// NewManager serves the event service at eventsAddress (a socket path, or a
// named pipe on Windows) and returns a manager.
func NewManager(cfg Config, eventsAddress string) (*Manager, error) {
	es, err := serveEvents(eventsAddress, cfg.Events)
	if err != nil {
		return nil, fmt.Errorf("shim event service: %w", err)
	}
	return &Manager{cfg: cfg, ttrpcAddress: eventsAddress, events: es}, nil
}

// Close stops the event service. Shims keep running.
func (m *Manager) Close() error { return m.events.Close() }

// Shim is a connected shim.
type Shim struct {
	Info *records.Shim
	Task Task

	conn     io.Closer
	logStop  func()
	dead     context.Context // done when the connection is lost
	markDead context.CancelFunc
}

// Dead is closed when the connection to the shim is lost (the shim exited or
// was killed).
func (s *Shim) Dead() <-chan struct{} { return s.dead.Done() }

// OnDead runs f (in its own goroutine) once the connection is lost, with no
// goroutine waiting for it meanwhile.
func (s *Shim) OnDead(f func()) { context.AfterFunc(s.dead, f) }

// Close drops the connection; the shim keeps running.
func (s *Shim) Close() error {
	err := s.conn.Close()
	s.logStop()
	return err
}

// Start starts binary as the shim for id with bundle as its working
// directory (the bundle's config.json must exist), passing opts, and
// connects to it.
func (m *Manager) Start(ctx context.Context, id, binary, bundle string, opts proto.Message) (*Shim, error) {
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, fmt.Errorf("shim binary %s: %w", binary, err)
	}
	logStop, err := copyShimLog(ctx, m.cfg.Namespace, id, bundle, true)
	if err != nil {
		return nil, fmt.Errorf("open shim log: %w", err)
	}
	cmd, err := m.command(ctx, path, id, bundle, "start", opts)
	if err != nil {
		logStop()
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		logStop()
		return nil, fmt.Errorf("start shim %s: %s: %w", binary, strings.TrimSpace(stderr.String()), err)
	}
	params, err := parseStartResponse(out)
	if err != nil {
		logStop()
		return nil, err
	}
	info := &records.Shim{Binary: path, Address: params.Address, Protocol: params.Protocol, Version: params.Version, Bundle: bundle}
	freshPipe(info.Address)
	s, err := connect(ctx, id, info, logStop, func() (net.Conn, error) { return shimclient.Connect(info.Address, shimclient.AnonDialer) })
	if err != nil {
		// The shim runs but cannot be reached: do not leave it behind.
		m.Cleanup(context.WithoutCancel(ctx), id, info)
		return nil, err
	}
	return s, nil
}

// Connect reattaches to a running shim after a restart of this daemon.
func (m *Manager) Connect(ctx context.Context, id string, info *records.Shim) (*Shim, error) {
	return m.reconnect(ctx, id, info, false)
}

// Reattach is Connect at the daemon's start, for many shims at once. Where
// live can tell (Linux: the sockets listening, see Listening), a shim whose
// address nobody listens on is gone, and the connection to one that listens
// is made at the first call, not now. Otherwise it is Connect.
func (m *Manager) Reattach(ctx context.Context, id string, info *records.Shim, live *Listeners) (*Shim, error) {
	if live == nil {
		return m.Connect(ctx, id, info)
	}
	if !live.Has(info.Address) {
		return nil, fmt.Errorf("connect to shim %s at %s: nothing listens there", id, info.Address)
	}
	return m.reconnect(ctx, id, info, true)
}

func (m *Manager) reconnect(ctx context.Context, id string, info *records.Shim, lazy bool) (*Shim, error) {
	logStop, err := copyShimLog(ctx, m.cfg.Namespace, id, info.Bundle, false)
	if err != nil {
		logStop = func() {}
	}
	dial := func() (net.Conn, error) { return shimclient.Connect(info.Address, shimclient.AnonReconnectDialer) }
	if lazy {
		eager := dial
		dial = func() (net.Conn, error) { return newLazyConn(eager), nil }
	}
	return connect(ctx, id, info, logStop, dial)
}

// connect makes the ttrpc client of the shim at info's address over the
// connection dial returns.
func connect(ctx context.Context, id string, info *records.Shim, logStop func(), dial func() (net.Conn, error)) (*Shim, error) {
	if p := strings.ToLower(info.Protocol); p != "ttrpc" {
		logStop()
		return nil, fmt.Errorf("shim %s speaks %q: only ttrpc shims are supported", id, info.Protocol)
	}
	conn, err := dial()
	if err != nil {
		logStop()
		return nil, fmt.Errorf("connect to shim %s at %s: %w", id, info.Address, err)
	}
	s := &Shim{Info: info, logStop: logStop}
	s.dead, s.markDead = context.WithCancel(context.Background())
	client := ttrpc.NewClient(conn, ttrpc.WithOnClose(s.markDead))
	s.conn = client
	t, err := v2.NewTaskClient(client, int(info.Version))
	if err != nil {
		client.Close()
		logStop()
		return nil, err
	}
	s.Task = t
	log.G(ctx).WithField("shim", id).WithField("address", info.Address).Debug("connected to shim")
	return s, nil
}

// Shutdown asks the shim to exit (it does once it runs no task) and drops
// the connection.
func (s *Shim) Shutdown(ctx context.Context, id string) error {
	_, err := s.Task.Shutdown(ctx, &taskapi.ShutdownRequest{ID: id, Now: true})
	s.Close()
	if err != nil && !isClosed(err) {
		return err
	}
	return nil
}

// Gone waits up to d for the shim at info's address to stop accepting
// connections, and says whether it did. Shutdown does not wait for the shim
// to exit, and the shim ignores it while it holds a task.
func Gone(info *records.Shim, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		conn, err := shimclient.AnonDialer(info.Address, 100*time.Millisecond)
		if err != nil {
			return true
		}
		conn.Close()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Cleanup runs the shim binary's "delete" action for id in its bundle: it
// kills and deletes what a dead or unreachable shim left (the container's
// processes, mounts). It returns the exit status of the task, if known.
func (m *Manager) Cleanup(ctx context.Context, id string, info *records.Shim) (*task.DeleteResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd, err := m.command(ctx, info.Binary, id, info.Bundle, "delete", nil)
	if err != nil {
		return nil, err
	}
	cmd.Args = append(cmd.Args[:len(cmd.Args)-1], "-bundle", info.Bundle, "delete")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("shim delete %s: %s: %w", id, strings.TrimSpace(stderr.String()), err)
	}
	var resp task.DeleteResponse
	if err := proto.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("shim delete %s: decode: %w", id, err)
	}
	return &resp, nil
}

// command builds the shim invocation containerd uses for action.
func (m *Manager) command(ctx context.Context, binary, id, bundle, action string, opts proto.Message) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-namespace", m.cfg.Namespace, "-address", m.cfg.Address, "-publish-binary", self, "-id", id}
	if log.GetLevel() >= log.DebugLevel {
		args = append(args, "-debug")
	}
	cmd := exec.CommandContext(ctx, binary, append(args, action)...)
	cmd.Dir = bundle
	cmd.Env = append(os.Environ(),
		"GOMAXPROCS=2",
		"MAX_SHIM_VERSION=2",
		"TTRPC_ADDRESS="+m.ttrpcAddress,
		"GRPC_ADDRESS="+m.cfg.Address,
		"NAMESPACE="+m.cfg.Namespace,
	)
	cmd.SysProcAttr = sysProcAttr()
	name := filepath.Base(binary)
	switch {
	case strings.Contains(name, "shim-runc-v1"), strings.Contains(name, "shim-runhcs-v1"):
		// These read their options, and only them, from stdin, as a typed
		// Any (as containerd sends them): bare bytes would not decode, and
		// the shim would fall back to its defaults.
		if opts != nil {
			a, err := typeurl.MarshalAnyToProto(opts)
			if err != nil {
				return nil, err
			}
			b, err := proto.Marshal(a)
			if err != nil {
				return nil, err
			}
			cmd.Stdin = bytes.NewReader(b)
		}
	case action == "start":
		params := &bootapi.BootstrapParams{
			InstanceID:             id,
			Namespace:              m.cfg.Namespace,
			LogLevel:               bootapi.LogLevelFromString(log.GetLevel().String()),
			ContainerdVersion:      "2.4.2",
			ContainerdTtrpcAddress: m.ttrpcAddress,
			ContainerdGrpcAddress:  m.cfg.Address,
			ContainerdBinary:       self,
		}
		if m.cfg.SocketDir != "" {
			params.SocketDir = &m.cfg.SocketDir
		}
		if opts != nil {
			if err := params.AddExtension(opts); err != nil {
				return nil, err
			}
		}
		b, err := proto.Marshal(params)
		if err != nil {
			return nil, err
		}
		cmd.Stdin = bytes.NewReader(b)
	}
	return cmd, nil
}

// parseStartResponse reads a shim's answer to "start": a BootstrapResult
// (protobuf from v2.3+ shims, JSON from some), or the bare address older
// shims print.
func parseStartResponse(out []byte) (*bootapi.BootstrapResult, error) {
	var r bootapi.BootstrapResult
	if err := proto.Unmarshal(out, &r); err == nil && r.Address != "" {
		return defaultVersion(&r), nil
	}
	out = bytes.TrimSpace(out)
	if err := json.Unmarshal(out, &r); err == nil && r.Address != "" {
		return defaultVersion(&r), nil
	}
	if len(out) == 0 {
		return nil, errors.New("shim start printed no address")
	}
	return &bootapi.BootstrapResult{Address: string(out), Protocol: "ttrpc", Version: 2}, nil
}

func defaultVersion(r *bootapi.BootstrapResult) *bootapi.BootstrapResult {
	if r.Version < 2 {
		r.Version = 2
	}
	if r.Protocol == "" {
		r.Protocol = "ttrpc"
	}
	return r
}

func isClosed(err error) bool {
	return errors.Is(err, ttrpc.ErrClosed) || strings.Contains(err.Error(), "closed")
}

// WriteBundle writes spec as the bundle dir's config.json, with an empty
// rootfs/ beside it: what a shim starts in.
func WriteBundle(dir string, spec *specs.Spec) error {
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o711); err != nil {
		return err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
}
