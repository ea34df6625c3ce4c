//go:build linux

package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

func pull(t testing.TB, d *testutil.Daemon, ref string) string {
	t.Helper()
	resp, err := d.Images.PullImage(testutil.Ctx(t), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		t.Fatalf("PullImage %s: %v", ref, err)
	}
	return resp.ImageRef
}

func imageStatus(t *testing.T, d *testutil.Daemon, name string) *runtimeapi.Image {
	t.Helper()
	resp, err := d.Images.ImageStatus(testutil.Ctx(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: name}})
	if err != nil {
		t.Fatalf("ImageStatus %s: %v", name, err)
	}
	return resp.Image
}

func listImages(t *testing.T, d *testutil.Daemon) []*runtimeapi.Image {
	t.Helper()
	resp, err := d.Images.ListImages(testutil.Ctx(t), &runtimeapi.ListImagesRequest{})
	if err != nil {
		t.Fatalf("ListImages: %v", err)
	}
	return resp.Images
}

func removeImage(t *testing.T, d *testutil.Daemon, name string) {
	t.Helper()
	if _, err := d.Images.RemoveImage(testutil.Ctx(t), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: name}}); err != nil {
		t.Fatalf("RemoveImage %s: %v", name, err)
	}
}

func digestOf(t *testing.T, img v1.Image) (manifest, config string, layers []string) {
	t.Helper()
	m, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	c, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, d.String())
	}
	return m.String(), c.String(), layers
}

func TestPullThroughMirrorAndStatusByEveryName(t *testing.T) {
	reg := testutil.NewRegistry(t)
	img := testutil.Image(t, "1002:50", map[string][]byte{"hello": []byte("world")})
	reg.Push(t, "e2e/app:1.0", img)
	manifest, config, _ := digestOf(t, img)
	d := startDaemon(t, reg)

	id := pull(t, d, "registry.k8s.io/e2e/app:1.0")
	if id != config {
		t.Fatalf("PullImage returned %s, want the config digest %s", id, config)
	}
	digestRef := "registry.k8s.io/e2e/app@" + manifest
	for _, name := range []string{id, strings.TrimPrefix(id, "sha256:"), strings.TrimPrefix(id, "sha256:")[:12],
		"registry.k8s.io/e2e/app:1.0", digestRef} {
		st := imageStatus(t, d, name)
		if st == nil {
			t.Fatalf("ImageStatus(%s) found nothing", name)
		}
		if st.Id != id {
			t.Errorf("ImageStatus(%s).Id = %s, want %s", name, st.Id, id)
		}
		if !slices.Equal(st.RepoTags, []string{"registry.k8s.io/e2e/app:1.0"}) || !slices.Equal(st.RepoDigests, []string{digestRef}) {
			t.Errorf("ImageStatus(%s): tags %v digests %v", name, st.RepoTags, st.RepoDigests)
		}
		if st.Uid.GetValue() != 1002 || st.Username != "" {
			t.Errorf("ImageStatus(%s): uid %v username %q, want uid 1002", name, st.Uid, st.Username)
		}
		if st.Size == 0 {
			t.Errorf("ImageStatus(%s): size 0", name)
		}
	}
	resp, err := d.Images.ImageStatus(testutil.Ctx(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: id}, Verbose: true})
	if err != nil || !strings.Contains(resp.Info["info"], `"chainID":"sha256:`) {
		t.Errorf("verbose ImageStatus: %v, info %v", err, resp.GetInfo())
	}
	// The layer was unpacked: the snapshot holds the file.
	found := false
	filepath.WalkDir(filepath.Join(d.Dir, "root", "images", "snapshots"), func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Name() == "hello" {
			b, _ := os.ReadFile(p)
			found = string(b) == "world"
		}
		return nil
	})
	if !found {
		t.Error("no unpacked snapshot holds the image's file")
	}
}

func TestUsernameFromImageConfig(t *testing.T) {
	reg := testutil.NewRegistry(t)
	reg.Push(t, "e2e/user:1", testutil.Image(t, "www-data:1004", map[string][]byte{"a": []byte("a")}))
	d := startDaemon(t, reg)
	pull(t, d, "registry.k8s.io/e2e/user:1")
	st := imageStatus(t, d, "registry.k8s.io/e2e/user:1")
	if st.Uid != nil || st.Username != "www-data" {
		t.Errorf("uid %v username %q, want username www-data", st.Uid, st.Username)
	}
}

func TestListImagesWithFilter(t *testing.T) {
	reg := testutil.NewRegistry(t)
	reg.Push(t, "e2e/a:1", testutil.Image(t, "", map[string][]byte{"a": []byte("a")}))
	reg.Push(t, "e2e/b:1", testutil.Image(t, "", map[string][]byte{"b": []byte("b")}))
	d := startDaemon(t, reg)
	idA := pull(t, d, "registry.k8s.io/e2e/a:1")
	pull(t, d, "registry.k8s.io/e2e/b:1")
	if n := len(listImages(t, d)); n != 2 {
		t.Fatalf("ListImages: %d images, want 2", n)
	}
	resp, err := d.Images.ListImages(testutil.Ctx(t), &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/e2e/a:1"}}})
	if err != nil || len(resp.Images) != 1 || resp.Images[0].Id != idA {
		t.Fatalf("ListImages(filter a): %v %v", resp, err)
	}
	resp, err = d.Images.ListImages(testutil.Ctx(t), &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/e2e/none:1"}}})
	if err != nil || len(resp.Images) != 0 {
		t.Fatalf("ListImages(filter unknown): %v %v", resp, err)
	}
}

func TestConcurrentPullsShareOneDownload(t *testing.T) {
	reg := testutil.NewRegistry(t)
	img := testutil.Image(t, "", map[string][]byte{"big": make([]byte, 4<<20)})
	reg.Push(t, "e2e/big:1", img)
	_, _, layers := digestOf(t, img)
	release := reg.Stall(layers[0]) // hold the layer so every pull is in flight at once
	d := startDaemon(t, reg)

	const n = 6
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := d.Images.PullImage(testutil.Ctx(t), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/e2e/big:1"}})
			ids[i], errs[i] = resp.GetImageRef(), err
		}()
	}
	waitFor(t, "the layer download to start", func() bool { return reg.BlobGets(layers[0]) > 0 })
	time.Sleep(200 * time.Millisecond) // let every pull reach the server
	release()
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("pull %d: id %s err %v (first id %s)", i, ids[i], errs[i], ids[0])
		}
	}
	if got := reg.BlobGets(layers[0]); got != 1 {
		t.Errorf("the layer was downloaded %d times by %d concurrent pulls, want 1", got, n)
	}
}

func TestLayersSharedBetweenImages(t *testing.T) {
	reg := testutil.NewRegistry(t)
	base := map[string][]byte{"base": make([]byte, 1<<20)}
	one := testutil.Image(t, "", base, map[string][]byte{"one": []byte("1")})
	two := testutil.Image(t, "", base, map[string][]byte{"two": []byte("2")})
	reg.Push(t, "e2e/one:1", one)
	reg.Push(t, "e2e/two:1", two)
	_, _, layers := digestOf(t, one)
	d := startDaemon(t, reg)
	pull(t, d, "registry.k8s.io/e2e/one:1")
	pull(t, d, "registry.k8s.io/e2e/two:1")
	if got := reg.BlobGets(layers[0]); got != 1 {
		t.Errorf("shared base layer downloaded %d times for two images, want 1", got)
	}
	// Removing one image keeps what the other still needs.
	removeImage(t, d, "registry.k8s.io/e2e/one:1")
	if st := imageStatus(t, d, "registry.k8s.io/e2e/two:1"); st == nil {
		t.Fatal("image two vanished with image one")
	}
	removeImage(t, d, "registry.k8s.io/e2e/two:1")
	pull(t, d, "registry.k8s.io/e2e/two:1") // content was collected: downloaded again, and unpacks
	if got := reg.BlobGets(layers[0]); got != 2 {
		t.Errorf("base layer downloads after removing both images and pulling again: %d, want 2", got)
	}
}

func TestCancelledPullLeavesNothingBroken(t *testing.T) {
	reg := testutil.NewRegistry(t)
	img := testutil.Image(t, "", map[string][]byte{"big": make([]byte, 2<<20)})
	reg.Push(t, "e2e/slow:1", img)
	_, _, layers := digestOf(t, img)
	release := reg.Stall(layers[0])
	d := startDaemon(t, reg)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := d.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/e2e/slow:1"}})
		errc <- err
	}()
	waitFor(t, "the layer download to start", func() bool { return reg.BlobGets(layers[0]) > 0 })
	cancel()
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled pull: %v, want Canceled", err)
	}
	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Fatalf("a cancelled pull left images: %v", imgs)
	}
	release()
	pull(t, d, "registry.k8s.io/e2e/slow:1")
	if st := imageStatus(t, d, "registry.k8s.io/e2e/slow:1"); st == nil {
		t.Fatal("pull after a cancelled pull left no image")
	}
}

func TestRemoveImageByTagIDAndDigest(t *testing.T) {
	reg := testutil.NewRegistry(t)
	img := testutil.Image(t, "", map[string][]byte{"x": make([]byte, 1<<20)})
	reg.Push(t, "e2e/tags:1", img)
	reg.Push(t, "e2e/tags:2", img)
	manifest, _, _ := digestOf(t, img)
	d := startDaemon(t, reg)
	fsBefore := imageFsBytes(t, d)
	id := pull(t, d, "registry.k8s.io/e2e/tags:1")
	if id2 := pull(t, d, "registry.k8s.io/e2e/tags:2"); id2 != id {
		t.Fatalf("same image under two tags got ids %s and %s", id, id2)
	}
	if st := imageStatus(t, d, id); len(st.RepoTags) != 2 {
		t.Fatalf("repo tags %v, want two", st.RepoTags)
	}
	fsPulled := imageFsBytes(t, d)
	if fsPulled <= fsBefore {
		t.Errorf("ImageFsInfo used bytes %d after pull, %d before", fsPulled, fsBefore)
	}

	// One tag of two: the image stays with the other tag.
	removeImage(t, d, "registry.k8s.io/e2e/tags:1")
	st := imageStatus(t, d, id)
	if st == nil || !slices.Equal(st.RepoTags, []string{"registry.k8s.io/e2e/tags:2"}) {
		t.Fatalf("after removing one tag of two: %v", st)
	}
	// By digest: the whole image goes, and its content is collected.
	removeImage(t, d, "registry.k8s.io/e2e/tags@"+manifest)
	if st := imageStatus(t, d, id); st != nil {
		t.Fatalf("image still there after removal by digest: %v", st)
	}
	if fsAfter := imageFsBytes(t, d); fsAfter >= fsPulled {
		t.Errorf("ImageFsInfo used bytes %d after removal, %d with the image: content not collected", fsAfter, fsPulled)
	}
	// By id, and removing what is gone succeeds.
	id = pull(t, d, "registry.k8s.io/e2e/tags:1")
	removeImage(t, d, id)
	removeImage(t, d, id)
	removeImage(t, d, "registry.k8s.io/e2e/never:1")
	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Fatalf("images left: %v", imgs)
	}
}

func imageFsBytes(t *testing.T, d *testutil.Daemon) uint64 {
	t.Helper()
	resp, err := d.Images.ImageFsInfo(testutil.Ctx(t), &runtimeapi.ImageFsInfoRequest{})
	if err != nil || len(resp.ImageFilesystems) != 1 {
		t.Fatalf("ImageFsInfo: %v %v", resp, err)
	}
	fs := resp.ImageFilesystems[0]
	// An empty store uses 0 bytes (snapshots and blobs, as containerd sums them).
	if fs.UsedBytes == nil || fs.InodesUsed == nil || fs.FsId.GetMountpoint() == "" || fs.Timestamp == 0 {
		t.Errorf("ImageFsInfo incomplete: %v", fs)
	}
	return fs.UsedBytes.GetValue()
}

func TestImagesSurviveRestartAndCrash(t *testing.T) {
	reg := testutil.NewRegistry(t)
	reg.Push(t, "e2e/keep:1", testutil.Image(t, "", map[string][]byte{"k": []byte("k")}))
	d := startDaemon(t, reg)
	id := pull(t, d, "registry.k8s.io/e2e/keep:1")
	d.Stop(t)
	d.Start(t)
	if st := imageStatus(t, d, "registry.k8s.io/e2e/keep:1"); st == nil || st.Id != id {
		t.Fatalf("after restart: %v", st)
	}
	d.Kill(t)
	d.Start(t)
	if imgs := listImages(t, d); len(imgs) != 1 || imgs[0].Id != id {
		t.Fatalf("after kill -9 and restart: %v", imgs)
	}
}

func TestPullErrors(t *testing.T) {
	reg := testutil.NewRegistry(t)
	foreign := testutil.Image(t, "", map[string][]byte{"f": []byte("f")})
	reg.PushIndex(t, "e2e/foreign:1", testutil.IndexFor(t, foreign, "plan9", "mips"))
	d := startDaemon(t, reg)

	for _, tc := range []struct {
		ref  string
		code codes.Code
		want string
	}{
		{"", codes.InvalidArgument, "empty"},
		{"Not A Reference!", codes.InvalidArgument, "invalid"},
		{"registry.k8s.io/e2e/missing:1", codes.NotFound, "not found"},
		{"registry.k8s.io/e2e/foreign:1", codes.NotFound, "platform linux/"},
		{"127.0.0.1:1/e2e/app:1", codes.Unavailable, "127.0.0.1:1"},
	} {
		_, err := d.Images.PullImage(testutil.Ctx(t), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: tc.ref}})
		if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("PullImage(%q): %v; want code %v mentioning %q", tc.ref, err, tc.code, tc.want)
		}
	}
	if _, err := d.Images.ImageStatus(testutil.Ctx(t), &runtimeapi.ImageStatusRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("ImageStatus without image: %v, want InvalidArgument", err)
	}
	if st := imageStatus(t, d, "registry.k8s.io/e2e/unknown:1"); st != nil {
		t.Errorf("ImageStatus of an unknown image: %v, want none", st)
	}
}

func TestPullWithAuth(t *testing.T) {
	reg := testutil.NewRegistry(t)
	reg.RequireAuth("alice", "s3cret")
	ref := reg.Push(t, "private/app:1", testutil.Image(t, "", map[string][]byte{"p": []byte("p")}))
	d := startDaemon(t, reg)

	_, err := d.Images.PullImage(testutil.Ctx(t), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err == nil {
		t.Fatal("pull from a registry demanding auth succeeded without credentials")
	}
	for _, auth := range []*runtimeapi.AuthConfig{
		{Username: "alice", Password: "s3cret"},
		{Auth: "YWxpY2U6czNjcmV0", ServerAddress: "http://" + reg.Host}, // base64("alice:s3cret")
	} {
		if _, err := d.Images.PullImage(testutil.Ctx(t), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Auth: auth}); err != nil {
			t.Errorf("pull with %v: %v", auth, err)
		}
	}
	_, err = d.Images.PullImage(testutil.Ctx(t), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Auth: &runtimeapi.AuthConfig{Username: "alice", Password: "wrong"}})
	if err == nil {
		t.Error("pull with a wrong password succeeded")
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
