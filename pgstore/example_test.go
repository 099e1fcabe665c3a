package pgstore_test

import (
	"context"
	"fmt"
	"os"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OrderPlaced is the host's event.
type OrderPlaced struct {
	OrderID int64 `json:"order_id"`
}

func (OrderPlaced) EventType() string { return "order.placed" }

// A dispatcher on Postgres, and an order whose webhook commits or rolls
// back with it. This example needs a PostgreSQL server (DATABASE_URL), so
// it is compiled but not run by go test; examples/postgres runs the same
// steps end to end.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	store := pgstore.New(pool, &pgstore.Options{Schema: "hookline"})
	if err := store.Migrate(ctx); err != nil { // idempotent; safe from every replica at once
		panic(err)
	}
	defer store.Close()
	d, err := webhook.New(webhook.Config{Store: store})
	if err != nil {
		panic(err)
	}
	if err := d.Start(ctx); err != nil {
		panic(err)
	}
	defer d.Shutdown(ctx)

	// PublishTx is a function taking the dispatcher and the transaction: the
	// order row and its webhook commit together, or neither exists.
	tx, err := pool.Begin(ctx)
	if err != nil {
		panic(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var id int64
	if err := tx.QueryRow(ctx, "INSERT INTO orders (item) VALUES ($1) RETURNING id", "teapot").Scan(&id); err != nil {
		panic(err)
	}
	msg, err := webhook.PublishTx[pgx.Tx](ctx, d, tx, OrderPlaced{OrderID: id}, &webhook.PublishOpts{Tenant: "acme"})
	if err != nil {
		panic(err)
	}
	if err := tx.Commit(ctx); err != nil { // only now can a worker see, and send, the message
		panic(err)
	}
	fmt.Println("published", msg.ID)
}
