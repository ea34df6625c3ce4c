package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/cio"
	"github.com/wincri/wincri/runtime/shim"
)

// pod is a pod sandbox in memory. mu serializes its lifecycle operations;
// rec is read and replaced under mu.
type pod struct {
	mu  sync.Mutex
	rec *records.Pod
	cfg *runtimeapi.PodSandboxConfig
	// shim is the pod's shim, nil when the sandbox is not running. It is
	// atomic so container operations read it without taking mu.
	shim   atomic.Pointer[shim.Shim]
	exited chan struct{} // closed when the pause process has exited
}

// container is a container in memory, guarded like pod.
type container struct {
	mu     sync.Mutex
	rec    *records.Container
	cfg    *runtimeapi.ContainerConfig
	podID  string
	logger *cio.Logger
	exited chan struct{} // closed once the exit is recorded; nil until started
	// spec is the container's OCI spec (as in its bundle), read once.
	spec atomic.Pointer[specs.Spec]
}

func (p *pod) snapshot() *records.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	return proto.Clone(p.rec).(*records.Pod)
}

func (c *container) snapshot() *records.Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	return proto.Clone(c.rec).(*records.Container)
}

// newID returns a random 64-hex-character id, like containerd's.
func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// allPods, allContainers and objects copy the object maps under r.mu, so
// that callers work on each object without holding r.mu.
func (r *Runtime) allPods() []*pod {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Collect(maps.Values(r.pods))
}

func (r *Runtime) allContainers() []*container {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Collect(maps.Values(r.ctrs))
}

// objects is both, as one consistent view.
func (r *Runtime) objects() ([]*pod, []*container) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Collect(maps.Values(r.pods)), slices.Collect(maps.Values(r.ctrs))
}

// lookupPod finds a pod by id or unique id prefix.
func (r *Runtime) lookupPod(id string) (*pod, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return lookup(r.pods, "pod sandbox", id)
}

// lookupContainer finds a container by id or unique id prefix.
func (r *Runtime) lookupContainer(id string) (*container, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return lookup(r.ctrs, "container", id)
}

// ifKnown makes a lookup's NotFound a (nil, nil), for the calls CRI makes
// idempotent (stop and remove of what is gone succeed).
func ifKnown[T any](v *T, err error) (*T, error) {
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}

// lookup finds an object by id or unique id prefix, as crictl users type
// them; the caller holds r.mu.
func lookup[T any](m map[string]*T, kind, id string) (*T, error) {
	if id == "" {
		return nil, fmt.Errorf("%s id must not be empty: %w", kind, errdefs.ErrInvalidArgument)
	}
	if v, ok := m[id]; ok {
		return v, nil
	}
	var found *T
	for k, v := range m {
		if strings.HasPrefix(k, id) {
			if found != nil {
				return nil, fmt.Errorf("%s id prefix %q is ambiguous: %w", kind, id, errdefs.ErrInvalidArgument)
			}
			found = v
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%s %q: %w", kind, id, errdefs.ErrNotFound)
	}
	return found, nil
}

// reserveName claims a pod or container name for id; a name held by
// another object is AlreadyExists.
func (r *Runtime) reserveName(name, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if owner, ok := r.names[name]; ok && owner != id {
		return fmt.Errorf("name %q is already used by %s: %w", name, owner, errdefs.ErrAlreadyExists)
	}
	r.names[name] = id
	return nil
}

func (r *Runtime) releaseName(name, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] == id {
		delete(r.names, name)
	}
}

func podName(m *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("%s_%s_%s_%d", m.GetName(), m.GetNamespace(), m.GetUid(), m.GetAttempt())
}

func containerName(m *runtimeapi.ContainerMetadata, podID string) string {
	return fmt.Sprintf("%s_%s_%d", m.GetName(), podID, m.GetAttempt())
}

// podContainers returns the containers of a pod, oldest first.
func (r *Runtime) podContainers(podID string) []*container {
	r.mu.RLock()
	var out []*container
	for _, c := range r.ctrs {
		if c.podID == podID {
			out = append(out, c)
		}
	}
	r.mu.RUnlock()
	created := make(map[*container]int64, len(out))
	for _, c := range out {
		c.mu.Lock()
		created[c] = c.rec.CreatedAt
		c.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return created[out[i]] < created[out[j]] })
	return out
}

// matchLabels reports whether labels has every pair of selector.
func matchLabels(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Counts are the pods and containers by state, the shims connected, and
// the background removals of removed containers' files: failed attempts
// retried, and those not yet done.
type Counts struct {
	Pods, Containers map[string]int
	Shims            int
	CleanupRetries   uint64
	CleanupsPending  int
}

// Counts counts what the runtime holds (for the metrics endpoint).
func (r *Runtime) Counts() Counts {
	c := Counts{Pods: map[string]int{}, Containers: map[string]int{}}
	pods, ctrs := r.objects()
	for _, p := range pods {
		c.Pods[podState(p.snapshot().State).String()]++
		if p.shim.Load() != nil {
			c.Shims++
		}
	}
	for _, ct := range ctrs {
		c.Containers[containerState(ct.snapshot().State).String()]++
	}
	c.CleanupRetries, c.CleanupsPending = r.cleanups.Retries(), r.cleanups.Pending()
	return c
}

// phases times the steps of a long operation, for its log line.
type phases struct {
	last  time.Time
	steps []string
}

func newPhases() *phases { return &phases{last: time.Now()} }

func (p *phases) mark(name string) {
	now := time.Now()
	p.steps = append(p.steps, fmt.Sprintf("%s=%s", name, now.Sub(p.last).Round(100*time.Microsecond)))
	p.last = now
}

func (p *phases) String() string { return strings.Join(p.steps, " ") }
