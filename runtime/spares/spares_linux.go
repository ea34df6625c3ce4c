package spares

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/log"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/failpoint"
	"github.com/wincri/wincri/runtime/shim"
)

// Pool keeps one started, idle shim per runtime handler that has run
// a pod, so that RunPodSandbox does not wait for a shim to start (two execs
// of the shim binary, 60-80 ms on a busy node, most of a pause pod's
// critical path besides runc). A runtime-v2 shim is not bound to a pod
// until it creates a task: it reads only the annotations of the bundle it
// starts in, and a spare starts in one that names no pod.
//
// A spare lives in its own directory under <state>/spares: its working
// directory, which holds its log fifo, its socket's address file and its
// record (shim.pb). A pod takes it by renaming that directory to the pod's
// bundle: the shim's working directory moves with it, so the shim's later
// "delete" and a reattach after a restart find everything where a shim
// started for that pod would have it. A spare that a crash leaves behind
// is shut down at the next start (reap).
//
// Spares are made of idle time: one starts only once no pod or container
// has started or stopped for spareQuiet, so pods started back to back
// start their own shims as without spares, and a pod that comes after a
// pause finds one ready.
//
// There is never more than one spare per handler: a spare counts from the
// moment its start is planned until a pod owns it or it is shut down, and
// no spare starts before those a crash left behind are shut down.
type Pool struct {
	cfg    Config
	mu     sync.Mutex
	slots  map[string]*spareSlot // by handler name: a spare starting or ready
	alive  map[string]int        // by handler name: spares planned, starting, ready or being shut down
	closed bool
	// reaped is closed once the spares a crash left are shut down.
	reaped chan struct{}
	// wg counts every goroutine that starts or shuts down a spare: close
	// waits for them, so none outlives the daemon.
	wg sync.WaitGroup
}

// spareSlot is a spare being started; s is set (nil if the start failed)
// before done closes. A pod may claim it while it starts: the wait is
// shorter than starting a shim of its own.
type spareSlot struct {
	done  chan struct{}
	s     *Spare
	begun bool // the start began: a pod may wait for it
}

// Spare is a started, idle shim; Shim is its connection.
type Spare struct {
	id, dir string
	Shim    *shim.Shim
}

const (
	spareRecord  = "shim.pb"
	spareHandler = "handler"
)

// New returns a pool with no spares yet.
func New(cfg Config) *Pool {
	reaped := make(chan struct{})
	close(reaped) // until Reap finds spares to shut down
	return &Pool{cfg: cfg, slots: map[string]*spareSlot{},
		alive: map[string]int{}, reaped: reaped}
}

// release ends a spare's count (a pod owns it, or it is shut down, or its
// start failed).
func (sp *Pool) release(h string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.releaseLocked(h)
}

func (sp *Pool) releaseLocked(h string) {
	if sp.alive[h]--; sp.alive[h] <= 0 {
		delete(sp.alive, h)
	}
}

// spareClaimWait bounds how long a pod waits for a spare still starting (a
// start takes 50-100 ms) before it starts a shim of its own.
const spareClaimWait = 2 * time.Second

// Take hands the spare of h to the pod whose bundle is bundle, waiting for
// it if it is still starting: its record (Bundle set to bundle) is what the
// caller persists before calling Adopt. It returns nil when there is no spare
// (none started yet, or another pod took it).
func (sp *Pool) Take(ctx context.Context, h Handler, bundle string) *Spare {
	sp.mu.Lock()
	slot := sp.slots[h.Name]
	if sp.closed || slot == nil || !slot.begun {
		sp.mu.Unlock()
		return nil
	}
	delete(sp.slots, h.Name) // claimed
	sp.mu.Unlock()
	wait := time.NewTimer(spareClaimWait)
	defer wait.Stop()
	select {
	case <-slot.done:
	case <-ctx.Done():
	case <-wait.C:
	}
	select {
	case <-slot.done:
	default: // the caller starts its own shim; nobody else will take this one
		abandon := func() {
			<-slot.done
			if slot.s != nil {
				sp.Discard(context.Background(), slot.s)
			}
			sp.release(h.Name)
		}
		sp.mu.Lock()
		if !sp.closed { // close waits for it
			sp.wg.Go(abandon)
			sp.mu.Unlock()
			return nil
		}
		sp.mu.Unlock()
		abandon()
		return nil
	}
	s := slot.s
	if s == nil {
		return nil // its start failed (and released it)
	}
	select {
	case <-s.Shim.Dead():
		log.G(ctx).WithField("spare", s.id).Warn("spare shim died while idle; starting the pod's shim instead")
		sp.Discard(ctx, s)
		sp.release(h.Name)
		return nil
	default:
	}
	sp.release(h.Name) // the pod's now
	info := proto.Clone(s.Shim.Info).(*records.Shim)
	info.Bundle = bundle
	s.Shim.Info = info
	return s
}

// Adopt moves the spare's directory to the pod's bundle. On failure the
// spare is shut down and the caller starts a shim of its own.
func (sp *Pool) Adopt(ctx context.Context, s *Spare) error {
	failpoint.Crash("spare-before-adopt")
	err := os.MkdirAll(filepath.Dir(s.Shim.Info.Bundle), 0o711)
	if err == nil {
		err = os.Rename(s.dir, s.Shim.Info.Bundle)
	}
	failpoint.Crash("spare-after-adopt")
	if err != nil {
		sp.Discard(ctx, s)
		return fmt.Errorf("adopt spare shim %s: %w", s.id, err)
	}
	log.G(ctx).WithField("spare", s.id).WithField("bundle", s.Shim.Info.Bundle).Debug("pod took a spare shim")
	return nil
}

// Refill starts a spare for h in the background, at the next quiet moment,
// unless one exists in any stage (waiting, starting, ready, claimed by a
// pod that has not yet got it, being shut down). RunPodSandbox calls it.
func (sp *Pool) Refill(h Handler) {
	if !sp.cfg.Enabled || !spareable(h) {
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed || sp.alive[h.Name] > 0 {
		return
	}
	slot := &spareSlot{done: make(chan struct{})}
	sp.slots[h.Name] = slot
	sp.alive[h.Name]++
	reaped := sp.reaped
	sp.wg.Go(func() {
		defer close(slot.done)
		<-reaped
		if !sp.waitQuiet(slot) {
			sp.release(h.Name)
			return
		}
		s, err := sp.start(h)
		sp.mu.Lock()
		defer sp.mu.Unlock()
		slot.s = s
		if err != nil {
			log.L.WithError(err).WithField("handler", h.Name).Warn("could not start a spare shim")
			if sp.slots[h.Name] == slot {
				delete(sp.slots, h.Name)
			}
			sp.releaseLocked(h.Name)
		}
	})
}

// spareQuiet is how long no pod or container may have started or stopped
// before a spare starts. Starting one forks and execs the shim twice, which
// slows a concurrent runc (its cgroup writes wait for the forks) by more
// than a spare saves a pod: spares are made of idle time, not of pods'.
const spareQuiet = 100 * time.Millisecond

// waitQuiet waits until the runtime has been quiet for spareQuiet and marks
// slot begun; false if the pool closed meanwhile.
func (sp *Pool) waitQuiet(slot *spareSlot) bool {
	for {
		sp.mu.Lock()
		closed := sp.closed
		quiet := !closed && sp.cfg.Quiet(spareQuiet)
		if quiet {
			slot.begun = true
		}
		sp.mu.Unlock()
		if closed || quiet {
			return quiet
		}
		time.Sleep(spareQuiet / 4)
	}
}

func (sp *Pool) start(h Handler) (*Spare, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := "spare-" + newID()
	dir := filepath.Join(sp.cfg.Dir, id)
	// The handler first: a crash during the start leaves a directory
	// whose shim reap must still find.
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, spareHandler), []byte(h.Name), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := shim.WriteBundle(dir, spareSpec()); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s, err := sp.cfg.Shims.Start(ctx, id, h.Shim, dir, h.Opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	rec := &Spare{id: id, dir: dir, Shim: s}
	// A round trip: the shim serves once it opened its log fifo. One taken
	// and then left by a crash before that would wait for a reader of the
	// fifo in this directory forever, and answer no Shutdown.
	_, err = s.Task.Connect(ctx, &taskapi.ConnectRequest{ID: id})
	var b []byte
	if err == nil {
		b, err = proto.Marshal(s.Info)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, spareRecord), b, 0o600)
	}
	if err != nil {
		sp.Discard(ctx, rec)
		return nil, err
	}
	return rec, nil
}

// spareable: only runc's v2 shim is known to start the same for every pod.
// Others (kata, gVisor) read the pod's spec at start (a VM, a sandbox) and
// start their own shim as before.
func spareable(h Handler) bool { return filepath.Base(h.Shim) == "containerd-shim-runc-v2" }

// newID is a random 16-hex-digit id.
func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// warnIf logs err, if any, as a warning about the spare id.
func warnIf(ctx context.Context, err error, msg, id string) {
	if err != nil {
		log.G(ctx).WithError(err).WithField("spare", id).Warn(msg)
	}
}

// spareSpec is the bundle a spare starts in: it names no pod, so the shim
// groups nothing under it (its socket is named after the spare's id).
func spareSpec() *specs.Spec { return &specs.Spec{Version: specs.Version} }

// spareShutdownTimeout bounds the wait for a spare's Shutdown (an idle
// shim answers at once): one that does not answer is killed, and must not
// hold up a stop of the daemon or the next spare for long.
const spareShutdownTimeout = 2 * time.Second

// Discard shuts a spare down and removes its directory. A spare that does
// not shut down (hung, stopped) is killed: it serves no pod, and a new spare
// may start only once it is gone.
func (sp *Pool) Discard(ctx context.Context, s *Spare) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), spareShutdownTimeout)
	defer cancel()
	warnIf(ctx, s.Shim.Shutdown(ctx, s.id), "shut down spare shim", s.id)
	if !shim.Gone(s.Shim.Info, time.Second) {
		for _, pid := range processesIn(s.dir) {
			log.G(ctx).WithField("spare", s.id).WithField("pid", pid).Warn("spare shim does not shut down; killing it")
			warnIf(ctx, killWait(pid, time.Second), "kill spare shim", s.id)
		}
	}
	warnIf(ctx, os.RemoveAll(s.dir), "remove spare shim directory", s.id)
}

// processesIn lists the processes working in dir: a spare shim works in
// its own directory, which no other process of this daemon uses.
func processesIn(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killWait kills pid and waits up to d for it to be gone (or a zombie).
func killWait(pid int, d time.Duration) error {
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		return err
	}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return nil
		}
	}
	return fmt.Errorf("pid %d still there %s after SIGKILL", pid, d)
}

// Close shuts the spares no pod claimed down (the daemon stops; pods'
// shims stay), and waits for every spare being started or shut down.
func (sp *Pool) Close() {
	sp.mu.Lock()
	sp.closed = true
	slots := sp.slots
	sp.slots = map[string]*spareSlot{}
	sp.mu.Unlock()
	sp.wg.Wait()
	for h, slot := range slots {
		if slot.s != nil {
			sp.Discard(context.Background(), slot.s)
			sp.release(h)
		}
	}
}

// Reap shuts down the spares a crash left behind, in the background: they
// serve no pod, so the restart does not wait for them. They are listed now,
// before a new spare can start. One whose start the crash interrupted is
// started again in its directory: the shim then answers with the address of
// the one that runs (or starts one), which is shut down.
func (sp *Pool) Reap(ctx context.Context) {
	entries, _ := os.ReadDir(sp.cfg.Dir)
	if len(entries) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	reaped := make(chan struct{})
	sp.mu.Lock()
	sp.reaped = reaped // no spare starts before these are gone
	sp.mu.Unlock()
	sp.wg.Go(func() {
		defer close(reaped)
		for _, e := range entries {
			id, dir := e.Name(), filepath.Join(sp.cfg.Dir, e.Name())
			s, err := sp.reach(ctx, id, dir)
			if err != nil {
				log.G(ctx).WithError(err).WithField("spare", id).Warn("could not reach a spare shim left by a crash")
			}
			if s == nil {
				warnIf(ctx, os.RemoveAll(dir), "remove spare shim directory", id)
				continue
			}
			log.G(ctx).WithField("spare", id).Info("shutting down a spare shim left by a crash")
			sp.Discard(ctx, &Spare{id: id, dir: dir, Shim: s})
		}
	})
}

// reach connects to the spare shim a crash left in dir: nil if it is gone
// or never started.
func (sp *Pool) reach(ctx context.Context, id, dir string) (*shim.Shim, error) {
	if b, err := os.ReadFile(filepath.Join(dir, spareRecord)); err == nil {
		info := &records.Shim{}
		if err := proto.Unmarshal(b, info); err != nil {
			return nil, err
		}
		s, err := sp.cfg.Shims.Connect(ctx, id, info)
		if err != nil {
			return nil, nil // gone
		}
		return s, nil
	}
	name, err := os.ReadFile(filepath.Join(dir, spareHandler))
	if err != nil {
		return nil, nil // the crash came before the start
	}
	h, err := sp.cfg.Handler(strings.TrimSpace(string(name)))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, spareShutdownTimeout)
	defer cancel()
	return sp.cfg.Shims.Start(ctx, id, h.Shim, dir, h.Opts)
}
