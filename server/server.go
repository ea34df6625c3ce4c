// Package server is the CRI facade: one file per RPC or RPC group, each
// validating its request, calling the runtime and mapping errors to gRPC codes.
package server

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"time"

	"github.com/containerd/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime"
)

// maxMsgSize matches kubelet's CRI client limit.
const maxMsgSize = 16 << 20

// Server serves the CRI RuntimeService and ImageService.
type Server struct {
	rt   *runtime.Runtime
	grpc *grpc.Server
}

// RuntimeService implements CRI's RuntimeService. RPCs not implemented yet
// answer codes.Unimplemented naming the RPC (from the embedded type).
type RuntimeService struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	rt        *runtime.Runtime
	streaming *Streaming
}

// ImageService implements CRI's ImageService.
type ImageService struct {
	runtimeapi.UnimplementedImageServiceServer
	rt *runtime.Runtime
}

// New builds a server over rt with both CRI services registered; st
// serves their streaming sessions, m (optional) records call metrics.
func New(rt *runtime.Runtime, st *Streaming, m *Metrics) *Server {
	g := grpc.NewServer(grpc.MaxRecvMsgSize(maxMsgSize), grpc.MaxSendMsgSize(maxMsgSize))
	Register(g, rt, st, m)
	return &Server{rt: rt, grpc: g}
}

// Register registers the CRI services on g, each handler wrapped in
// wincri's own panic recovery, call log and metrics (m, optional): they do
// not depend on the server's interceptors, so the service can be plugged
// into a gRPC server wincri does not own (containerd's has none, and a
// panic there would take the whole daemon down).
func Register(g grpc.ServiceRegistrar, rt *runtime.Runtime, st *Streaming, m *Metrics) {
	unary := []grpc.UnaryServerInterceptor{unaryRecover, unaryLog}
	if m != nil {
		unary = append(unary, m.interceptor)
	}
	g.RegisterService(wrapped(&runtimeapi.RuntimeService_ServiceDesc, chainUnary(unary)), &RuntimeService{rt: rt, streaming: st})
	g.RegisterService(wrapped(&runtimeapi.ImageService_ServiceDesc, chainUnary(unary)), &ImageService{rt: rt})
}

// chainUnary runs interceptors in order around a handler.
func chainUnary(in []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		for i := len(in) - 1; i >= 0; i-- {
			next, ic := h, in[i]
			h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
		}
		return h(ctx, req)
	}
}

// wrapped is a copy of a service description whose handlers run inside
// mine, and inside whatever interceptor the server adds around that.
func wrapped(desc *grpc.ServiceDesc, mine grpc.UnaryServerInterceptor) *grpc.ServiceDesc {
	d := *desc
	d.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		h := m.Handler
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, outer grpc.UnaryServerInterceptor) (any, error) {
			return h(srv, ctx, dec, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				inner := func(ctx context.Context, req any) (any, error) { return mine(ctx, req, info, handler) }
				if outer == nil {
					return inner(ctx, req)
				}
				return outer(ctx, req, info, inner)
			})
		}
		d.Methods[i] = m
	}
	d.Streams = make([]grpc.StreamDesc, len(desc.Streams))
	for i, sd := range desc.Streams {
		h, info := sd.Handler, &grpc.StreamServerInfo{FullMethod: "/" + desc.ServiceName + "/" + sd.StreamName, IsServerStream: sd.ServerStreams, IsClientStream: sd.ClientStreams}
		sd.Handler = func(srv any, ss grpc.ServerStream) error { return streamRecover(srv, ss, info, h) }
		d.Streams[i] = sd
	}
	return &d
}

// Serve accepts CRI connections on l until Stop.
func (s *Server) Serve(l net.Listener) error { return s.grpc.Serve(l) }

// Stop finishes the calls in flight (for at most timeout) and stops.
func (s *Server) Stop(timeout time.Duration) {
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		s.grpc.Stop()
	}
}

// unaryRecover turns a panic in a handler into codes.Internal; the daemon
// lives on.
func unaryRecover(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.G(ctx).WithField("method", info.FullMethod).Errorf("panic in CRI handler: %v\n%s", p, debug.Stack())
			resp, err = nil, status.Errorf(codes.Internal, "%s: internal error: %v", info.FullMethod, p)
		}
	}()
	return h(ctx, req)
}

func streamRecover(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.G(ss.Context()).WithField("method", info.FullMethod).Errorf("panic in CRI handler: %v\n%s", p, debug.Stack())
			err = status.Errorf(codes.Internal, "%s: internal error: %v", info.FullMethod, p)
		}
	}()
	return h(srv, ss)
}

// unaryLog logs each call at debug level with its latency, and failures that
// are the runtime's fault at warn level.
func unaryLog(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	code := status.Code(err)
	failed := code == codes.Internal || code == codes.Unknown
	if !failed && log.GetLevel() < log.DebugLevel {
		return resp, err // nothing to log: no entry built on the hot path
	}
	entry := log.G(ctx).WithField("method", info.FullMethod).WithField("latency", time.Since(start))
	if err != nil {
		entry = entry.WithError(err)
	}
	if failed {
		entry.Warn("CRI call failed")
		return resp, err
	}
	entry.WithField("request", fmt.Sprintf("%v", req)).Debug("CRI call")
	return resp, err
}
