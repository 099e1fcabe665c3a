package main

// Ordered delivery on Postgres (issue 17): deliveries/s to one Ordered
// endpoint with all events under one ordering key and spread over 100
// keys, beside the same endpoint unordered, in alternating rounds of one
// run. Each round: a fresh schema, one endpoint, one dispatcher with the
// default Config, 8 publishers, timed from the first publish to the last
// receipt, with the Go process's and the side's Postgres backends' CPU per
// delivery (as in the River rows).

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"strconv"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
)

var (
	pgOrderedRun        = flag.Bool("pg-ordered", true, "measure ordered endpoints on Postgres, 1 key and 100 keys beside unordered (with -database-url)")
	pgOrderedDeliveries = flag.Int("pg-ordered-deliveries", 4000, "deliveries per round of the ordered rows")
)

// orderedRow is one side of the ordered rows: its rounds.
type orderedRow struct {
	Name       string    `json:"name"`
	Keys       int       `json:"keys"` // 0: unordered
	Deliveries int       `json:"deliveries"`
	PerSec     []float64 `json:"deliveries_per_sec_rounds"`
	GoCPUus    []float64 `json:"go_cpu_us_rounds"`
	PgCPUus    []float64 `json:"pg_cpu_us_rounds"`
}

func init() { pgOrdered = orderedRows }

// orderedRows alternates rounds of an unordered endpoint, an ordered one
// with one key and an ordered one with 100 keys.
func orderedRows(o options, rcv *receiver) []orderedRow {
	rows := []orderedRow{
		{Name: "unordered endpoint", Keys: 0},
		{Name: "ordered endpoint, 1 key", Keys: 1},
		{Name: "ordered endpoint, 100 keys", Keys: 100},
	}
	n := *pgOrderedDeliveries
	for round := range o.rounds {
		for i := range rows {
			r := &rows[i]
			r.Deliveries = n
			rate, gocpu, pgcpu := orderedRound(o, rcv, r.Keys, n)
			r.PerSec, r.GoCPUus, r.PgCPUus = append(r.PerSec, rate), append(r.GoCPUus, gocpu), append(r.PgCPUus, pgcpu)
			fmt.Fprintf(os.Stderr, "ordered round %d %s: %.0f deliveries/s, CPU/delivery Go %.0f us, Postgres %.0f us\n",
				round+1, r.Name, rate, gocpu, pgcpu)
			runtime.GC()
		}
	}
	return rows
}

// orderedRound publishes n events to one endpoint, Ordered when keys > 0
// (event i under key i mod keys), and returns deliveries/s and CPU per
// delivery.
func orderedRound(o options, rcv *receiver, keys, n int) (perSec, goUS, pgUS float64) {
	ctx := context.Background()
	const app = "bench_hookline_ordered"
	schema := freshSchema("hookline_ord_")
	pool := newBenchPool(o, app)
	defer pool.Close()
	st := pgstore.New(pool, &pgstore.Options{Schema: schema})
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	defer func() {
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			log.Fatal(err)
		}
	}()
	d, err := webhook.New(defaultConfig(st))
	if err != nil {
		log.Fatal(err)
	}
	if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: rcv.url + "/ordered", Ordered: keys > 0}); err != nil {
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
	opts := make([]webhook.PublishOpts, max(keys, 1))
	for i := range opts {
		if keys > 0 {
			opts[i].OrderingKey = "key_" + strconv.Itoa(i)
		}
	}
	before := rcv.count.Load()
	cpu := startCPU(pool, app)
	start := time.Now()
	inParallel(publishers, n, func(i int) {
		if _, err := d.Publish(ctx, padded(i), &opts[i%len(opts)]); err != nil {
			log.Fatal(err)
		}
	})
	if err := rcv.waitCount(before+int64(n), 5*time.Minute); err != nil {
		log.Fatal(err)
	}
	elapsed := time.Duration(rcv.last.Load() - start.UnixNano())
	goUS, pgUS = cpu.perDelivery(n)
	return float64(n) / elapsed.Seconds(), goUS, pgUS
}

func printOrdered(w io.Writer, rows []orderedRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nPostgres, ordered endpoints (medians of alternating rounds; CPU per delivery in us)\n")
	fmt.Fprintf(w, "%-30s %12s %8s %8s %10s  %s\n", "row", "delivered/s", "Go CPU", "PG CPU", "vs unord.", "rounds")
	var unordered float64
	for _, r := range rows {
		rate := median(r.PerSec)
		if r.Keys == 0 {
			unordered = rate
		}
		ratio := ""
		if unordered > 0 {
			ratio = fmt.Sprintf("%.3f", rate/unordered)
		}
		fmt.Fprintf(w, "%-30s %12.0f %8.0f %8.0f %10s  %.0f\n", r.Name, rate, median(r.GoCPUus), median(r.PgCPUus), ratio, r.PerSec)
	}
}
