package main

// Ordered delivery on Postgres: the ordered rows of ordered.go
// (unordered, ordered with 1 key and with 100 keys, unordered beside an
// ordered endpoint holding many waiting deliveries) on pgstore, each round
// in a fresh schema, with the default Config and pool of the other
// Postgres rows.

import (
	"flag"
)

var (
	pgOrderedRun        = flag.Bool("pg-ordered", true, "run the ordered delivery rows on Postgres too (with -database-url)")
	pgOrderedDeliveries = flag.Int("pg-ordered-deliveries", 4000, "deliveries per round of the Postgres ordered rows")
	pgOrderedWaiting    = flag.Int("pg-ordered-waiting", 20000, "waiting ordered deliveries beside the unordered endpoint in the last Postgres ordered row")
)

// postgresOrderedRows runs orderedRows on pgstore, with the Postgres
// sizes (-pg-ordered-deliveries, -pg-ordered-waiting).
func postgresOrderedRows(o options, rcv *receiver) []orderedRow {
	n, w := *orderedDeliveries, *orderedWaiting
	defer func() { *orderedDeliveries, *orderedWaiting = n, w }()
	*orderedDeliveries, *orderedWaiting = *pgOrderedDeliveries, *pgOrderedWaiting
	return orderedRows(o, rcv, "Postgres store", freshPgStore(o, "hookline_ord_"))
}
