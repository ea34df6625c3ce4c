package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
)

// Auth is the registry credential of a pull, as CRI's AuthConfig carries it.
type Auth struct {
	Username      string
	Password      string
	Auth          string // base64 of "username:password"
	ServerAddress string
	IdentityToken string
	RegistryToken string
}

// defaultProgressInterval is how often a running pull logs its progress
// unless Options.PullProgressInterval says otherwise.
const defaultProgressInterval = 10 * time.Second

// Pull fetches and unpacks ref, records it under its repo tag, repo digest
// and id, and returns the image. Pulls of the same reference with the same
// credential share one download; a caller that gives up (ctx cancelled) stops
// the download only when no other caller still waits for it.
func (s *Store) Pull(ctx context.Context, ref string, auth *Auth) (Image, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return Image{}, fmt.Errorf("invalid image reference %q: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	key := named.String()
	if auth != nil {
		key += "\x00" + auth.key()
	}
	id, err := s.pulls.do(ctx, key, func(ctx context.Context) (string, error) {
		return s.pull(ctx, named, auth)
	})
	if err != nil {
		return Image{}, err
	}
	return s.Get(id)
}

func (s *Store) pull(ctx context.Context, named reference.Named, auth *Auth) (string, error) {
	ctx = s.nsContext(ctx)
	ref := named.String()
	start := time.Now()
	var progress pullProgress
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go progress.watch(ctx, ref, s.opts.PullProgressInterval, s.opts.PullProgressTimeout, s.extract, cancel)

	var img *Image
	err := s.withPullLease(ctx, func(ctx context.Context) error {
		resolver := docker.NewResolver(docker.ResolverOptions{
			Hosts: config.ConfigureHosts(ctx, config.HostOptions{
				HostDir:      s.hostDir(),
				Credentials:  auth.credentials(),
				UpdateClient: progress.instrument,
			}),
		})
		pulled, err := s.client.Pull(ctx, ref,
			containerd.WithResolver(resolver),
			containerd.WithPlatformMatcher(s.platform),
			containerd.WithPullUnpack,
			containerd.WithPullSnapshotter(s.snapshotter),
			containerd.WithMaxConcurrentDownloads(s.opts.MaxConcurrentDownloads),
			containerd.WithPullLabels(map[string]string{managedLabel: "managed"}),
			containerd.WithUnpackOpts(s.unpackOpts()),
		)
		if err != nil {
			return err
		}
		img, err = s.describe(ctx, pulled.Target())
		if err != nil {
			return err
		}
		return s.record(ctx, img, named)
	})
	if hook := s.onPull.Load(); hook != nil {
		(*hook)(progress.bytes.Load(), time.Since(start), err)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		return "", pullError(ref, s.platformName(), err)
	}
	log.G(ctx).WithField("ref", ref).WithField("id", img.ID).WithField("size", img.Size).
		WithField("bytes_read", progress.bytes.Load()).WithField("duration", time.Since(start).Round(time.Millisecond)).
		Info("pulled image")
	return img.ID, nil
}

// unpackOpts: each layer is unpacked once however many pulls want it, and
// with more than one unpack allowed, the layers of an image are extracted
// in parallel where the snapshotter can rebase them.
func (s *Store) unpackOpts() []containerd.UnpackOpt {
	opts := []containerd.UnpackOpt{containerd.WithUnpackDuplicationSuppressor(s.unpackLocks)}
	if s.unpacks != nil {
		opts = append(opts, containerd.WithUnpackLimiter(s.unpacks))
	}
	return opts
}

// record creates or updates the image records naming img (repo tag, repo
// digest, id), then indexes them.
func (s *Store) record(ctx context.Context, img *Image, named reference.Named) error {
	refs := []string{img.ID}
	if _, ok := named.(reference.Digested); !ok {
		refs = append(refs, named.String())
	}
	if d, err := reference.WithDigest(reference.TrimNamed(named), img.Target.Digest); err == nil {
		refs = append(refs, d.String())
	}
	is := s.imageService()
	err := s.inTx(ctx, func(ctx context.Context) error {
		for _, r := range refs {
			rec := images.Image{Name: r, Target: img.Target, Labels: map[string]string{managedLabel: "managed"}}
			if _, err := is.Create(ctx, rec); err != nil {
				if !errdefs.IsAlreadyExists(err) {
					return fmt.Errorf("record %s: %w", r, err)
				}
				if _, err := is.Update(ctx, rec, "target", "labels."+managedLabel); err != nil {
					return fmt.Errorf("record %s: %w", r, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range refs {
		s.indexLocked(img, r)
	}
	return nil
}

func (s *Store) hostDir() func(string) (string, error) {
	if s.opts.RegistryConfigPath == "" {
		return nil
	}
	return config.HostDirFromRoot(s.opts.RegistryConfigPath)
}

func (s *Store) platformName() string {
	return platforms.FormatAll(platforms.DefaultSpec())
}

// pullError gives a failed pull the error class CRI clients act on.
func pullError(ref, platform string, err error) error {
	var uerr *url.Error
	// Not net.Error: syscall.Errno implements it, and an errno from
	// extraction (no space, BackupWrite unsupported) is no network fault.
	var operr *net.OpError
	var dnserr *net.DNSError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("pull %s: %w", ref, err)
	case strings.Contains(err.Error(), "no match for platform"):
		return fmt.Errorf("image %s has no manifest for platform %s: %w", ref, platform, errdefs.ErrNotFound)
	case errors.As(err, &uerr):
		return fmt.Errorf("registry %s unreachable pulling %s: %v: %w", hostOf(uerr.URL), ref, err, errdefs.ErrUnavailable)
	case errors.As(err, &operr), errors.As(err, &dnserr):
		return fmt.Errorf("registry unreachable pulling %s: %v: %w", ref, err, errdefs.ErrUnavailable)
	case errdefs.IsNotFound(err):
		return fmt.Errorf("image %s not found: %w", ref, err)
	case errdefs.IsUnauthorized(err), errdefs.IsPermissionDenied(err):
		return fmt.Errorf("pull %s: not authorized: %w", ref, err)
	}
	return fmt.Errorf("pull %s: %w", ref, err)
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

// pullProgress counts what a pull reads from registries.
type pullProgress struct {
	bytes    atomic.Int64
	requests atomic.Int64 // in flight
	done     atomic.Int64 // completed requests with a body
}

func (p *pullProgress) instrument(c *http.Client) error {
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		if err != nil || resp.Body == nil {
			return resp, err
		}
		p.requests.Add(1)
		resp.Body = &countingBody{ReadCloser: resp.Body, p: p}
		return resp, nil
	})
	return nil
}

// watch logs progress of a long pull, download and extraction, and cancels
// one that stalls: no byte downloaded nor extracted for timeout while
// something is in flight. Extraction is counted store-wide (x): another
// pull's unpack counts as this one's progress too.
func (p *pullProgress) watch(ctx context.Context, ref string, interval, timeout time.Duration, x *extraction, cancel context.CancelCauseFunc) {
	if interval <= 0 {
		interval = defaultProgressInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last, lastX, lastChange := int64(0), x.bytes.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, xn, applying := p.bytes.Load(), x.bytes.Load(), x.applying.Load()
		if n != last || xn != lastX || (p.requests.Load() == 0 && applying == 0) {
			last, lastX, lastChange = n, xn, time.Now()
		}
		log.G(ctx).WithField("ref", ref).WithField("bytes_read", n).WithField("blobs_done", p.done.Load()).
			WithField("blobs_in_flight", p.requests.Load()).WithField("layers_extracting", applying).
			WithField("bytes_extracted", xn).Info("pulling image")
		if timeout > 0 && time.Since(lastChange) > timeout {
			cancel(fmt.Errorf("no progress for %s: %w", timeout, context.DeadlineExceeded))
			return
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type countingBody struct {
	io.ReadCloser
	p      *pullProgress
	closed atomic.Bool
}

func (b *countingBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	b.p.bytes.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		b.p.requests.Add(-1)
		b.p.done.Add(1)
	}
	return b.ReadCloser.Close()
}

// OnPull sets a function told of every pull's bytes, duration and outcome
// (for metrics).
func (s *Store) OnPull(fn func(bytes int64, d time.Duration, err error)) { s.onPull.Store(&fn) }
