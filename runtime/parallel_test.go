package runtime

import (
	"fmt"
	"strings"
	"testing"
)

// A panic in one of parallel's goroutines reaches the caller, which the
// CRI server recovers from, instead of ending the process.
func TestParallelRaisesPanicInCaller(t *testing.T) {
	defer func() {
		if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "boom 7") {
			t.Errorf("recovered %v, want the panic of item 7", v)
		}
	}()
	parallel(20, func(i int) {
		if i == 7 {
			panic("boom 7")
		}
	})
	t.Error("parallel returned")
}
