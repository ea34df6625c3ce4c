package winpipe

import (
	"net"
	"sync"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// UnderWine reports whether this process runs under Wine.
var UnderWine = sync.OnceValue(func() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
})

// Listen is winio.ListenPipe. Under Wine the first client of a new
// listener connects to an instance that is never accepted (Windows keeps
// that instance unconnectable): a throw-away dial consumes it, so the
// first real client (a shim, kubelet) is served. Nothing changes on
// Windows.
func Listen(path string, cfg *winio.PipeConfig) (net.Listener, error) {
	l, err := winio.ListenPipe(path, cfg)
	if err != nil {
		return nil, err
	}
	FirstDial(path)
	return l, nil
}

// FirstDial is the throw-away dial a client makes under Wine before its
// first real dial to a listener that has had no client yet (a shim's
// ttrpc and log pipes right after it started). A no-op on Windows.
func FirstDial(path string) {
	if !UnderWine() {
		return
	}
	d := time.Second
	if c, err := winio.DialPipe(path, &d); err == nil {
		c.Close()
	}
}
