// Command postgres shows hookline on PostgreSQL: a shop that records an
// order and publishes its webhook in the same transaction, and two
// dispatchers (as two replicas of the app would run) sharing the delivery
// work through one schema. A rolled back order sends nothing.
//
//	go run ./examples/postgres -db postgres://postgres@127.0.0.1:5432/test
//
// The database URL comes from -db, else DATABASE_URL, else the local test
// database. Each run creates two schemas of its own, hookline_example_<hex>
// (hookline's tables) and shop_example_<hex> (the shop's orders), and drops
// both when it ends, so runs leave nothing behind and two runs at once do
// not meet. (Versions before v0.1.0 used fixed schemas hookline_example and
// shop_example and left them; drop those by hand.)
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OrderPlaced is the event the shop publishes.
type OrderPlaced struct {
	OrderID int64  `json:"order_id"`
	Item    string `json:"item"`
}

// EventType names the event.
func (OrderPlaced) EventType() string { return "order.placed" }

func main() {
	def := os.Getenv("DATABASE_URL")
	if def == "" {
		def = "postgres://postgres@127.0.0.1:5432/test"
	}
	url := flag.String("db", def, "PostgreSQL URL")
	flag.Parse()
	if err := run(*url, ""); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// run runs the example on the database at url, in schemas ending in
// "_"+suffix (empty: a random suffix).
func run(url, suffix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()

	// This run's schemas, dropped when it returns: after the dispatchers
	// and stores below have shut down (deferred calls run last first).
	if suffix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		suffix = hex.EncodeToString(b[:])
	}
	hooklineSchema, shopSchema := "hookline_example_"+suffix, "shop_example_"+suffix
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = pool.Exec(dctx, "DROP SCHEMA IF EXISTS "+hooklineSchema+", "+shopSchema+" CASCADE")
	}()

	// The host's own table.
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+shopSchema+"; CREATE TABLE "+shopSchema+
		".orders (id bigserial PRIMARY KEY, item text NOT NULL)"); err != nil {
		return err
	}

	// A receiver that verifies signatures and counts what it got.
	var mu sync.Mutex
	got := map[string]int{}
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
		fmt.Printf("  receiver got %s from %s: %s\n", r.Header.Get("webhook-id"), r.Header.Get("X-Replica"), body)
	}))
	defer srv.Close()

	// Two replicas: each its own Store and Dispatcher on the same schema.
	// Migrate is safe to run from both at once.
	var ds []*webhook.Dispatcher
	for _, name := range []string{"replica-a", "replica-b"} {
		store := pgstore.New(pool, &pgstore.Options{Schema: hooklineSchema})
		if err := store.Migrate(ctx); err != nil {
			return err
		}
		defer store.Close()
		d, err := webhook.New(webhook.Config{
			Store:                store,
			AllowHTTP:            true, // the local receiver is plain http
			AllowPrivateNetworks: true, // ...on loopback
			Hooks: webhook.Hooks{BeforeAttempt: func(_ context.Context, req *http.Request, _ *webhook.Delivery) {
				req.Header.Set("X-Replica", name)
			}},
		})
		if err != nil {
			return err
		}
		if err := d.Start(ctx); err != nil {
			return err
		}
		defer d.Shutdown(context.Background())
		ds = append(ds, d)
	}

	tenant := "shop"
	ep := &webhook.Endpoint{Tenant: tenant, URL: srv.URL + "/orders", EventTypes: []string{"order.*"}}
	if err := ds[0].CreateEndpoint(ctx, ep); err != nil {
		return err
	}
	secret = ep.Secret

	// Place orders: the order row and its webhook commit together. The
	// third order is rolled back: neither the row nor the webhook exists.
	var sent []string
	var rolledBack string
	for i, item := range []string{"tea", "kettle", "broken cup", "mug", "teapot", "saucer"} {
		id, err := placeOrder(ctx, pool, ds[i%2], shopSchema, tenant, item, i != 2)
		if err != nil {
			return err
		}
		if i == 2 {
			rolledBack = id
			fmt.Printf("order %q rolled back (message %s never stored)\n", item, id)
			continue
		}
		sent = append(sent, id)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(sent) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d webhooks arrived", n, len(sent))
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range sent {
		if got[id] != 1 {
			return fmt.Errorf("message %s arrived %d times", id, got[id])
		}
	}
	if got[rolledBack] != 0 {
		return fmt.Errorf("the rolled back order's webhook arrived")
	}
	fmt.Printf("%d orders committed, %d webhooks delivered once each, the rolled back one never\n", len(sent), len(sent))
	return nil
}

// placeOrder inserts an order and publishes order.placed in one
// transaction, committed or rolled back, and returns the message ID.
func placeOrder(ctx context.Context, pool *pgxpool.Pool, d *webhook.Dispatcher, schema, tenant, item string, commit bool) (string, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var id int64
	if err := tx.QueryRow(ctx, "INSERT INTO "+schema+".orders (item) VALUES ($1) RETURNING id", item).Scan(&id); err != nil {
		return "", err
	}
	msg, err := webhook.PublishTx[pgx.Tx](ctx, d, tx, OrderPlaced{OrderID: id, Item: item}, &webhook.PublishOpts{Tenant: tenant})
	if err != nil {
		return "", err
	}
	if commit {
		if err := tx.Commit(ctx); err != nil {
			return "", err
		}
		fmt.Printf("order %d %q committed with message %s\n", id, item, msg.ID)
	}
	return msg.ID, nil
}
