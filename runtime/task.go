package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/typeurl/v2"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wincri/wincri/runtime/cio"
	"github.com/wincri/wincri/runtime/failpoint"
	"github.com/wincri/wincri/runtime/images"
	"github.com/wincri/wincri/runtime/shim"
)

// nsCtx puts the containerd namespace the snapshots live in on ctx.
func nsCtx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, images.Namespace)
}

// ownerLabel marks the snapshots wincri made (container root filesystems),
// so that its sweep of orphans never touches another client's.
const (
	ownerLabel = "io.wincri.owner"
	ownerValue = "wincri"
)

// prepareSnapshot creates the container's writable snapshot over the image
// (key = id) and returns the rootfs mounts the shim is to mount. Spec
// generation may read the image's /etc/passwd through it.
func (r *Runtime) prepareSnapshot(ctx context.Context, id, chainID string, opts ...snapshots.Opt) ([]*types.Mount, error) {
	ctx = nsCtx(ctx)
	sn := r.Images.Client().SnapshotService(r.Images.Snapshotter())
	labels := map[string]string{"containerd.io/gc.root": time.Now().UTC().Format(time.RFC3339), ownerLabel: ownerValue}
	mounts, err := sn.Prepare(ctx, id, chainID, append(opts, snapshots.WithLabels(labels))...)
	if errdefs.IsAlreadyExists(err) {
		mounts, err = sn.Mounts(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("prepare rootfs snapshot: %w", err)
	}
	out := make([]*types.Mount, 0, len(mounts))
	for _, m := range mounts {
		out = append(out, &types.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: m.Options})
	}
	return out, nil
}

// snapshotMounts are the rootfs mounts of a prepared snapshot.
func (r *Runtime) snapshotMounts(ctx context.Context, key string) ([]*types.Mount, error) {
	ms, err := r.Images.Client().SnapshotService(r.Images.Snapshotter()).Mounts(nsCtx(ctx), key)
	if err != nil {
		return nil, fmt.Errorf("rootfs snapshot %s: %w", key, err)
	}
	out := make([]*types.Mount, 0, len(ms))
	for _, m := range ms {
		out = append(out, &types.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: m.Options})
	}
	return out, nil
}

// writeBundle writes the container's bundle: config.json and rootfs/.
func (r *Runtime) writeBundle(id string, spec *specs.Spec) error {
	return shim.WriteBundle(r.bundleDir(id), spec)
}

// removeBundleLater removes a removed container's snapshot and bundle in
// the background, retrying until that succeeds (see cleanup.Queue).
func (r *Runtime) removeBundleLater(ctx context.Context, podID, id string, spec *specs.Spec) {
	r.cleanups.Add(ctx, podID, "container "+id, func(ctx context.Context) error { return r.removeBundle(ctx, id, spec) })
}

// RemoveImage removes an image (images.Store.Remove) once the snapshots of
// removed containers are gone (or failed a first time), so that its layers
// are collected with it. A container whose removal keeps failing holds its
// snapshot's parents until it succeeds; the image's names go now.
func (r *Runtime) RemoveImage(ctx context.Context, name string) error {
	logErr(ctx, r.cleanups.Wait(ctx, ""), "removed containers still being cleaned up", "image", name)
	return r.Images.Remove(ctx, name)
}

// removeBundle removes a container's snapshot, bundle and empty cgroup;
// what is already gone is not an error. spec is the bundle's, when the
// caller holds it (else it is read from the bundle).
func (r *Runtime) removeBundle(ctx context.Context, id string, spec *specs.Spec) error {
	sn := r.Images.Client().SnapshotService(r.Images.Snapshotter())
	err := sn.Remove(nsCtx(ctx), id)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove snapshot %s: %w", id, err)
	}
	if err == nil {
		r.Images.GCSoon() // the snapshot's directory goes with the next collection
	}
	if err := r.removeImageVolumes(ctx, id); err != nil {
		return fmt.Errorf("remove image volumes of %s: %w", id, err)
	}
	// A shim that died (or was shut down) with the task still there leaves
	// the rootfs mounted.
	if err := unmountAll(filepath.Join(r.bundleDir(id), "rootfs")); err != nil {
		return err
	}
	if spec == nil {
		spec = r.readSpec(id)
	}
	removeCgroup(spec)
	if err := os.RemoveAll(r.bundleDir(id)); err != nil {
		return err
	}
	if err := os.RemoveAll(r.containerDir(id)); err != nil {
		return err
	}
	return os.RemoveAll(r.ioDir(id))
}

// createTask creates the container's task in the shim and returns its pid.
func createTask(ctx context.Context, s *shim.Shim, h handler, id, bundle string, rootfs []*types.Mount, st cio.Streams) (uint32, error) {
	req := &taskapi.CreateTaskRequest{
		ID: id, Bundle: bundle, Rootfs: rootfs,
		Terminal: st.Terminal, Stdin: st.Stdin, Stdout: st.Stdout, Stderr: st.Stderr,
	}
	if h.opts != nil {
		opts, err := typeurl.MarshalAnyToProto(h.opts)
		if err != nil {
			return 0, err
		}
		req.Options = opts
	}
	// The shim's create runs runc to the end whatever the client does: a
	// call cut short here would leave a runc init and its cgroups the task
	// table does not hold (so no delete could find them). It finishes or
	// fails on its own, within taskCallTimeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), taskCallTimeout)
	defer cancel()
	// Only our death cuts it short: the marker tells the next start to
	// clean up after a create it cannot ask the shim about.
	marker := filepath.Join(bundle, createBegun)
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return 0, err
	}
	failpoint.Crash("task-create-begun")
	resp, err := s.Task.Create(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("create task %s: %w", id, errgrpcFromShim(err))
	}
	// The task exists: a marker left behind costs only a needless delete.
	logErr(ctx, os.Remove(marker), "remove create marker", "id", id)
	return resp.Pid, nil
}

// createBegun, in a bundle, marks a task create that has not returned
// (cleanupInterruptedCreate). A shim that loses its client while creating
// may give up on the task without undoing it: runc's shim leaves a waiting
// "runc init" and its cgroup; hcsshim's, whose create fails when it cannot
// publish the task's create event, leaves the compute system and its
// mounted scratch layer.
const createBegun = "create-begun"

// taskCallTimeout bounds a task create or start that no client deadline
// may cut short.
const taskCallTimeout = 2 * time.Minute

// exitStatus is how a task ended.
type exitStatus struct {
	code int32
	at   time.Time
	err  error // the wait failed: the shim died or the connection broke
}

// waitTask blocks until the task (or exec process) exits.
func waitTask(ctx context.Context, s *shim.Shim, id, execID string) exitStatus {
	resp, err := s.Task.Wait(ctx, &taskapi.WaitRequest{ID: id, ExecID: execID})
	if err != nil {
		return exitStatus{code: 255, at: time.Now(), err: err}
	}
	at := time.Now()
	if resp.ExitedAt != nil {
		at = resp.ExitedAt.AsTime()
	}
	return exitStatus{code: int32(resp.ExitStatus), at: at}
}

// killTask signals the task's processes (all of them with all).
func killTask(ctx context.Context, s *shim.Shim, id string, sig uint32, all bool) error {
	_, err := s.Task.Kill(ctx, &taskapi.KillRequest{ID: id, Signal: sig, All: all})
	if err != nil {
		err = errgrpcFromShim(err)
		if errdefs.IsNotFound(err) {
			return nil
		}
	}
	return err
}

// deleteTask removes the task from the shim (its runc container and rootfs mount).
func deleteTask(ctx context.Context, s *shim.Shim, id string) error {
	_, err := s.Task.Delete(ctx, &taskapi.DeleteRequest{ID: id})
	if err != nil {
		err = errgrpcFromShim(err)
		if errdefs.IsNotFound(err) {
			return nil
		}
	}
	return err
}

// errgrpcFromShim turns a shim's ttrpc status error into an errdefs error.
func errgrpcFromShim(err error) error {
	if err == nil {
		return nil
	}
	return errgrpc.ToNative(err)
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// startTask starts a created task and returns its pid.
func startTask(ctx context.Context, s *shim.Shim, id string) (uint32, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), taskCallTimeout) // as createTask
	defer cancel()
	resp, err := s.Task.Start(ctx, &taskapi.StartRequest{ID: id})
	if err != nil {
		return 0, fmt.Errorf("start task %s: %w", id, errgrpcFromShim(err))
	}
	return resp.Pid, nil
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
