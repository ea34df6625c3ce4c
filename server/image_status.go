package server

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ImageStatus describes one image; an image that is not there gives an
// empty response, as CRI specifies.
func (s *ImageService) ImageStatus(_ context.Context, r *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	name := r.GetImage().GetImage()
	if name == "" {
		return nil, invalid("ImageStatus: image must not be empty")
	}
	img, err := s.rt.Images.Get(name)
	if errdefs.IsNotFound(err) {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &runtimeapi.ImageStatusResponse{Image: toCRIImage(&img)}
	if r.GetVerbose() {
		b, err := json.Marshal(verboseImageInfo{ChainID: img.ChainID, ImageSpec: img.Spec, Target: img.Target})
		if err != nil {
			return nil, toStatus(err)
		}
		resp.Info = map[string]string{"info": string(b)}
	}
	return resp, nil
}

// verboseImageInfo is ImageStatus's verbose "info", in containerd's shape.
type verboseImageInfo struct {
	ChainID   string             `json:"chainID"`
	ImageSpec ocispec.Image      `json:"imageSpec"`
	Target    ocispec.Descriptor `json:"target"`
}

// imageUser splits an image config's User into CRI's uid or username:
// "1002" and "1002:50" are uid 1002, "www-data" and "www-data:50" a username.
func imageUser(user string) (*runtimeapi.Int64Value, string) {
	user, _, _ = strings.Cut(user, ":")
	if user == "" {
		return nil, ""
	}
	if uid, err := strconv.ParseInt(user, 10, 64); err == nil {
		return &runtimeapi.Int64Value{Value: uid}, ""
	}
	return nil, user
}
