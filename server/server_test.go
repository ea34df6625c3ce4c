package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestEveryCRIRPCIsRegistered(t *testing.T) {
	g := grpc.NewServer()
	Register(g, nil, nil, nil)
	info := g.GetServiceInfo()
	n := len(info["runtime.v1.RuntimeService"].Methods) + len(info["runtime.v1.ImageService"].Methods)
	// cri-api v0.37.2: 37 RuntimeService + 6 ImageService RPCs (the streaming
	// List variants included).
	if n != 43 {
		t.Fatalf("%d CRI RPCs registered, want 43 (services: %v)", n, info)
	}
}

func TestUnimplementedRPCNamesItself(t *testing.T) {
	_, err := (&RuntimeService{}).CheckpointContainer(context.Background(), &runtimeapi.CheckpointContainerRequest{})
	if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "CheckpointContainer") {
		t.Fatalf("got %v", err)
	}
}

func TestPanicInHandlerBecomesInternal(t *testing.T) {
	info := &grpc.UnaryServerInfo{FullMethod: "/runtime.v1.RuntimeService/Boom"}
	_, err := unaryRecover(context.Background(), nil, info, func(context.Context, any) (any, error) {
		var m map[string]int
		m["x"] = 1 // nil map write: a real runtime panic
		return nil, nil
	})
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "Boom") {
		t.Fatalf("got %v", err)
	}
}

func TestToStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("x: %w", errdefs.ErrNotFound), codes.NotFound},
		{fmt.Errorf("x: %w", errdefs.ErrInvalidArgument), codes.InvalidArgument},
		{fmt.Errorf("x: %w", errdefs.ErrAlreadyExists), codes.AlreadyExists},
		{fmt.Errorf("x: %w", errdefs.ErrFailedPrecondition), codes.FailedPrecondition},
		{fmt.Errorf("x: %w", errdefs.ErrUnavailable), codes.Unavailable},
		{fmt.Errorf("x: %w", context.Canceled), codes.Canceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{status.Error(codes.ResourceExhausted, "kept"), codes.ResourceExhausted},
		{errors.New("plain"), codes.Unknown},
	} {
		got := toStatus(tc.err)
		if status.Code(got) != tc.code || !strings.Contains(got.Error(), strings.TrimPrefix(tc.err.Error(), "rpc error: ")) {
			t.Errorf("toStatus(%v) = %v, want code %v keeping the message", tc.err, got, tc.code)
		}
	}
	if toStatus(nil) != nil {
		t.Error("toStatus(nil) != nil")
	}
}

func TestImageUser(t *testing.T) {
	for in, want := range map[string]string{"": "<nil>/", "1002": "1002/", "1003:1004": "1003/", "www-data": "<nil>/www-data", "www-data:1004": "<nil>/www-data"} {
		uid, name := imageUser(in)
		got := "<nil>/" + name
		if uid != nil {
			got = fmt.Sprintf("%d/%s", uid.Value, name)
		}
		if got != want {
			t.Errorf("imageUser(%q) = %s, want %s", in, got, want)
		}
	}
}
