package server

import (
	"context"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/images"
)

// ListImages lists images, or the one image the filter names.
func (s *ImageService) ListImages(_ context.Context, r *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	if name := r.GetFilter().GetImage().GetImage(); name != "" {
		img, err := s.rt.Images.Get(name)
		if errdefs.IsNotFound(err) {
			return &runtimeapi.ListImagesResponse{}, nil
		}
		if err != nil {
			return nil, toStatus(err)
		}
		return &runtimeapi.ListImagesResponse{Images: []*runtimeapi.Image{toCRIImage(&img)}}, nil
	}
	all := s.rt.Images.List()
	resp := &runtimeapi.ListImagesResponse{Images: make([]*runtimeapi.Image, 0, len(all))}
	for i := range all {
		resp.Images = append(resp.Images, toCRIImage(&all[i]))
	}
	return resp, nil
}

// toCRIImage converts an image of the store to CRI's form.
func toCRIImage(img *images.Image) *runtimeapi.Image {
	out := &runtimeapi.Image{
		Id:          img.ID,
		RepoTags:    img.RepoTags(),
		RepoDigests: img.RepoDigests(),
		Size:        uint64(img.Size),
		Pinned:      img.Pinned,
	}
	out.Uid, out.Username = imageUser(img.Spec.Config.User)
	return out
}
