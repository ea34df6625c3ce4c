package server

import (
	"context"
	"errors"

	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// toStatus maps a runtime error to the gRPC status CRI clients act on,
// keeping its message. Errors of unknown kind become codes.Unknown.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errdefs.IsNotImplemented(err):
		return status.Error(codes.Unimplemented, err.Error())
	}
	return errgrpc.ToGRPC(err)
}

// invalid is codes.InvalidArgument with a message.
func invalid(msg string) error { return status.Error(codes.InvalidArgument, msg) }
