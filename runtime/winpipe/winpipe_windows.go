package winpipe

import (
	"fmt"
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

// listenAttempts bounds how often Listen makes its listener again after a
// client took the instance its throw-away dial is for.
const listenAttempts = 50

// afterListen, when set (tests), runs between making a listener and its
// throw-away dial: where a client that dials at that moment lands.
var afterListen func(path string)

// Listen is winio.ListenPipe. Under Wine the first client of a new
// listener connects to an instance that is never accepted (Windows keeps
// that instance unconnectable): a throw-away dial consumes it, so the
// first real client (a shim, kubelet) is served. Nothing changes on
// Windows.
//
// A client that dials in the moment between the listener's creation and
// the throw-away dial (a shim publishing an event while wincri restarts)
// gets that instance instead, and its writes then hang unanswered for
// good. The throw-away dial then finds no free instance (nothing accepts
// yet): Listen closes that listener, which breaks the client's connection
// (it dials again), and makes a new one.
func Listen(path string, cfg *winio.PipeConfig) (net.Listener, error) {
	var lastErr error
	for attempt := range listenAttempts {
		l, err := winio.ListenPipe(path, cfg)
		if err != nil && attempt == 0 {
			return nil, err
		}
		if err != nil {
			// The pipe of a listener closed below lives on until its
			// client has closed its end too.
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if !UnderWine() {
			return l, nil
		}
		if afterListen != nil {
			afterListen(path)
		}
		if throwAwayDial(path) {
			return l, nil
		}
		lastErr = fmt.Errorf("a client took the first instance of %s before the throw-away dial", path)
		l.Close()
	}
	return nil, fmt.Errorf("listen on %s (%d attempts): %w", path, listenAttempts, lastErr)
}

// FirstDial is the throw-away dial a client makes under Wine before its
// first real dial to a listener that has had no client yet (a shim's
// ttrpc and log pipes right after it started). A no-op on Windows.
func FirstDial(path string) {
	if UnderWine() {
		throwAwayDial(path)
	}
}

// throwAwayDial connects to path and closes the connection; false when no
// instance took it within a second.
func throwAwayDial(path string) bool {
	d := time.Second
	c, err := winio.DialPipe(path, &d)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
