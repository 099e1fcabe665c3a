package main

// River side by side: the same webhook job (sign the envelope with
// webhook.Sign, POST it to the same loopback receiver) done by River
// (riverqueue/river v0.51.2, riverpgxv5, its own migrations in a fresh
// schema) and by hookline's Postgres store, on the same database, in
// alternating rounds of one run. River is tuned as its own benchmark
// tunes it: MaxWorkers 64, FetchCooldown 2 ms, FetchPollInterval 20 ms.
// River lives in this bench module only, never in the library's modules.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// compareRow is one configuration measured on every side.
type compareRow struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Fanout int    `json:"fanout"`
	// Batch is how many events one publishing call carries (1: one event
	// per call; River then inserts the event's fan-out jobs with
	// InsertMany when there are several).
	Batch int `json:"batch"`
	// Events per round.
	Events int         `json:"events"`
	Sides  []sideStats `json:"sides"`
}

// sideStats are one side's rounds of a row and their medians.
type sideStats struct {
	Side string `json:"side"`
	// Deliveries per second from the first publish to the last receipt,
	// with the workers running.
	PerSec []float64 `json:"deliveries_per_sec_rounds"`
	// Deliveries published per second with no worker running.
	PublishPerSec []float64 `json:"publish_only_deliveries_per_sec_rounds"`
	// CPU per delivery in the timed phase, in microseconds: the Go
	// process (publishers, workers, receiver) and the Postgres backends
	// serving the side's pool (from /proc/<pid>/stat).
	GoCPUus []float64 `json:"go_cpu_us_rounds"`
	PgCPUus []float64 `json:"pg_cpu_us_rounds"`
}

func (s sideStats) medians() (rate, pub, gocpu, pgcpu float64) {
	return median(s.PerSec), median(s.PublishPerSec), median(s.GoCPUus), median(s.PgCPUus)
}

// side runs one round of a row and returns its figures.
type side struct {
	name string
	run  func(o options, rcv *receiver, r compareRow) (perSec, pubPerSec, goCPU, pgCPU float64)
}

// hooklineVariants are changes to the Postgres store measured against
// the default in the same rows (-pg-variants).
var hooklineVariants = map[string]func(*pgstore.Options, *webhook.Config){
	"nogroup": func(o *pgstore.Options, _ *webhook.Config) { o.MaxGroup = 1 },
	"durable": func(o *pgstore.Options, _ *webhook.Config) { o.DurableLeases = true },
	"nocache": func(o *pgstore.Options, _ *webhook.Config) { o.DisableMatchCache = true },
	// before: the store without group commit, async lease commits and the match cache, as far as
	// options go (no group commit, durable leases, no match cache).
	"before": func(o *pgstore.Options, _ *webhook.Config) {
		o.MaxGroup, o.DurableLeases, o.DisableMatchCache = 1, true, true
	},
}

// schemaVariants change the schema after Migrate, to measure what a part
// of it costs (not something to run in production).
var schemaVariants = map[string]func(ctx context.Context, pool *pgxpool.Pool, schema string){
	// notriggers drops the backlog counters' triggers (migration 0005).
	"notriggers": func(ctx context.Context, pool *pgxpool.Pool, schema string) {
		for _, tg := range []string{"backlog_insert", "backlog_update", "backlog_delete"} {
			if _, err := pool.Exec(ctx, "DROP TRIGGER "+tg+" ON "+pgx.Identifier{schema}.Sanitize()+".deliveries"); err != nil {
				log.Fatal(err)
			}
		}
	},
}

// compareRun measures the rows o.pgRows names, rounds alternating between
// River, hookline and any hookline variants.
func compareRun(o options, rcv *receiver) []compareRow {
	all := []compareRow{
		{Key: "fanout1", Name: "fan-out 1, one event per call (River Insert)", Fanout: 1, Batch: 1},
		{Key: "fanout10", Name: "fan-out 10, one event per call (River InsertMany of its 10 jobs)", Fanout: 10, Batch: 1},
		{Key: "batch1000", Name: "fan-out 1, 1,000 events per call (River InsertMany, hookline PublishBatch)", Fanout: 1, Batch: 1000},
	}
	var sides []side
	for _, sd := range []side{{name: "river", run: riverRound}, {name: "hookline", run: hooklineCompareRound(nil, nil)}} {
		if strings.Contains(","+o.pgSides+",", ","+sd.name+",") {
			sides = append(sides, sd)
		}
	}
	for _, v := range strings.Split(o.pgVariants, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		mod, ok := hooklineVariants[v]
		if !ok {
			mod, ok = pacingVariant(v)
		}
		after := schemaVariants[v]
		if !ok && after == nil {
			log.Fatalf("unknown -pg-variants entry %q", v)
		}
		sides = append(sides, side{name: "hookline-" + v, run: hooklineCompareRound(mod, after)})
	}
	var out []compareRow
	for _, r := range all {
		if !strings.Contains(","+o.pgRows+",", ","+r.Key+",") {
			continue
		}
		r.Events = max(r.Batch, o.pgDeliveries/r.Fanout/r.Batch*r.Batch)
		stats := make([]sideStats, len(sides))
		for i := range sides {
			stats[i].Side = sides[i].name
		}
		for round := range o.rounds {
			for i, sd := range sides {
				var rate, pub, gocpu, pgcpu float64
				run := func() { rate, pub, gocpu, pgcpu = sd.run(o, rcv, r) }
				if sd.name == "hookline" {
					profileHookline(run) // -cpuprofile: the first hookline round (without -memory rows)
				} else {
					run()
				}
				st := &stats[i]
				st.PerSec, st.PublishPerSec = append(st.PerSec, rate), append(st.PublishPerSec, pub)
				st.GoCPUus, st.PgCPUus = append(st.GoCPUus, gocpu), append(st.PgCPUus, pgcpu)
				fmt.Fprintf(os.Stderr, "%s round %d %s: %.0f deliveries/s, publish-only %.0f/s, CPU/delivery Go %.0f us, Postgres %.0f us\n",
					r.Key, round+1, sd.name, rate, pub, gocpu, pgcpu)
				runtime.GC()
			}
		}
		r.Sides = stats
		out = append(out, r)
	}
	return out
}

// padded is the event of these rows: a sample padded to about 900 bytes
// of JSON, so the envelope is close to 1 KB.
func padded(i int) sample {
	ev := newSample(i)
	ev.Padding = strings.Repeat("x", max(0, 900-len(mustJSON(ev))-len(`,"padding":""`)))
	return ev
}

// freshSchema returns a new random schema name with a prefix.
func freshSchema(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newBenchPool opens a pool whose connections carry appName, so that
// their backends can be found in pg_stat_activity.
func newBenchPool(o options, appName string) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(o.databaseURL)
	if err != nil {
		log.Fatal(err)
	}
	if !strings.Contains(o.databaseURL, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = procApp(appName)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	return pool
}

// procApp is appName with this process's ID, so that two bench programs
// on one database do not count each other's backends.
func procApp(appName string) string { return appName + "_" + strconv.Itoa(os.Getpid()) }

// pgCPU reads the CPU time of the backends whose application_name is
// appName (with this process's ID), by pid, from /proc (the database
// runs on this machine).
func pgCPU(pool *pgxpool.Pool, appName string) map[int]time.Duration {
	rows, err := pool.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE application_name = $1", procApp(appName))
	if err != nil {
		log.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		log.Fatal(err)
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
		if err != nil {
			continue // gone, or Postgres is not local
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of stat
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[int(pid)] = time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	return out
}

// cpuMeter measures the Go process's and the Postgres backends' CPU over
// a phase.
type cpuMeter struct {
	pool    *pgxpool.Pool
	app     string
	goStart time.Duration
	pgStart map[int]time.Duration
}

func startCPU(pool *pgxpool.Pool, app string) *cpuMeter {
	return &cpuMeter{pool: pool, app: app, goStart: cpuTime(), pgStart: pgCPU(pool, app)}
}

// perDelivery returns Go and Postgres CPU microseconds per delivery.
func (m *cpuMeter) perDelivery(deliveries int) (goUS, pgUS float64) {
	goUS = (cpuTime() - m.goStart).Seconds() * 1e6 / float64(deliveries)
	var pg time.Duration
	for pid, t := range pgCPU(m.pool, m.app) {
		pg += t - m.pgStart[pid]
	}
	return goUS, pg.Seconds() * 1e6 / float64(deliveries)
}

// publishAll calls publish(first, n) from 8 goroutines for events
// [0, total) in calls of batch events.
func publishAll(total, batch int, publish func(first, n int)) {
	inParallel(publishers, (total+batch-1)/batch, func(c int) {
		publish(c*batch, min(batch, total-c*batch))
	})
}

// hooklineCompareRound returns a round of hookline's Postgres store:
// 16 tenants with r.Fanout endpoints each, every event to one tenant.
func hooklineCompareRound(mod func(*pgstore.Options, *webhook.Config), after func(context.Context, *pgxpool.Pool, string)) func(options, *receiver, compareRow) (float64, float64, float64, float64) {
	return func(o options, rcv *receiver, r compareRow) (float64, float64, float64, float64) {
		ctx := context.Background()
		const app = "bench_hookline"
		schema := freshSchema("hookline_cmp_")
		pool := newBenchPool(o, app)
		defer pool.Close()
		sopts := pgstore.Options{Schema: schema}
		cfg := defaultConfig(nil)
		if mod != nil {
			mod(&sopts, &cfg)
		}
		st := &countingStore{Store: pgstore.New(pool, &sopts)}
		defer st.Close()
		if err := st.Migrate(ctx); err != nil {
			log.Fatal(err)
		}
		if after != nil {
			after(ctx, pool, schema)
		}
		defer func() {
			if _, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				log.Fatal(err)
			}
		}()
		cfg.Store = st
		d, err := webhook.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		const tenants = 16
		for t := range tenants {
			for j := range r.Fanout {
				ep := &webhook.Endpoint{Tenant: "tenant_" + strconv.Itoa(t), URL: rcv.url + "/" + strconv.Itoa(t*r.Fanout+j)}
				if err := d.CreateEndpoint(ctx, ep); err != nil {
					log.Fatal(err)
				}
			}
		}
		opts := make([]webhook.PublishOpts, tenants)
		for i := range opts {
			opts[i].Tenant = "tenant_" + strconv.Itoa(i)
		}
		publish := func(first, n int) {
			if r.Batch == 1 {
				for i := first; i < first+n; i++ {
					if _, err := d.Publish(ctx, padded(i), &opts[i%tenants]); err != nil {
						log.Fatal(err)
					}
				}
				return
			}
			evs := make([]webhook.BatchEvent, n)
			for k := range evs {
				evs[k] = webhook.BatchEvent{Event: padded(first + k), Opts: &opts[(first+k)%tenants]}
			}
			if _, err := d.PublishBatch(ctx, evs); err != nil {
				log.Fatal(err)
			}
		}
		defer func() { fmt.Fprintf(os.Stderr, "%s hookline statements in the timed phase: %s\n", r.Key, st) }()
		return timedPhases(o, rcv, pool, app, schema, r, publish, st.reset,
			func() {
				if err := d.Start(ctx); err != nil {
					log.Fatal(err)
				}
			},
			func() {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				_ = d.Shutdown(sctx)
			})
	}
}

// timedPhases runs a round's two phases: publish-only (a quarter of the
// events, no worker running: start runs after it, and that backlog is
// delivered before the next phase), then (begin, when not nil, marks its
// start) publish and delivery of
// r.Events events with the workers running, timed from the first publish
// to the last receipt. It returns deliveries/s, publish-only
// deliveries/s, and CPU per delivery (Go, Postgres) of the second phase.
func timedPhases(o options, rcv *receiver, pool *pgxpool.Pool, app, schema string, r compareRow,
	publish func(first, n int), begin, start, stop func()) (float64, float64, float64, float64) {
	pre := max(r.Batch, r.Events/4/r.Batch*r.Batch)
	base := 1 << 30 // event numbers of the publish-only phase, apart from the timed ones
	before := rcv.count.Load()
	t0 := time.Now()
	publishAll(pre, r.Batch, func(first, n int) { publish(base+first, n) })
	pubRate := float64(pre*r.Fanout) / time.Since(t0).Seconds()
	start()
	defer stop()
	if err := rcv.waitCount(before+int64(pre*r.Fanout), 5*time.Minute); err != nil {
		log.Fatal(err)
	}
	// Autovacuum is off on the machines this runs on: VACUUM ANALYZE the
	// side's tables between the phases (each round has a fresh schema).
	vacuumSchema(pool, schema)
	before = rcv.count.Load()
	deliveries := r.Events * r.Fanout
	if begin != nil {
		begin()
	}
	cpu := startCPU(pool, app)
	t1 := time.Now()
	publishAll(r.Events, r.Batch, publish)
	if err := rcv.waitCount(before+int64(deliveries), 5*time.Minute); err != nil {
		log.Fatal(err)
	}
	elapsed := time.Duration(rcv.last.Load() - t1.UnixNano())
	goUS, pgUS := cpu.perDelivery(deliveries)
	return float64(deliveries) / elapsed.Seconds(), pubRate, goUS, pgUS
}

// vacuumSchema runs VACUUM ANALYZE on every table of schema.
func vacuumSchema(pool *pgxpool.Pool, schema string) {
	ctx := context.Background()
	rows, err := pool.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
	if err != nil {
		log.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tables {
		if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+pgx.Identifier{schema, t}.Sanitize()); err != nil {
			log.Fatal(err)
		}
	}
}

// riverArgs is River's job: one delivery of an envelope to one endpoint.
type riverArgs struct {
	MessageID string          `json:"message_id"`
	Endpoint  int             `json:"endpoint"`
	Body      json.RawMessage `json:"body"`
}

func (riverArgs) Kind() string { return "webhook_delivery" }

// riverWorker signs the body as hookline does (webhook.Sign, Standard
// Webhooks) and POSTs it; a non-2xx answer is an error (River retries).
type riverWorker struct {
	river.WorkerDefaults[riverArgs]
	client  *http.Client
	url     string
	secrets []string
}

func (w *riverWorker) Work(ctx context.Context, job *river.Job[riverArgs]) error {
	a := job.Args
	now := time.Now()
	sig, err := webhook.Sign(w.secrets[a.Endpoint], a.MessageID, now, a.Body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url+"/"+strconv.Itoa(a.Endpoint), bytes.NewReader(a.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", a.MessageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("endpoint %d answered %d", a.Endpoint, resp.StatusCode)
	}
	return nil
}

// envelope is the body hookline sends for ev, built the same way for
// River's jobs.
func envelope(id string, ev sample) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"id": id, "type": ev.EventType(), "timestamp": time.Now().UTC(), "data": ev})
	return b
}

// riverRound is a round of River: migrations in a fresh schema, 16 x
// fanout endpoints' secrets, and a client with 64 workers.
func riverRound(o options, rcv *receiver, r compareRow) (float64, float64, float64, float64) {
	ctx := context.Background()
	const app = "bench_river"
	schema := freshSchema("river_cmp_")
	pool := newBenchPool(o, app)
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		log.Fatal(err)
	}
	defer func() {
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			log.Fatal(err)
		}
	}()
	driver := riverpgxv5.New(pool)
	quiet := slog.New(slog.DiscardHandler)
	mig, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		log.Fatal(err)
	}
	const tenants = 16
	eps := tenants * r.Fanout
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	defer tr.CloseIdleConnections()
	w := &riverWorker{client: &http.Client{Transport: tr, Timeout: 15 * time.Second}, url: rcv.url}
	for range eps {
		w.secrets = append(w.secrets, webhook.NewSecret())
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	client, err := river.NewClient(driver, &river.Config{
		Schema:            schema,
		Logger:            quiet,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 64}},
		FetchCooldown:     2 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Workers:           workers,
	})
	if err != nil {
		log.Fatal(err)
	}
	var idmu sync.Mutex
	seq := 0
	newID := func() string {
		idmu.Lock()
		defer idmu.Unlock()
		seq++
		return "msg_" + strconv.Itoa(seq)
	}
	publish := func(first, n int) {
		if r.Batch == 1 && r.Fanout == 1 {
			for i := first; i < first+n; i++ {
				id := newID()
				if _, err := client.Insert(ctx, riverArgs{MessageID: id, Endpoint: i % tenants, Body: envelope(id, padded(i))}, nil); err != nil {
					log.Fatal(err)
				}
			}
			return
		}
		if r.Batch == 1 { // one event: its fan-out jobs in one InsertMany
			for i := first; i < first+n; i++ {
				id := newID()
				body := envelope(id, padded(i))
				ps := make([]river.InsertManyParams, r.Fanout)
				for j := range ps {
					ps[j].Args = riverArgs{MessageID: id, Endpoint: (i%tenants)*r.Fanout + j, Body: body}
				}
				if _, err := client.InsertMany(ctx, ps); err != nil {
					log.Fatal(err)
				}
			}
			return
		}
		ps := make([]river.InsertManyParams, 0, n*r.Fanout)
		for i := first; i < first+n; i++ {
			id := newID()
			body := envelope(id, padded(i))
			for j := range r.Fanout {
				ps = append(ps, river.InsertManyParams{Args: riverArgs{MessageID: id, Endpoint: (i%tenants)*r.Fanout + j, Body: body}})
			}
		}
		if _, err := client.InsertMany(ctx, ps); err != nil {
			log.Fatal(err)
		}
	}
	return timedPhases(o, rcv, pool, app, schema, r, publish, nil,
		func() {
			if err := client.Start(ctx); err != nil {
				log.Fatal(err)
			}
		},
		func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = client.Stop(sctx)
		})
}

func printCompare(w io.Writer, rows []compareRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nPostgres, River vs hookline (medians; CPU per delivery in us; every round in the JSON)\n")
	fmt.Fprintf(w, "%-74s %-18s %12s %12s %8s %8s %9s\n", "row", "side", "delivered/s", "publish/s", "Go CPU", "PG CPU", "vs River")
	for _, r := range rows {
		var river float64
		for _, s := range r.Sides {
			rate, pub, gocpu, pgcpu := s.medians()
			if s.Side == "river" {
				river = rate
			}
			ratio := ""
			if river > 0 {
				ratio = fmt.Sprintf("%.2f", rate/river)
			}
			fmt.Fprintf(w, "%-74s %-18s %12.0f %12.0f %8.0f %8.0f %9s\n", r.Name, s.Side, rate, pub, gocpu, pgcpu, ratio)
		}
	}
}

// freshPgStore returns a factory of pgstore stores, each migrated into a
// schema of its own (named from prefix) that its cleanup drops.
func freshPgStore(o options, prefix string) func() (webhook.Store, func()) {
	return func() (webhook.Store, func()) {
		ctx := context.Background()
		schema := freshSchema(prefix)
		pool := newBenchPool(o, "bench_hookline")
		st := pgstore.New(pool, &pgstore.Options{Schema: schema})
		if err := st.Migrate(ctx); err != nil {
			log.Fatal(err)
		}
		return st, func() {
			st.Close()
			if _, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				log.Fatal(err)
			}
			pool.Close()
		}
	}
}
