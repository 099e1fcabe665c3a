package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"runtime"
	"strconv"
	"time"

	webhook "github.com/hookline/webhook"
)

// Ordered delivery rows: deliveries/s to one endpoint, unordered beside
// Ordered with 1 key (one delivery in flight at a time) and with 100 keys,
// and unordered beside another endpoint's 100k deliveries that are not
// due, once unordered (in the claim index) and once ordered (waiting, out
// of it): what the option costs endpoints that do not use it is the
// difference of the last two rows, nothing if waiting deliveries stay out
// of the claim path.
// Every store runs the same cases through orderedRows; rounds alternate
// between the cases.

var (
	orderedDeliveries = flag.Int("ordered-deliveries", 5000, "deliveries per round of the ordered delivery rows (0: skip them)")
	orderedWaiting    = flag.Int("ordered-waiting", 100000, "deliveries of another endpoint, not due, beside the unordered endpoint in the last two ordered rows")
)

// orderedRow is one row of the ordered delivery table.
type orderedRow struct {
	Name    string `json:"name"`
	Store   string `json:"store"`
	Keys    int    `json:"keys"`   // 0: the endpoint is not ordered
	Waiting int    `json:"beside"` // deliveries of another endpoint, not due
	// BesideOrdered says those deliveries are ordered (waiting), not in the
	// claim index.
	BesideOrdered bool      `json:"beside_ordered,omitempty"`
	Deliveries    int       `json:"deliveries"`
	PerSec        float64   `json:"per_sec"`
	Rounds        []float64 `json:"rounds"`
	CPUus         float64   `json:"cpu_us_per_delivery"`
	// VsUnordered is PerSec over the unordered row's of the same store.
	VsUnordered float64 `json:"vs_unordered"`
}

type orderedCase struct {
	name             string
	keys             int
	waiting          int  // deliveries to a bystander endpoint, not due
	bystanderOrdered bool // the bystander is ordered: its deliveries wait
}

// orderedRows runs o.rounds of every case on stores made by newStore, the
// cases alternating within each round, and returns their medians.
func orderedRows(o options, rcv *receiver, store string, newStore func() (webhook.Store, func())) []orderedRow {
	total := *orderedDeliveries
	if total <= 0 {
		return nil
	}
	cases := []orderedCase{
		{"unordered", 0, 0, false},
		{"ordered, 1 key", 1, 0, false},
		{"ordered, 100 keys", 100, 0, false},
		{fmt.Sprintf("unordered, beside %d not due", *orderedWaiting), 0, *orderedWaiting, false},
		{fmt.Sprintf("unordered, beside %d waiting", *orderedWaiting), 0, *orderedWaiting, true},
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
		out[i] = orderedRow{Name: store + ", " + c.name, Store: store, Keys: c.keys, Waiting: c.waiting, BesideOrdered: c.bystanderOrdered, Deliveries: total,
			PerSec: median(rates[i]), Rounds: rates[i], CPUus: median(cpus[i])}
		out[i].VsUnordered = out[i].PerSec / out[0].PerSec
	}
	return out
}

// orderedRound publishes total events (8 publishers) to one endpoint,
// Ordered with c.keys keys when c.keys > 0, and returns deliveries per
// second from the first publish to the last receipt, and the process's CPU
// time per delivery over that span. With c.waiting, another tenant's
// endpoint first gets c.waiting deliveries due in a day (fillBystander).
func orderedRound(rcv *receiver, total int, c orderedCase, newStore func() (webhook.Store, func())) (perSec, cpuUs float64) {
	ctx := context.Background()
	st, cleanup := newStore()
	defer cleanup()
	d, err := webhook.New(defaultConfig(st))
	if err != nil {
		log.Fatal(err)
	}
	if c.waiting > 0 {
		fillBystander(ctx, st, d, c.waiting, c.bystanderOrdered)
	}
	if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: rcv.url + "/ordered", Ordered: c.keys > 0}); err != nil {
		log.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer func() {
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

// fillBystander stores n deliveries of n messages of tenant "bystander"
// to an endpoint of its own, due in a day, in batches of 1,000 straight
// into the store: with ordered, one queue of one key (its head not due,
// the rest waiting behind it); without, n deliveries in the claim index
// that are not due.
func fillBystander(ctx context.Context, st webhook.Store, d *webhook.Dispatcher, n int, ordered bool) {
	bi, ok := st.(webhook.BatchInserter)
	if !ok {
		log.Fatalf("%T implements no webhook.BatchInserter", st)
	}
	ep := &webhook.Endpoint{Tenant: "bystander", URL: "https://bystander.example/hook", Ordered: ordered}
	if err := d.CreateEndpoint(ctx, ep); err != nil {
		log.Fatal(err)
	}
	now := time.Now().UTC()
	due := now.Add(24 * time.Hour)
	payload := mustJSON(newSample(0))
	for i := 0; i < n; i += 1000 {
		batch := make([]webhook.MessageInsert, 0, 1000)
		for j := i; j < min(n, i+1000); j++ {
			id := "bys_" + strconv.Itoa(j)
			msg := &webhook.Message{ID: "msg_" + id, Tenant: "bystander", Type: "reward.issued", Payload: payload, OrderingKey: "k", CreatedAt: now}
			del := &webhook.Delivery{ID: "dlv_" + id, MessageID: msg.ID, EndpointID: ep.ID, Tenant: "bystander", EventType: msg.Type,
				State: webhook.StatePending, NextAttemptAt: due, CreatedAt: now, UpdatedAt: now, Ordered: ordered}
			if ordered {
				del.OrderingKey = "k"
			}
			batch = append(batch, webhook.MessageInsert{Message: msg, Deliveries: []*webhook.Delivery{del}})
		}
		if _, err := bi.InsertMessages(ctx, batch); err != nil {
			log.Fatal(err)
		}
	}
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
