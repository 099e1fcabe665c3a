//go:build !unix

package otelwebhook_test

import "time"

// cpuTime is unknown here; the benchmark then reports throughput only.
func cpuTime() time.Duration { return 0 }
