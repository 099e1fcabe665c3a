// Package pgstore is a PostgreSQL webhook.Store for hookline, on pgx/v5.
//
// Several instances of a host (replicas, each with its own Dispatcher) share
// the delivery work through one schema: Claim takes a batch of due
// deliveries with FOR UPDATE SKIP LOCKED and a lease, so no two instances
// send the same delivery at once, and a crashed instance's deliveries come
// due again when its leases expire. Publishing notifies the other instances
// with NOTIFY inside the publishing transaction, so they wake on commit.
// With webhook.PublishTx and a pgx.Tx, a message and its deliveries commit
// or roll back with the host's own writes; webhook.PublishBatch and
// PublishBatchTx store many messages in one statement and one commit.
//
// What a delivery costs the database is kept small: concurrent publishes
// share one statement and one commit (Options.MaxGroup), the subscribed
// endpoints of a tenant and type are cached in process and invalidated
// across instances by NOTIFY (Options.DisableMatchCache), and claims and
// records commit without waiting for fsync, a loss that at-least-once
// delivery absorbs (Options.DurableLeases). The store asks the dispatcher
// (webhook.Pacer) for fewer, larger claims and records: at most one claim
// per Options.ClaimInterval, and outcomes held up to Options.RecordWindow
// to share a statement. Publishes always wait for fsync: an accepted
// publish survives a crash of Postgres or of the app.
//
// Ordered endpoints (webhook.Endpoint.Ordered) hold their queues in the
// same tables: a queue's waiting deliveries are not in the index claims
// walk, and every write that adds to a queue or finishes its head takes
// the queue's advisory lock and hands the queue on in its own transaction,
// so the queues hold across instances and crashes (ordered.go has the
// argument). Two things follow for webhook.PublishTx to an ordered
// endpoint: the host's transaction keeps the message's queues locked until
// it ends, so other publishes to those queues (never unordered ones) wait
// for it, and it must run under READ COMMITTED, Postgres' default (under
// REPEATABLE READ or SERIALIZABLE the publish is refused with an error
// matching webhook.ErrTxUnsupported). A record that finishes an ordered
// delivery commits durably whatever Options.DurableLeases says.
//
//	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	store := pgstore.New(pool, &pgstore.Options{Schema: "hookline"})
//	if err := store.Migrate(ctx); err != nil { ... }
//	defer store.Close()
//	d, _ := webhook.New(webhook.Config{Store: store})
package pgstore

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configure a Store. The zero value (or nil) is usable.
type Options struct {
	// Schema holds hookline's tables; Migrate creates it. Defaults to
	// "hookline".
	Schema string
	// Channel is the LISTEN/NOTIFY channel publishes notify on. Defaults to
	// "hookline_" + Schema (truncated to 63 bytes).
	Channel string
	// DisableNotify stops publishes from sending NOTIFY and makes Notify
	// return a channel that never receives: dispatchers then find work by
	// polling alone (webhook.Config.PollInterval). Defaults to false.
	DisableNotify bool
	// NotifyInterval spaces the NOTIFYs a burst of publishes sends: a
	// publish notifies inside its transaction when none did in the last
	// interval; otherwise one NOTIFY follows, sent the interval after the
	// last one, once that publish has committed. Listeners so learn of
	// every publish within about an interval, while NOTIFY, which makes
	// Postgres commit notifying transactions one at a time, stays off the
	// hot path (measured: 1,540 publishes/s notifying each, 3,300 without).
	// PublishTx always notifies inside the caller's transaction. Defaults
	// to 2 ms; a negative value notifies on every publish.
	NotifyInterval time.Duration
	// ListenConfig is the connection the listener opens for LISTEN.
	// Defaults to the pool's connection settings. Set it when the pool goes
	// through a proxy in transaction pooling mode (PgBouncer), which cannot
	// hold a LISTEN: point it at the server itself.
	ListenConfig *pgx.ConnConfig
	// Logger receives the listener's connection errors. Defaults to
	// discarding them.
	Logger *slog.Logger
	// InsertTimeout bounds InsertMessage's statement once it has a
	// connection. The caller's context bounds only the wait for the
	// connection: a statement that was sent runs to its end (or to this
	// timeout) whatever the caller's deadline, so a publish either stored
	// its message (nil) or did not (an error). If the timeout passes, or the
	// connection dies, after the statement was sent, InsertMessage returns
	// an error matching webhook.ErrOutcomeUnknown: publish again with the
	// same ID. PublishTx statements run in the caller's transaction under
	// the caller's context instead. Defaults to 10 seconds.
	InsertTimeout time.Duration
	// MaxGroup is how many concurrent InsertMessage calls (publishes) one
	// statement and one commit may carry: callers that arrive while a
	// publish is being written queue, and the next statement stores them
	// all (group commit), each caller getting its own answer. It saves a
	// statement, its triggers and a commit's fsync per publish. Once a
	// publish is queued its write no longer depends on its caller's ctx
	// (InsertTimeout bounds it). Defaults to 64; 1 turns grouping off.
	MaxGroup int
	// DurableLeases makes claims and records (an attempt's outcome) wait
	// for their commit to reach disk, as publishes always do. Defaults to
	// false: they commit asynchronously (synchronous_commit off for those
	// transactions alone), which saves an fsync per claim and per record
	// batch. A crash of Postgres may then lose the last few hundred
	// milliseconds of claims and records, never a message or a delivery:
	// the deliveries concerned are attempted again (at-least-once; the
	// attempt log may miss the lost attempts). See asyncCommit in
	// queries.go for the argument.
	DurableLeases bool
	// DisableMatchCache makes every publish read the subscribed endpoints
	// from the database. Defaults to false: answers are cached in process
	// while the store's listener is connected, and emptied by the NOTIFY
	// every endpoint write sends (on any instance); see matchcache.go.
	// Turn it off if endpoints are changed in the database by other means
	// than a Store.
	DisableMatchCache bool
	// ClaimInterval is the shortest time between the starts of two claims
	// of one dispatcher (webhook.Pacing.ClaimInterval): what comes due in
	// between is claimed in one statement. It adds at most the interval to
	// a delivery's wait, and bounds one dispatcher to
	// webhook.Config.ClaimBatch deliveries per interval (64 per 2 ms,
	// 32,000/s, by default): raise ClaimBatch, or lower the interval, past
	// that. Defaults to ClaimIntervalDefault (2 ms); negative: claim as
	// soon as a worker is free.
	ClaimInterval time.Duration
	// RecordWindow is how long a dispatcher may hold attempts' outcomes to
	// write them in one statement (webhook.Pacing.RecordWindow). The
	// deliveries keep their leases meanwhile; outcomes that make a
	// delivery due within the window, or end an ordered delivery, are
	// written at once, and Shutdown writes what is held. An instance that
	// dies loses the outcomes it held, like its attempts in flight: those
	// deliveries are attempted again when their leases expire. Defaults to
	// RecordWindowDefault (50 ms); negative: write at once.
	RecordWindow time.Duration
}

// The defaults of Options' pacing fields, measured with the bench program
// (docs/BENCHMARKS.md, "Claim and record pacing").
const (
	// ClaimIntervalDefault is the default of Options.ClaimInterval.
	ClaimIntervalDefault = 2 * time.Millisecond
	// RecordWindowDefault is the default of Options.RecordWindow.
	RecordWindowDefault = 50 * time.Millisecond
)

// Store is a webhook.Store on PostgreSQL. It also implements
// webhook.Notifier (LISTEN/NOTIFY), webhook.TxInserter[pgx.Tx],
// webhook.BatchInserter, webhook.TxBatchInserter[pgx.Tx],
// webhook.EndpointMatcher (cached) and webhook.BacklogCounter (counters
// kept by triggers).
// Create it with New, create its tables with Migrate, and Close it to stop
// its listener. Safe for concurrent use, and by several processes at once.
type Store struct {
	pool      *pgxpool.Pool
	schema    string
	channel   string
	notify    bool
	listenCfg *pgx.ConnConfig
	log       *slog.Logger
	q         queries
	rq        replayQueries
	oq        orderedQueries
	// recordDurable is q.record committing durably, for records that
	// finish ordered deliveries (recordOrdered).
	recordDurable string

	insertTimeout time.Duration // see Options.InsertTimeout
	pacing        webhook.Pacing

	// Group commit of InsertMessage (group.go): lanes[0] for unordered
	// publishes, lanes[1] for publishes with ordered deliveries.
	maxGroup                      int
	insertManySQL, getMessagesSQL string
	lanes                         [2]groupLane

	matches      matchCache // see matchcache.go
	noMatchCache bool

	lmu       sync.Mutex
	subs      map[chan struct{}]struct{}
	stopListn context.CancelFunc // cancels the running listener, nil when none
	listening bool               // the listener holds its LISTEN
	listeners sync.WaitGroup
	closed    bool

	// Spacing of publish NOTIFYs (see Options.NotifyInterval).
	notifyEvery time.Duration
	nmu         sync.Mutex
	lastNotify  time.Time   // when a publish last notified in its transaction
	trailing    *time.Timer // the pending trailing NOTIFY, nil when none
	trailingWG  sync.WaitGroup
	nclosed     bool
}

var (
	_ webhook.Store              = (*Store)(nil)
	_ webhook.Notifier           = (*Store)(nil)
	_ webhook.TxInserter[pgx.Tx] = (*Store)(nil)

	_ webhook.EndpointMatcher = (*Store)(nil)
	_ webhook.Pacer           = (*Store)(nil)
	_ webhook.BacklogCounter  = (*Store)(nil)
)

// New returns a Store using pool, with its tables in opts.Schema. It does
// not touch the database: call Migrate before use.
func New(pool *pgxpool.Pool, opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Schema == "" {
		o.Schema = "hookline"
	}
	if o.Channel == "" {
		o.Channel = "hookline_" + o.Schema
		if len(o.Channel) > 63 {
			o.Channel = o.Channel[:63]
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NotifyInterval == 0 {
		o.NotifyInterval = 2 * time.Millisecond
	}
	if o.InsertTimeout <= 0 {
		o.InsertTimeout = 10 * time.Second
	}
	s := &Store{
		notifyEvery: o.NotifyInterval,
		pool:        pool,
		schema:      o.Schema,
		channel:     o.Channel,
		notify:      !o.DisableNotify,
		listenCfg:   o.ListenConfig,
		log:         o.Logger,
		subs:        map[chan struct{}]struct{}{},
	}
	s.insertTimeout = o.InsertTimeout
	s.pacing = webhook.Pacing{ClaimInterval: pace(o.ClaimInterval, ClaimIntervalDefault),
		RecordWindow: pace(o.RecordWindow, RecordWindowDefault)}
	s.maxGroup = o.MaxGroup
	s.noMatchCache = o.DisableMatchCache
	if s.maxGroup <= 0 {
		s.maxGroup = 64
	}
	sch := pgx.Identifier{o.Schema}.Sanitize()
	s.insertManySQL, s.getMessagesSQL = insertManySQL(sch), getMessagesSQL(sch)
	s.oq = buildOrderedQueries(sch)
	leaseCommit := asyncCommit
	if o.DurableLeases {
		leaseCommit = "true"
	}
	s.q = buildQueries(sch, leaseCommit)
	s.recordDurable = buildQueries(sch, "true").record // see recordOrdered
	s.rq = buildReplayQueries(sch)
	return s
}

// pace is an Options pacing field with its default: 0 takes def, a
// negative value none.
func pace(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Pacing implements webhook.Pacer: Options.ClaimInterval and
// Options.RecordWindow.
func (s *Store) Pacing() webhook.Pacing { return s.pacing }

// Schema returns the schema the store's tables live in.
func (s *Store) Schema() string { return s.schema }

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("pgstore: migration %s: name must start with its version number", base)
		}
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate creates the schema and applies the migrations it has not applied
// yet, in one transaction, recording each version in the schema's
// schema_migrations table. It is idempotent, and safe when several
// instances start at once: a transaction-scoped advisory lock (keyed by the
// schema name) makes them take turns.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	lockKey := s.lockKey("migrate")
	sch := pgx.Identifier{s.schema}.Sanitize()

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
		return fmt.Errorf("pgstore: migrate: taking the advisory lock: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+sch); err != nil {
		return fmt.Errorf("pgstore: migrate: creating schema %s: %w", sch, err)
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+sch+`.schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.Query(ctx, "SELECT version FROM "+sch+".schema_migrations")
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	for _, v := range versions {
		applied[int(v)] = true
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.Exec(ctx, strings.NewReplacer("{{S}}", sch, "{{S_LITERAL}}", sqlLiteral(sch)).Replace(m.sql)); err != nil {
			return fmt.Errorf("pgstore: migrate: applying %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+sch+".schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("pgstore: migrate: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// Close stops the store's listener (if Notify started one) and waits for
// it. Subscribers' channels stop receiving. The pool is the caller's: Close
// leaves it open.
func (s *Store) Close() error {
	s.lmu.Lock()
	s.closed = true
	if s.stopListn != nil {
		s.stopListn()
		s.stopListn = nil
	}
	s.lmu.Unlock()
	s.nmu.Lock()
	s.nclosed = true
	if s.trailing != nil && s.trailing.Stop() {
		s.trailingWG.Done()
	}
	s.nmu.Unlock()
	s.trailingWG.Wait()
	s.listeners.Wait()
	return nil
}

// lockKey is the advisory lock key of an operation on this schema.
func (s *Store) lockKey(op string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hookline." + op + ":" + s.schema))
	return int64(h.Sum64())
}

// newToken returns a fresh lease token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mapErr turns database errors into the webhook sentinels where one fits.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s", webhook.ErrNotFound, what)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505", // unique_violation: it exists already
			"23503": // foreign_key_violation: an endpoint was deleted meanwhile
			return fmt.Errorf("%w: %s: %s", webhook.ErrConflict, what, pe.Detail)
		}
	}
	return fmt.Errorf("pgstore: %s: %w", what, err)
}

// utc returns t in UTC, and the zero time for a NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime is t for the database: NULL when zero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// clean makes s storable as Postgres text: valid UTF-8 without NUL bytes.
// Response bodies and headers come from receivers and may be neither.
func clean(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func cleanMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[clean(k)] = clean(v)
	}
	return out
}
