package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what the store needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// InsertMessage implements webhook.Store: one statement stores the message,
// its deliveries (for the endpoints that still exist) and a NOTIFY to other
// instances. Concurrent calls share that statement and its commit (group
// commit, see Options.MaxGroup), each with its own answer.
//
// The caller's ctx bounds the wait for its turn; the statement itself
// runs to its end under Options.InsertTimeout instead, so that a caller's
// deadline cannot make a committed publish look failed. When the statement
// was sent but its answer was lost (the connection died, or InsertTimeout
// passed), the error matches webhook.ErrOutcomeUnknown.
func (s *Store) InsertMessage(ctx context.Context, msg *webhook.Message, deliveries []*webhook.Delivery) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstore: inserting message %s: nothing sent: %w", msg.ID, err)
	}
	if s.maxGroup > 1 {
		return s.insertGrouped(ctx, msg, deliveries)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: inserting message %s: nothing sent: %w", msg.ID, err)
	}
	defer conn.Release()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.insertTimeout)
	defer cancel()
	notify := s.notify && len(deliveries) > 0 && s.notifyNow()
	if err := s.insertMessage(wctx, conn, msg, deliveries, notify, false); err != nil {
		if unknownOutcome(err) {
			return fmt.Errorf("%w: pgstore: inserting message %s: %v", webhook.ErrOutcomeUnknown, msg.ID, err)
		}
		return err
	}
	if s.notify && len(deliveries) > 0 && !notify {
		s.notifyLater()
	}
	return nil
}

// unknownOutcome reports whether a failed autocommit statement may have
// committed all the same: the server answered no error, and the failure did
// not happen before anything was sent.
func unknownOutcome(err error) bool {
	var pe *pgconn.PgError
	return !errors.As(err, &pe) && !errors.Is(err, webhook.ErrDuplicate) && !errors.Is(err, webhook.ErrConflict) &&
		!pgconn.SafeToRetry(err)
}

// notifyNow reports whether a publish should notify inside its own
// transaction: when none did within the last NotifyInterval.
func (s *Store) notifyNow() bool {
	if s.notifyEvery < 0 {
		return true
	}
	s.nmu.Lock()
	defer s.nmu.Unlock()
	now := time.Now()
	if now.Sub(s.lastNotify) < s.notifyEvery {
		return false
	}
	s.lastNotify = now
	return true
}

// notifyLater makes sure one NOTIFY goes out the interval after the last
// one, for a publish (already committed) that did not send its own.
func (s *Store) notifyLater() {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	if s.trailing != nil || s.nclosed {
		return
	}
	s.trailingWG.Add(1)
	s.trailing = time.AfterFunc(max(0, s.notifyEvery-time.Since(s.lastNotify)), func() {
		defer s.trailingWG.Done()
		s.nmu.Lock()
		s.trailing = nil
		s.lastNotify = time.Now()
		s.nmu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, '')", s.channel); err != nil {
			s.log.Warn("pgstore: NOTIFY after a burst of publishes failed; listeners fall back to polling", "error", err)
		}
	})
}

// InsertMessageTx implements webhook.TxInserter[pgx.Tx]: the message and
// its deliveries commit or roll back with tx (from a pool, a connection or
// a nested transaction), and listeners are notified only on commit. ctx
// bounds the statement: if it ends meanwhile pgx closes tx's connection, so
// tx cannot commit and nothing is stored. A nil tx is
// webhook.ErrTxUnsupported. With ordered deliveries, tx holds their queues'
// locks until it ends and must be READ COMMITTED (see the package doc).
func (s *Store) InsertMessageTx(ctx context.Context, tx pgx.Tx, msg *webhook.Message, deliveries []*webhook.Delivery) error {
	if tx == nil {
		return fmt.Errorf("%w: pgstore needs a pgx.Tx, got nil", webhook.ErrTxUnsupported)
	}
	if anyOrdered(deliveries) {
		if err := s.readCommitted(ctx, tx); err != nil {
			return err
		}
	}
	return s.insertMessage(ctx, tx, msg, deliveries, s.notify, true)
}

// insertMessage stores one message through q: a transaction (inTx) or a
// connection.
func (s *Store) insertMessage(ctx context.Context, q querier, msg *webhook.Message, deliveries []*webhook.Delivery, notify, inTx bool) error {
	inserted, err := s.insertMany(ctx, q, []insertItem{{msg: msg, ds: deliveries}}, notify, inTx)
	if err != nil {
		return err
	}
	if !inserted[msg.ID] {
		return s.duplicate(ctx, q, msg)
	}
	return nil
}

// duplicate tells a duplicate of the same tenant's message (ErrDuplicate)
// from an ID taken by another tenant's (ErrConflict, naming nothing of it).
func (s *Store) duplicate(ctx context.Context, q querier, msg *webhook.Message) error {
	var tenant string
	err := q.QueryRow(ctx, s.q.messageTenant, msg.ID).Scan(&tenant)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // purged since the insert saw it
		return idTakenErr(msg.ID, true)
	case err != nil:
		return mapErr(err, "looking up message "+msg.ID)
	case tenant != msg.Tenant:
		return idTakenErr(msg.ID, false)
	}
	return fmt.Errorf("%w: %s", webhook.ErrDuplicate, msg.ID)
}

// GetMessage implements webhook.Store.
func (s *Store) GetMessage(ctx context.Context, id string) (*webhook.Message, error) {
	m := &webhook.Message{}
	if err := s.pool.QueryRow(ctx, s.q.getMessage, id).Scan(messageDest(m)...); err != nil {
		return nil, mapErr(err, "message "+id)
	}
	finishMessage(m)
	return m, nil
}

func messageDest(m *webhook.Message) []any {
	return []any{&m.ID, &m.Tenant, &m.Type, (*[]byte)(&m.Payload), &m.Metadata, &m.CreatedAt, &m.Channels, (*[]byte)(&m.Data), &m.OrderingKey}
}

// finishMessage normalises a scanned message.
func finishMessage(m *webhook.Message) {
	m.CreatedAt = m.CreatedAt.UTC()
	if len(m.Channels) == 0 {
		m.Channels = nil
	}
}

// deliveryDest returns the scan destinations of deliveryCols and a func
// that finishes d after the scan.
func deliveryDest(d *webhook.Delivery) ([]any, func()) {
	var state string
	var attempts, status int32
	var next, last *time.Time
	dest := []any{&d.ID, &d.MessageID, &d.EndpointID, &d.Tenant, &d.EventType, &state, &attempts,
		&next, &last, &status, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &d.OrderingKey, &d.Ordered}
	return dest, func() {
		d.State = webhook.DeliveryState(state)
		d.Attempts, d.LastStatusCode = int(attempts), int(status)
		d.NextAttemptAt, d.LastAttemptAt = utc(next), utc(last)
		d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	}
}

// scanDelivery reads deliveryCols and waitingForCol.
func scanDelivery(row pgx.Row) (*webhook.Delivery, error) {
	d := &webhook.Delivery{}
	dest, done := deliveryDest(d)
	if err := row.Scan(append(dest, &d.WaitingFor)...); err != nil {
		return nil, err
	}
	done()
	return d, nil
}

// scanClaimed reads a row of claimTail.
func scanClaimed(row pgx.Row) (*webhook.Claimed, error) {
	c := &webhook.Claimed{Delivery: &webhook.Delivery{}, Message: &webhook.Message{}, Endpoint: &webhook.Endpoint{}}
	ddest, ddone := deliveryDest(c.Delivery)
	edest, edone := endpointDest(c.Endpoint)
	dest := append(ddest, &c.Lease, &c.LeaseExpiresAt)
	dest = append(dest, messageDest(c.Message)...)
	dest = append(dest, edest...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	ddone()
	edone()
	c.LeaseExpiresAt = c.LeaseExpiresAt.UTC()
	finishMessage(c.Message)
	return c, nil
}

// leaseUntil is the lease's expiry at the database's precision.
func leaseUntil(p webhook.ClaimParams) time.Time {
	return p.Now.Add(p.Lease).Truncate(time.Microsecond)
}

// Claim implements webhook.Store: one statement locks up to p.Limit due
// deliveries on the partial index deliveries_claim (FOR UPDATE SKIP
// LOCKED, so concurrent claimers take different rows), leases them, and
// returns them with their message and endpoint, earliest due first.
//
// Deliveries of p.SkipEndpoints are filtered out while walking the index,
// so a claim passes over the due backlog of skipped endpoints that is
// older than what it takes.
func (s *Store) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Claimed, error) {
	if p.Limit <= 0 {
		return nil, ctx.Err()
	}
	skip := p.SkipEndpoints
	if skip == nil {
		skip = []string{}
	}
	rows, err := s.pool.Query(ctx, s.q.claim, p.Now, skip, p.Limit, newToken(), p.Owner, leaseUntil(p))
	if err != nil {
		return nil, mapErr(err, "claiming deliveries")
	}
	out, err := collect(rows, scanClaimed)
	if err != nil {
		return nil, mapErr(err, "claiming deliveries")
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Delivery, out[j].Delivery
		if !a.NextAttemptAt.Equal(b.NextAttemptAt) {
			return a.NextAttemptAt.Before(b.NextAttemptAt)
		}
		return a.ID < b.ID
	})
	return out, nil
}

// ClaimDelivery implements webhook.Store.
func (s *Store) ClaimDelivery(ctx context.Context, id string, p webhook.ClaimParams) (*webhook.Claimed, error) {
	c, err := scanClaimed(s.pool.QueryRow(ctx, s.q.claimDelivery, p.Now, id, newToken(), p.Owner, leaseUntil(p)))
	if err == nil {
		return c, nil
	}
	if err != pgx.ErrNoRows {
		return nil, mapErr(err, "claiming delivery "+id)
	}
	d, gerr := s.GetDelivery(ctx, id)
	if gerr != nil {
		return nil, gerr
	}
	if d.WaitingFor != "" {
		return nil, fmt.Errorf("%w: delivery %s waits behind %s, the head of its queue", webhook.ErrConflict, id, d.WaitingFor)
	}
	return nil, fmt.Errorf("%w: delivery %s is %s or leased", webhook.ErrConflict, id, d.State)
}

// Record implements webhook.Store: the whole batch is one statement (the
// records travel as arrays and are unnested), so it costs one round trip
// and one commit however many records it holds.
func (s *Store) Record(ctx context.Context, recs []webhook.Record) ([]bool, error) {
	applied := make([]bool, len(recs))
	if len(recs) == 0 {
		return applied, ctx.Err()
	}
	n := len(recs)
	ids, tokens, states, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	nows, nexts, started := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	attIDs, attErrs, responses, reqH, respH := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	numbers, statuses := make([]int32, n), make([]int32, n)
	durations := make([]int64, n)
	for i := range recs {
		r := &recs[i]
		ids[i], tokens[i], states[i], errs[i] = r.DeliveryID, r.Lease, string(r.State), clean(r.Error)
		nows[i], nexts[i] = r.Now, r.NextAttemptAt
		reqH[i], respH[i] = "null", "null"
		if a := r.Attempt; a != nil {
			attIDs[i], numbers[i], started[i], durations[i] = a.ID, int32(a.Number), a.StartedAt, int64(a.Duration)
			statuses[i], attErrs[i], responses[i] = int32(a.StatusCode), clean(a.Error), clean(a.Response)
			var err error
			if reqH[i], err = headersJSON(a.RequestHeaders); err != nil {
				return nil, err
			}
			if respH[i], err = headersJSON(a.ResponseHeaders); err != nil {
				return nil, err
			}
		}
	}
	args := []any{ids, tokens, nows, states, nexts, errs,
		attIDs, numbers, started, durations, statuses, attErrs, responses, reqH, respH}
	if finished := orderedFinishIDs(recs); len(finished) > 0 {
		return s.recordOrdered(ctx, finished, args, applied)
	}
	rows, err := s.pool.Query(ctx, s.q.record, args...)
	if err != nil {
		return nil, mapErr(err, "recording attempts")
	}
	ords, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, mapErr(err, "recording attempts")
	}
	for _, o := range ords {
		applied[o-1] = true
	}
	return applied, nil
}

func headersJSON(h map[string]string) (string, error) {
	if h == nil {
		return "null", nil
	}
	b, err := json.Marshal(cleanMap(h))
	return string(b), err
}

// GetDelivery implements webhook.Store.
func (s *Store) GetDelivery(ctx context.Context, id string) (*webhook.Delivery, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, s.q.getDelivery, id))
	return d, mapErr(err, "delivery "+id)
}
