package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func isWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// wineDialOnce works around Wine handing a go-winio listener's first client
// to a pipe instance nobody serves (see shared/wine/README.md). On real
// Windows it is not done.
func wineDialOnce(t *testing.T, path string) {
	if !isWine() {
		return
	}
	to := time.Second
	if c, err := winio.DialPipe(path, &to); err == nil {
		c.Close()
	}
}

func TestNamedPipeServesCRIVersion(t *testing.T) {
	ep := fmt.Sprintf("npipe:////./pipe/wincri-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	l, err := Listen(ep)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := PipePath(ep)
	wineDialOnce(t, path)
	g := grpc.NewServer()
	Register(g, nil, nil, nil)
	go g.Serve(l)
	defer g.Stop()

	conn, err := grpc.NewClient("passthrough:///wincri",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return winio.DialPipeContext(ctx, path) }))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := runtimeapi.NewRuntimeServiceClient(conn).Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil || v.RuntimeName != "wincri" || v.RuntimeApiVersion != "v1" {
		t.Fatalf("Version over %s: %v %v", path, v, err)
	}

	// A second server must not take over a pipe that is being served.
	if l2, err := Listen(ep); err == nil {
		l2.Close()
		t.Fatal("second Listen on a served pipe succeeded")
	} else if !strings.Contains(err.Error(), "another live process") {
		t.Fatalf("second Listen: %v", err)
	}
}

func TestPipeSDDLAdmitsOnlyAdministratorsAndSystem(t *testing.T) {
	sd, err := windows.SecurityDescriptorFromString(PipeSDDL)
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	admins, _ := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	system, _ := windows.CreateWellKnownSid(windows.WinLocalSystemSid)
	if dacl.AceCount != 2 {
		t.Fatalf("DACL has %d entries, want 2", dacl.AceCount)
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			t.Fatal(err)
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || !(sid.Equals(admins) || sid.Equals(system)) {
			t.Errorf("ACE %d: type %d for %v", i, ace.Header.AceType, sid)
		}
	}
	if c, _, _ := sd.Control(); c&windows.SE_DACL_PROTECTED == 0 {
		t.Error("DACL is not protected from inheritance")
	}
}
