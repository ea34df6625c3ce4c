package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RemoveImage removes an image by id or digest, or one tag of it; removing
// what is not there succeeds.
func (s *ImageService) RemoveImage(ctx context.Context, r *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	name := r.GetImage().GetImage()
	if name == "" {
		return nil, invalid("RemoveImage: image must not be empty")
	}
	if err := s.rt.RemoveImage(ctx, name); err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}
