package main

import (
	"slices"
	"syscall"
	"time"
)

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

type results struct {
	Machine    machineInfo  `json:"machine"`
	Throughput []throughput `json:"throughput"`
	Postgres   []throughput `json:"postgres,omitempty"`
	Compare    []compareRow `json:"postgres_vs_river,omitempty"`
	PgLatency  *latency     `json:"postgres_latency,omitempty"`
	Latency    latency      `json:"latency"`
	Memory     memory       `json:"memory"`
	Scaling    []scaling    `json:"scaling,omitempty"`
	Ordered    []orderedRow `json:"ordered,omitempty"` // ordered.go
	Seconds    float64      `json:"seconds"`
}

type throughput struct {
	Name           string    `json:"name"`
	Endpoints      int       `json:"endpoints"`
	Concurrency    int       `json:"concurrency"`
	Deliveries     int       `json:"deliveries"`
	BaselinePerSec float64   `json:"baseline_per_sec"`
	HooklinePerSec float64   `json:"hookline_per_sec"`
	Ratio          float64   `json:"ratio"`
	BaselineRounds []float64 `json:"baseline_rounds"`
	HooklineRounds []float64 `json:"hookline_rounds"`
	// CPU time of the whole process (receiver included) per delivery, in
	// microseconds: what each side costs the machine.
	BaselineCPUus float64 `json:"baseline_cpu_us_per_delivery,omitempty"`
	HooklineCPUus float64 `json:"hookline_cpu_us_per_delivery,omitempty"`
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type latency struct {
	Rate   int     `json:"rate_per_sec"`
	Events int     `json:"events"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

type memory struct {
	Events            int     `json:"events"`
	Endpoints         int     `json:"endpoints"`
	PendingDeliveries int     `json:"pending_deliveries"`
	PayloadBytes      int     `json:"payload_bytes"`
	HeapBytes         uint64  `json:"heap_bytes"`
	BytesPerDelivery  float64 `json:"bytes_per_delivery"`
}

type scaling struct {
	Pending       int     `json:"pending"`
	NsPerDelivery float64 `json:"ns_per_delivery"`
	VsSmallest    float64 `json:"vs_1k"`
}

type machineInfo struct {
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	Go    string `json:"go"`
	OS    string `json:"os"`
	Date  string `json:"date"`
}
