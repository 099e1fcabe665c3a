// Package leakcheck finds goroutines of hookline's packages still running
// after the code that started them should have stopped them.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Leaked returns the stacks of goroutines running code of
// github.com/hookline/webhook (tests aside), waiting up to timeout for them
// to end; "" when none are left.
func Leaked(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		var leaked []string
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "github.com/hookline/webhook") &&
				!strings.Contains(g, "leakcheck.Leaked") &&
				!strings.Contains(g, "testing.(*T).Run") &&
				!strings.Contains(g, "testing.tRunner") &&
				!strings.Contains(g, "testing.runExample") &&
				!strings.Contains(g, "testing.(*M).Run") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// VerifyMain runs the tests, then fails the run if goroutines of hookline's
// packages are left. Call it from TestMain: os.Exit(leakcheck.VerifyMain(m)).
func VerifyMain(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if leaked := Leaked(5 * time.Second); leaked != "" {
		fmt.Fprintf(os.Stderr, "leakcheck: goroutines left after the tests:\n%s\n", leaked)
		return 1
	}
	return 0
}
