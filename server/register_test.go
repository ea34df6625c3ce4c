package server

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestRegisterOnAServerWithoutInterceptors: on a gRPC server wincri does not
// own and that recovers nothing (containerd's), a handler that panics answers
// Internal and the server keeps serving, for unary and streaming calls.
func TestRegisterOnAServerWithoutInterceptors(t *testing.T) {
	g := grpc.NewServer()
	Register(g, nil, nil, nil)                 // no runtime: handlers that need one panic
	l, err := net.Listen("tcp", "127.0.0.1:0") // (Wine has no unix sockets)
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(l)
	defer g.Stop()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); status.Code(err) != codes.Internal {
		t.Fatalf("a panicking unary handler: %v, want Internal", err)
	}
	ev, err := rt.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err == nil {
		_, err = ev.Recv()
	}
	if status.Code(err) != codes.Internal {
		t.Fatalf("a panicking stream handler: %v, want Internal", err)
	}
	if _, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); status.Code(err) != codes.Internal {
		t.Fatalf("the server stopped serving after a panic: %v", err)
	}
}
