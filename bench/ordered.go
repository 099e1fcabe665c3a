package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	webhook "github.com/hookline/webhook"
)

// Ordered delivery rows: deliveries/s to one endpoint, unordered beside
// Ordered with 1 key (one delivery in flight at a time) and with 100 keys,
// and unordered beside an ordered endpoint holding many waiting
// deliveries in the same store (what the option costs endpoints that do
// not use it: nothing, if waiting deliveries stay out of the claim path).
// Every store runs the same cases through orderedRows; rounds alternate
// between the cases.

var (
	orderedDeliveries = flag.Int("ordered-deliveries", 5000, "deliveries per round of the ordered delivery rows (0: skip them)")
	orderedWaiting    = flag.Int("ordered-waiting", 100000, "waiting ordered deliveries beside the unordered endpoint in the last ordered row")
)

// orderedRow is one row of the ordered delivery table.
type orderedRow struct {
	Name       string    `json:"name"`
	Store      string    `json:"store"`
	Keys       int       `json:"keys"`           // 0: the endpoint is not ordered
	Waiting    int       `json:"waiting_beside"` // waiting deliveries of another, ordered endpoint
	Deliveries int       `json:"deliveries"`
	PerSec     float64   `json:"per_sec"`
	Rounds     []float64 `json:"rounds"`
	CPUus      float64   `json:"cpu_us_per_delivery"`
	// VsUnordered is PerSec over the unordered row's of the same store.
	VsUnordered float64 `json:"vs_unordered"`
}

type orderedCase struct {
	name    string
	keys    int
	waiting int
}

// orderedRows runs o.rounds of every case on stores made by newStore, the
// cases alternating within each round, and returns their medians.
func orderedRows(o options, rcv *receiver, store string, newStore func() (webhook.Store, func())) []orderedRow {
	total := *orderedDeliveries
	if total <= 0 {
		return nil
	}
	cases := []orderedCase{
		{"unordered", 0, 0},
		{"ordered, 1 key", 1, 0},
		{"ordered, 100 keys", 100, 0},
		{fmt.Sprintf("unordered, beside %d waiting", *orderedWaiting), 0, *orderedWaiting},
	}
	orderedRound(rcv, total/10, orderedCase{keys: 100}, newStore) // warm-up, not counted
	rates := make([][]float64, len(cases))
	cpus := make([][]float64, len(cases))
	for range o.rounds {
		for i, c := range cases {
			rate, cpu := orderedRound(rcv, total, c, newStore)
			rates[i], cpus[i] = append(rates[i], rate), append(cpus[i], cpu)
			runtime.GC()
		}
	}
	out := make([]orderedRow, len(cases))
	for i, c := range cases {
		out[i] = orderedRow{Name: store + ", " + c.name, Store: store, Keys: c.keys, Waiting: c.waiting, Deliveries: total,
			PerSec: median(rates[i]), Rounds: rates[i], CPUus: median(cpus[i])}
		out[i].VsUnordered = out[i].PerSec / out[0].PerSec
	}
	return out
}

// orderedRound publishes total events (8 publishers) to one endpoint,
// Ordered with c.keys keys when c.keys > 0, and returns deliveries per
// second from the first publish to the last receipt, and the process's CPU
// time per delivery over that span. With c.waiting, an
// ordered endpoint of another tenant first gets c.waiting deliveries of
// one key whose head hangs in flight until the round ends, so the rest
// wait in the store all along.
func orderedRound(rcv *receiver, total int, c orderedCase, newStore func() (webhook.Store, func())) (perSec, cpuUs float64) {
	ctx := context.Background()
	st, cleanup := newStore()
	defer cleanup()
	d, err := webhook.New(defaultConfig(st))
	if err != nil {
		log.Fatal(err)
	}
	release := func() {}
	if c.waiting > 0 {
		hang := startHang()
		defer hang.close()
		if err := d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "bystander", URL: hang.url, Ordered: true}); err != nil {
			log.Fatal(err)
		}
		batch := make([]webhook.BatchEvent, 0, 1000)
		opts := &webhook.PublishOpts{Tenant: "bystander", OrderingKey: "k"}
		for i := 0; i < c.waiting; i += len(batch) {
			batch = batch[:0]
			for j := i; j < min(c.waiting, i+1000); j++ {
				batch = append(batch, webhook.BatchEvent{Event: newSample(j), Opts: opts})
			}
			if _, err := d.PublishBatch(ctx, batch); err != nil {
				log.Fatal(err)
			}
		}
		release = hang.release
	}
	if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: rcv.url + "/ordered", Ordered: c.keys > 0}); err != nil {
		log.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer func() {
		release() // the hanging head answers, so Shutdown need not wait for it
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	}()
	opts := make([]webhook.PublishOpts, max(1, c.keys))
	for i := range opts {
		opts[i].OrderingKey = "cus_" + strconv.Itoa(i)
	}
	before, cpu := rcv.count.Load(), cpuTime()
	start := time.Now()
	inParallel(publishers, total, func(i int) {
		if _, err := d.Publish(ctx, newSample(i), &opts[i%len(opts)]); err != nil {
			log.Fatal(err)
		}
	})
	if err := rcv.waitCount(before+int64(total), 5*time.Minute); err != nil {
		log.Fatal(err)
	}
	cpuUs = (cpuTime() - cpu).Seconds() * 1e6 / float64(total)
	return float64(total) / time.Duration(rcv.last.Load()-start.UnixNano()).Seconds(), cpuUs
}

// hangServer holds every request until release.
type hangServer struct {
	url     string
	srv     *http.Server
	once    sync.Once
	release func()
}

func startHang() *hangServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	h := &hangServer{url: "http://" + ln.Addr().String() + "/hang"}
	h.release = func() { h.once.Do(func() { close(done) }) }
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-done:
		case <-r.Context().Done():
		}
	})}
	go h.srv.Serve(ln)
	return h
}

func (h *hangServer) close() {
	h.release()
	h.srv.Close()
}

func printOrdered(w io.Writer, rows []orderedRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-50s %12s %12s %16s  %s\n", "ordered delivery (one endpoint, deliveries/s)", "median", "vs unordered", "CPU us/delivery", "rounds")
	for _, r := range rows {
		rounds := ""
		for _, x := range r.Rounds {
			rounds += fmt.Sprintf(" %.0f", x)
		}
		fmt.Fprintf(w, "%-50s %12.0f %12.3f %16.1f %s\n", r.Name, r.PerSec, r.VsUnordered, r.CPUus, rounds)
	}
}
