package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// postgresRounds measures the Postgres store with one and with two
// dispatchers (each with its own pool, as two app instances would have),
// 16 endpoints of 16 tenants, each round in a fresh schema.
func postgresRounds(o options, rcv *receiver) []throughput {
	var out []throughput
	const eps = 16
	for _, instances := range []int{1, 2} {
		var rounds []float64
		for range o.rounds {
			rounds = append(rounds, postgresRound(o, rcv, eps, instances))
			runtime.GC()
		}
		out = append(out, throughput{
			Name: fmt.Sprintf("Postgres store, %d dispatcher(s), %d endpoints", instances, eps), Endpoints: eps,
			Concurrency: concurrency(eps), Deliveries: o.pgDeliveries, HooklinePerSec: median(rounds), HooklineRounds: rounds,
		})
	}
	return out
}

func postgresRound(o options, rcv *receiver, eps, instances int) float64 {
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "hookline_bench_" + hex.EncodeToString(b)
	var ds []*webhook.Dispatcher
	var pools []*pgxpool.Pool
	var sts []*countingStore
	for i := range instances {
		cfg, err := pgxpool.ParseConfig(o.databaseURL)
		if err != nil {
			log.Fatal(err)
		}
		if !strings.Contains(o.databaseURL, "pool_max_conns") {
			cfg.MaxConns = 16 // room for the 8 publishers beside claims and records
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			log.Fatal(err)
		}
		pools = append(pools, pool)
		st := &countingStore{Store: pgstore.New(pool, &pgstore.Options{Schema: schema})}
		sts = append(sts, st)
		if i == 0 {
			if err := st.Migrate(ctx); err != nil {
				log.Fatal(err)
			}
		}
		d, err := webhook.New(defaultConfig(st))
		if err != nil {
			log.Fatal(err)
		}
		ds = append(ds, d)
	}
	perSec := runRound(rcv, o.pgDeliveries, eps, ds)
	for i, st := range sts {
		fmt.Fprintf(os.Stderr, "Postgres store, %d dispatcher(s), dispatcher %d: %.0f deliveries/s, %s\n", instances, i+1, perSec, st)
	}
	if _, err := pools[0].Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		log.Fatal(err)
	}
	for _, p := range pools {
		p.Close()
	}
	return perSec
}
