// Command bench measures hookline against the physical limit of the same
// work on the same machine, in one run, and prints a table (and writes
// JSON):
//
//   - baseline: N goroutines with a tuned http.Client that sign each body
//     (Standard Webhooks HMAC, by hand) and POST it;
//   - hookline with the memory store and the default Config (only
//     AllowHTTP and AllowPrivateNetworks on, to reach the local receiver),
//     with 1 endpoint and with 16 endpoints of 16 tenants, alternating
//     baseline and hookline rounds and taking medians;
//   - hookline with the Postgres store, one and two dispatchers (with
//     -database-url);
//   - publish-to-receipt latency at a steady rate;
//   - heap bytes per pending delivery;
//   - claim cost per delivery at 1k, 100k and 1M pending;
//   - deliveries/s to an ordered endpoint with 1 and 100 keys beside an
//     unordered one, and unordered beside many waiting ordered deliveries
//     (ordered.go).
//
// Run it from the repository root:
//
//	go run ./bench                       # memory store figures
//	go run ./bench -database-url postgres://postgres@127.0.0.1:5432/test
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	webhook "github.com/hookline/webhook"
)

type options struct {
	deliveries   int
	rounds       int
	rate         int
	latencySecs  float64
	pending      int
	pgDeliveries int
	databaseURL  string
	jsonPath     string
	skipScaling  bool
	instrument   bool
	memory       bool
	pgRows       string
	pgVariants   string
	pgSides      string
	pgInstances  bool
	pgLatency    bool
}

func main() {
	var o options
	flag.IntVar(&o.deliveries, "deliveries", 20000, "deliveries per throughput round")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of each side (medians are reported)")
	flag.IntVar(&o.rate, "rate", 1000, "events per second in the latency run")
	flag.Float64Var(&o.latencySecs, "latency-seconds", 5, "length of the latency run")
	flag.IntVar(&o.pending, "pending-events", 20000, "events (x10 endpoints) in the memory run")
	flag.IntVar(&o.pgDeliveries, "pg-deliveries", 20000, "deliveries per Postgres round")
	flag.StringVar(&o.databaseURL, "database-url", os.Getenv("HOOKLINE_BENCH_DATABASE_URL"), "Postgres URL for the pgstore rows (empty: skip them)")
	flag.StringVar(&o.jsonPath, "json", "bench-results.json", "where to write the results as JSON (empty: nowhere)")
	flag.BoolVar(&o.skipScaling, "skip-scaling", false, "skip the claim scaling run (it fills 1M deliveries)")
	flag.BoolVar(&o.instrument, "otel", true, "also measure with OpenTelemetry instrumentation on (when built in)")
	flag.BoolVar(&o.memory, "memory", true, "run the memory store rows, the latency, heap and claim scaling runs (false: Postgres rows only)")
	flag.StringVar(&o.pgRows, "pg-rows", "fanout1,fanout10,batch1000", "River vs hookline rows to run (with -database-url): fanout1, fanout10, batch1000")
	flag.StringVar(&o.pgVariants, "pg-variants", "", "hookline store variants measured beside the default in the River rows (nogroup)")
	flag.StringVar(&o.pgSides, "pg-sides", "river,hookline", "sides of the River vs hookline rows (river, hookline; variants come with -pg-variants)")
	flag.BoolVar(&o.pgLatency, "pg-latency", true, "measure publish->receipt latency on Postgres at -rate (with -database-url)")
	flag.BoolVar(&o.pgInstances, "pg-instances", true, "run the one vs two dispatchers Postgres rows (with -database-url)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the first hookline round to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile to this file at the end")
	flag.Parse()
	log.SetFlags(0)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		profileHookline = func(run func()) {
			_ = pprof.StartCPUProfile(f)
			run()
			pprof.StopCPUProfile()
			profileHookline = func(run func()) { run() }
		}
		fb, err := os.Create(*cpuProfile + ".baseline")
		if err != nil {
			log.Fatal(err)
		}
		profileBaseline = func(run func()) {
			_ = pprof.StartCPUProfile(fb)
			run()
			pprof.StopCPUProfile()
			profileBaseline = func(run func()) { run() }
		}
	}

	res := &results{Machine: machine()}
	start := time.Now()
	rcv := startReceiver()
	defer rcv.close()

	if o.memory {
		for _, eps := range []int{1, 16} {
			row := throughputRow(o, rcv, eps)
			res.Throughput = append(res.Throughput, row)
		}
		if o.instrument && instrumented != nil {
			res.Throughput = append(res.Throughput, throughputInstrumented(o, rcv, 16))
		}
		res.Ordered = append(res.Ordered, orderedRows(o, rcv, "memory store", memoryStore)...)
	}
	if o.databaseURL != "" && o.pgRows != "" {
		res.Compare = compareRun(o, rcv)
	}
	if o.databaseURL != "" && o.pgInstances {
		res.Postgres = postgresRounds(o, rcv)
	}
	if o.databaseURL != "" && *pgOrderedRun {
		res.Ordered = append(res.Ordered, postgresOrderedRows(o, rcv)...)
	}
	if o.databaseURL != "" && o.pgLatency {
		l := latencyOn(o, rcv, freshPgStore(o, "hookline_lat_"))
		res.PgLatency = &l
	}
	if o.memory {
		res.Latency = latencyRun(o, rcv)
		res.Memory = memoryRun(o)
		if !o.skipScaling {
			res.Scaling = scalingRun()
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			log.Fatal(err)
		}
		_ = pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
	res.print(os.Stdout)
	if o.jsonPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonPath, b, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("\nresults written to %s\n", o.jsonPath)
	}
}

// receiver is the local endpoint every round posts to: it reads the body,
// answers 200, and notes when each message arrived.
type receiver struct {
	url   string
	srv   *http.Server
	count atomic.Int64
	mu    sync.Mutex
	// arrivals maps a webhook-id to its receipt time, when tracking.
	arrivals map[string]time.Time
	track    atomic.Bool
	last     atomic.Int64 // unix nanos of the latest receipt
}

func startReceiver() *receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	r := &receiver{url: "http://" + ln.Addr().String(), arrivals: map[string]time.Time{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		now := time.Now()
		if r.track.Load() {
			r.mu.Lock()
			r.arrivals[req.Header.Get("webhook-id")] = now
			r.mu.Unlock()
		}
		r.last.Store(now.UnixNano())
		r.count.Add(1)
	})}
	go r.srv.Serve(ln)
	return r
}

func (r *receiver) close() { r.srv.Close() }

// waitCount waits until the receiver has counted n requests.
func (r *receiver) waitCount(n int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for r.count.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("receiver got %d of %d within %s", r.count.Load(), n, timeout)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

// sample is the event every round sends (about 200 bytes of JSON).
type sample struct {
	CustomerID string `json:"customer_id"`
	RewardID   string `json:"reward_id"`
	Points     int    `json:"points"`
	Reason     string `json:"reason"`
	Tier       string `json:"tier"`
	Padding    string `json:"padding,omitempty"`
}

func (sample) EventType() string { return "reward.issued" }

func newSample(i int) sample {
	return sample{CustomerID: "cus_" + strconv.Itoa(i), RewardID: "rwd_" + strconv.Itoa(i), Points: i % 500,
		Reason: "purchase of order ord_" + strconv.Itoa(i), Tier: "gold"}
}

// publishers is how many goroutines publish at once in throughput rounds.
const publishers = 8

// concurrency is the number of requests hookline runs at once against eps
// endpoints with the default Config; the baseline gets the same.
func concurrency(eps int) int { return min(64, 16*eps) }

// baseline posts deliveries signed by hand with n goroutines and returns
// deliveries per second.
func baseline(rcv *receiver, total, eps int) float64 {
	n := concurrency(eps)
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	defer tr.CloseIdleConnections()
	secret := webhook.NewSecret()
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	before := rcv.count.Load()
	start := time.Now()
	inParallel(n, total, func(i int) {
		data, _ := json.Marshal(newSample(i))
		body := []byte(`{"type":"reward.issued","timestamp":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","data":` + string(data) + `}`)
		id := "msg_" + strconv.Itoa(i)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + ts + "."))
		mac.Write(body)
		req, _ := http.NewRequest(http.MethodPost, rcv.url+"/"+strconv.Itoa(i%eps), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", ts)
		req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		resp, err := client.Do(req)
		if err != nil {
			log.Fatalf("baseline: %v", err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
	})
	elapsed := time.Since(start)
	if got := rcv.count.Load() - before; got != int64(total) {
		log.Fatalf("baseline: receiver counted %d, want %d", got, total)
	}
	return float64(total) / elapsed.Seconds()
}

// inParallel calls f(0) .. f(total-1) from n goroutines and returns when
// all calls have.
func inParallel(n, total int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < total; i = int(next.Add(1)) - 1 {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// defaultConfig is the default Config with only what reaching the local
// plain-http receiver needs.
func defaultConfig(st webhook.Store) webhook.Config {
	return webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true}
}

// hooklineRound publishes total deliveries over eps endpoints (one tenant
// each) and returns deliveries per second from the first publish to the
// last receipt. dispatchers > 1 starts several dispatchers on the store.
func hooklineRound(rcv *receiver, total, eps int, newStore func() (webhook.Store, func()), dispatchers int, mod func(*webhook.Config)) float64 {
	st, cleanup := newStore()
	defer cleanup()
	var ds []*webhook.Dispatcher
	for range dispatchers {
		cfg := defaultConfig(st)
		if mod != nil {
			mod(&cfg)
		}
		d, err := webhook.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		ds = append(ds, d)
	}
	return runRound(rcv, total, eps, ds)
}

// runRound creates eps endpoints through the first dispatcher, starts
// them all, publishes total events round-robin through them, and returns
// deliveries per second from the first publish to the last receipt.
func runRound(rcv *receiver, total, eps int, ds []*webhook.Dispatcher) float64 {
	ctx := context.Background()
	for i := range eps {
		ep := &webhook.Endpoint{Tenant: "tenant_" + strconv.Itoa(i), URL: rcv.url + "/" + strconv.Itoa(i)}
		if err := ds[0].CreateEndpoint(ctx, ep); err != nil {
			log.Fatal(err)
		}
	}
	for _, d := range ds {
		if err := d.Start(ctx); err != nil {
			log.Fatal(err)
		}
	}
	before := rcv.count.Load()
	opts := make([]webhook.PublishOpts, eps)
	for i := range opts {
		opts[i].Tenant = "tenant_" + strconv.Itoa(i)
	}
	// Publishers run concurrently, as request handlers of a host app would.
	start := time.Now()
	inParallel(publishers, total, func(i int) {
		if _, err := ds[i%len(ds)].Publish(ctx, newSample(i), &opts[i%eps]); err != nil {
			log.Fatal(err)
		}
	})
	if err := rcv.waitCount(before+int64(total), 2*time.Minute); err != nil {
		log.Fatal(err)
	}
	elapsed := time.Duration(rcv.last.Load() - start.UnixNano())
	for _, d := range ds {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = d.Shutdown(sctx)
		cancel()
	}
	return float64(total) / elapsed.Seconds()
}

func memoryStore() (webhook.Store, func()) {
	s := webhook.NewMemoryStore()
	return s, func() { s.Close() }
}

// throughputRow alternates baseline and hookline rounds.
func throughputRow(o options, rcv *receiver, eps int) throughput {
	// A warm-up of each, not counted.
	baseline(rcv, o.deliveries/10, eps)
	hooklineRound(rcv, o.deliveries/10, eps, memoryStore, 1, nil)
	t := alternate(o, eps,
		func() float64 {
			var r float64
			profileBaseline(func() { r = baseline(rcv, o.deliveries, eps) })
			return r
		},
		func() float64 {
			var r float64
			profileHookline(func() { r = hooklineRound(rcv, o.deliveries, eps, memoryStore, 1, nil) })
			return r
		})
	t.Name = fmt.Sprintf("memory store, %d endpoint(s)", eps)
	return t
}

// alternate runs o.rounds of a then b, one after the other, and returns
// their median rates and CPU time per delivery as a row (a as the
// baseline).
func alternate(o options, eps int, a, b func() float64) throughput {
	var ra, rb, ca, cb []float64
	for range o.rounds {
		for _, side := range []struct {
			run        func() float64
			rate, cpus *[]float64
		}{{a, &ra, &ca}, {b, &rb, &cb}} {
			c := cpuTime()
			*side.rate = append(*side.rate, side.run())
			*side.cpus = append(*side.cpus, (cpuTime()-c).Seconds()*1e6/float64(o.deliveries))
			runtime.GC()
		}
	}
	t := throughput{Endpoints: eps, Concurrency: concurrency(eps), Deliveries: o.deliveries,
		BaselinePerSec: median(ra), HooklinePerSec: median(rb), BaselineRounds: ra, HooklineRounds: rb,
		BaselineCPUus: median(ca), HooklineCPUus: median(cb)}
	t.Ratio = t.HooklinePerSec / t.BaselinePerSec
	return t
}

// profileBaseline runs a baseline round, under the CPU profiler when
// -cpuprofile is given (to compare with the hookline profile).
var profileBaseline = func(run func()) { run() }

// profileHookline runs a hookline round, under the CPU profiler when
// -cpuprofile is given. It profiles the first round only.
var profileHookline = func(run func()) { run() }

// instrumented, when the OpenTelemetry instrumentation is built in, wires
// it into a Config.
var instrumented func(*webhook.Config)

// throughputInstrumented alternates rounds without and with
// instrumentation.
func throughputInstrumented(o options, rcv *receiver, eps int) throughput {
	hooklineRound(rcv, o.deliveries/10, eps, memoryStore, 1, instrumented)
	// Two rounds more than the other rows: the difference measured is
	// a few percent, the size of the machine's noise.
	o.rounds += 2
	t := alternate(o, eps,
		func() float64 { return hooklineRound(rcv, o.deliveries, eps, memoryStore, 1, nil) },
		func() float64 { return hooklineRound(rcv, o.deliveries, eps, memoryStore, 1, instrumented) })
	t.Name = fmt.Sprintf("OpenTelemetry on (%.0f%% traced) vs off, %d eps", *otelSample*100, eps)
	return t
}

// latencyRun publishes at a steady rate and measures publish to receipt.
func latencyRun(o options, rcv *receiver) latency {
	return latencyOn(o, rcv, memoryStore)
}

// latencyOn is latencyRun on the store newStore makes.
func latencyOn(o options, rcv *receiver, newStore func() (webhook.Store, func())) latency {
	ctx := context.Background()
	st, cleanup := newStore()
	defer cleanup()
	d, err := webhook.New(defaultConfig(st))
	if err != nil {
		log.Fatal(err)
	}
	if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: rcv.url + "/latency"}); err != nil {
		log.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer d.Shutdown(ctx)
	total := int(float64(o.rate) * o.latencySecs)
	sent := make(map[string]time.Time, total)
	rcv.mu.Lock()
	clear(rcv.arrivals)
	rcv.mu.Unlock()
	rcv.track.Store(true)
	defer rcv.track.Store(false)
	before := rcv.count.Load()
	interval := time.Second / time.Duration(o.rate)
	start := time.Now()
	for i := range total {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		t := time.Now()
		msg, err := d.Publish(ctx, newSample(i), nil)
		if err != nil {
			log.Fatal(err)
		}
		sent[msg.ID] = t
	}
	if err := rcv.waitCount(before+int64(total), time.Minute); err != nil {
		log.Fatal(err)
	}
	rcv.mu.Lock()
	lat := make([]time.Duration, 0, total)
	for id, t := range sent {
		lat = append(lat, rcv.arrivals[id].Sub(t))
	}
	rcv.mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) float64 { return ms(lat[min(len(lat)-1, int(float64(len(lat))*p))]) }
	return latency{Rate: o.rate, Events: total, P50ms: q(0.50), P99ms: q(0.99), MaxMs: ms(lat[len(lat)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func machine() machineInfo {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(line[strings.Index(line, ":")+1:])
				break
			}
		}
	}
	return machineInfo{CPU: cpu, Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Date: time.Now().UTC().Format(time.DateOnly)}
}

func (r *results) print(w io.Writer) {
	fmt.Fprintf(w, "\nhookline benchmark: %s, %d cores, %s, %s (%.0f s)\n\n", r.Machine.CPU, r.Machine.Cores, r.Machine.Go, r.Machine.Date, r.Seconds)
	fmt.Fprintf(w, "%-44s %8s %14s %14s %7s %16s\n", "throughput (deliveries/s, medians)", "in flight", "baseline", "hookline", "ratio", "CPU us/delivery")
	for _, t := range r.Throughput {
		cpu := ""
		if t.BaselineCPUus > 0 {
			cpu = fmt.Sprintf("%.1f vs %.1f", t.BaselineCPUus, t.HooklineCPUus)
		}
		fmt.Fprintf(w, "%-44s %8d %14.0f %14.0f %7.3f %16s\n", t.Name, t.Concurrency, t.BaselinePerSec, t.HooklinePerSec, t.Ratio, cpu)
	}
	for _, t := range r.Postgres {
		fmt.Fprintf(w, "%-44s %8d %14s %14.0f\n", t.Name, t.Concurrency, "-", t.HooklinePerSec)
	}
	printOrdered(w, r.Ordered)
	printCompare(w, r.Compare)
	if l := r.PgLatency; l != nil {
		fmt.Fprintf(w, "\nPostgres latency publish->receipt at %d/s (%d events): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
			l.Rate, l.Events, l.P50ms, l.P99ms, l.MaxMs)
	}
	if r.Latency.Events == 0 {
		return
	}
	fmt.Fprintf(w, "\nlatency publish->receipt at %d/s (%d events): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		r.Latency.Rate, r.Latency.Events, r.Latency.P50ms, r.Latency.P99ms, r.Latency.MaxMs)
	fmt.Fprintf(w, "memory: %d pending deliveries (%d events x %d endpoints, %d-byte payload): %.0f heap bytes per delivery\n",
		r.Memory.PendingDeliveries, r.Memory.Events, r.Memory.Endpoints, r.Memory.PayloadBytes, r.Memory.BytesPerDelivery)
	if len(r.Scaling) > 0 {
		fmt.Fprintf(w, "claim+record per delivery (memory store):")
		for _, s := range r.Scaling {
			fmt.Fprintf(w, "  %d pending: %.0f ns (%.2fx)", s.Pending, s.NsPerDelivery, s.VsSmallest)
		}
		fmt.Fprintln(w)
	}
}
