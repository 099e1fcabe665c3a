package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/jackc/pgx/v5"
)

// insertManySQL stores many messages with their deliveries in one
// statement: the messages whose IDs are new (ON CONFLICT DO NOTHING), the
// deliveries of those to the endpoints that still exist, and a NOTIFY that
// listeners receive when the enclosing transaction commits. It returns the
// IDs it inserted.
//
// FOR KEY SHARE makes an endpoint's deletion wait for this statement, or
// this statement wait for a deletion in progress and then skip the
// endpoint (READ COMMITTED rechecks the row), so a publish racing
// DeleteEndpoint stores no delivery of the deleted endpoint and never
// trips the foreign key. fanout counts the deliveries actually stored. The
// messages of one call have distinct IDs (callers make sure), so
// deliveries join their message by ID.
//
// Ordered deliveries ($21, their position in the call, not NULL) are
// stored waiting (claim_at NULL) with seq = one nextval per statement (the
// uncorrelated subquery runs once) << 24 + position; the caller promotes
// their queues in the same transaction (ordered.go). With none, $20 and
// $21 are NULL and the statement does what it did before ordering existed.
func insertManySQL(schema string) string {
	return strings.NewReplacer("{{S}}", schema, "{{SEQ}}", sqlLiteral(schema+".delivery_seq")).Replace(`WITH x AS (
	SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::int[], $12::timestamptz[],
		$13::timestamptz[], $14::timestamptz[], $20::text[], $21::int[])
		AS x(id, message_id, endpoint_id, state, attempts, next_at, created_at, updated_at, okey, pos)
), e AS (
	SELECT id FROM {{S}}.endpoints WHERE id = ANY ($9::text[]) FOR KEY SHARE
), k AS (
	SELECT x.* FROM x JOIN e ON e.id = x.endpoint_id
), f AS (
	SELECT k.message_id, count(*) AS n FROM k GROUP BY k.message_id
), m AS (
	INSERT INTO {{S}}.messages (id, tenant, event_type, payload, metadata, fanout, created_at, channels, data, ordering_key)
	SELECT i.id, i.tenant, i.event_type, i.payload, i.metadata::jsonb, coalesce(f.n, 0), i.created_at,
		CASE WHEN i.channels IS NULL THEN '{}'::text[]
			ELSE ARRAY(SELECT jsonb_array_elements_text(i.channels::jsonb)) END,
		i.data, coalesce(i.okey, '')
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::timestamptz[], $17::text[], $18::bytea[], $19::text[])
		AS i(id, tenant, event_type, payload, metadata, created_at, channels, data, okey)
	LEFT JOIN f ON f.message_id = i.id
	ON CONFLICT (id) DO NOTHING
	RETURNING id, tenant, event_type
), d AS (
	INSERT INTO {{S}}.deliveries (id, message_id, endpoint_id, tenant, event_type, state, attempts,
		next_attempt_at, claim_at, created_at, updated_at, ordering_key, seq)
	SELECT k.id, m.id, k.endpoint_id, m.tenant, m.event_type, k.state, k.attempts,
		k.next_at, CASE WHEN k.state = 'pending' AND k.pos IS NULL THEN k.next_at END, k.created_at, k.updated_at,
		k.okey, CASE WHEN k.pos IS NOT NULL THEN (SELECT nextval({{SEQ}})) * ` + fmt.Sprint(seqShift) + ` + k.pos END
	FROM m JOIN k ON k.message_id = m.id
	RETURNING 1
)
SELECT ARRAY(SELECT id FROM m),
	(SELECT count(*) FROM (SELECT pg_notify($15, '') FROM d WHERE $16 LIMIT 1) n)`)
}

func getMessagesSQL(schema string) string {
	return `SELECT ` + messageCols + ` FROM ` + schema + `.messages m WHERE m.id = ANY ($1::text[])`
}

// insertItem is one message to insert with its deliveries.
type insertItem struct {
	msg *webhook.Message
	ds  []*webhook.Delivery
}

// insertMany runs insertManySQL for items (distinct IDs) and returns the
// set of IDs it inserted. Items go in ID order, so that two statements
// inserting the same IDs at once take their locks in the same order; the
// positions of ordered deliveries follow the order items came in (call
// order, batch order). Without ordered deliveries the one statement runs
// alone, and through a connection commits by itself. With some, the
// statement and the promote of their queues are pipelined in one round
// trip: in q's transaction when inTx (the caller commits), else as a
// transaction of their own.
func (s *Store) insertMany(ctx context.Context, q querier, items []insertItem, notify, inTx bool) (map[string]bool, error) {
	args, queues, err := insertArgs(items, notify, s.channel)
	if err != nil {
		return nil, err
	}
	var got []string
	var notified int
	err = s.writeAndPromote(ctx, q, insertWhat(items), s.insertManySQL, args, queues, inTx,
		func(row pgx.Row) error { return row.Scan(&got, &notified) })
	if err != nil {
		return nil, err
	}
	inserted := make(map[string]bool, len(got))
	for _, id := range got {
		inserted[id] = true
	}
	return inserted, nil
}

func insertWhat(items []insertItem) string {
	if len(items) > 1 {
		return fmt.Sprintf("inserting %d messages", len(items))
	}
	return "inserting message " + items[0].msg.ID
}

// insertArgs returns insertManySQL's arguments for items, and the queues
// of their ordered deliveries.
func insertArgs(items []insertItem, notify bool, channel string) ([]any, []queue, error) {
	// Positions of ordered deliveries in call order, before the sort.
	var pos map[*webhook.Delivery]int32
	var queues []queue
	for _, it := range items {
		for _, d := range it.ds {
			if d.Ordered {
				if pos == nil {
					pos = map[*webhook.Delivery]int32{}
				}
				pos[d] = int32(len(pos))
				queues = append(queues, queue{d.EndpointID, d.OrderingKey})
			}
		}
	}
	if err := checkOrderedCount(len(pos)); err != nil {
		return nil, nil, err
	}
	items = slices.Clone(items)
	slices.SortFunc(items, func(a, b insertItem) int { return strings.Compare(a.msg.ID, b.msg.ID) })
	n, nd := len(items), 0
	for _, it := range items {
		nd += len(it.ds)
	}
	mids, tenants, types := make([]string, n), make([]string, n), make([]string, n)
	payloads, metas, mcreated := make([][]byte, n), make([]*string, n), make([]time.Time, n)
	chans, datas := make([]*string, n), make([][]byte, n) // channels as a JSON array: unnest cannot take a text[] per row
	var mkeys []string                                    // NULL unless a message has a key
	ids, msgIDs, eps, states := make([]string, 0, nd), make([]string, 0, nd), make([]string, 0, nd), make([]string, 0, nd)
	attempts := make([]int32, 0, nd)
	nexts, created, updated := make([]time.Time, 0, nd), make([]time.Time, 0, nd), make([]time.Time, 0, nd)
	var dkeys []*string // NULL unless a delivery has a key or is ordered
	var dpos []*int32   // NULL unless a delivery is ordered
	for i, it := range items {
		m := it.msg
		mids[i], tenants[i], types[i], mcreated[i] = m.ID, m.Tenant, m.Type, m.CreatedAt
		payloads[i] = []byte(m.Payload)
		if payloads[i] == nil {
			payloads[i] = []byte{}
		}
		if m.Metadata != nil {
			b, err := json.Marshal(m.Metadata)
			if err != nil {
				return nil, nil, fmt.Errorf("pgstore: message %s: metadata: %w", m.ID, err)
			}
			js := string(b)
			metas[i] = &js
		}
		if len(m.Channels) > 0 {
			b, err := json.Marshal(m.Channels)
			if err != nil {
				return nil, nil, fmt.Errorf("pgstore: message %s: channels: %w", m.ID, err)
			}
			js := string(b)
			chans[i] = &js
		}
		if m.Data != nil {
			datas[i] = []byte(m.Data)
		}
		if m.OrderingKey != "" {
			if mkeys == nil {
				mkeys = make([]string, n)
			}
			mkeys[i] = m.OrderingKey
		}
		for _, d := range it.ds {
			state := string(d.State)
			if state == "" {
				state = string(webhook.StatePending)
			}
			if d.Ordered || d.OrderingKey != "" {
				if dkeys == nil {
					dkeys = make([]*string, len(ids), nd)
				}
				dkeys = append(dkeys, &d.OrderingKey)
			} else if dkeys != nil {
				dkeys = append(dkeys, nil)
			}
			if p, ok := pos[d]; ok {
				if dpos == nil {
					dpos = make([]*int32, len(ids), nd)
				}
				dpos = append(dpos, &p)
			} else if dpos != nil {
				dpos = append(dpos, nil)
			}
			ids, msgIDs, eps, states = append(ids, d.ID), append(msgIDs, m.ID), append(eps, d.EndpointID), append(states, state)
			attempts = append(attempts, int32(d.Attempts))
			nexts, created, updated = append(nexts, d.NextAttemptAt), append(created, d.CreatedAt), append(updated, d.UpdatedAt)
		}
	}
	args := []any{mids, tenants, types, payloads, metas, mcreated,
		ids, msgIDs, eps, states, attempts, nexts, created, updated, channel, notify && nd > 0, chans, datas, mkeys, dkeys, dpos}
	return args, queues, nil
}

// storedMessages returns the stored messages with these IDs, by ID.
func (s *Store) storedMessages(ctx context.Context, q querier, ids []string) (map[string]*webhook.Message, error) {
	rows, err := q.Query(ctx, s.getMessagesSQL, ids)
	if err != nil {
		return nil, mapErr(err, "looking up messages")
	}
	ms, err := collect(rows, func(r pgx.Row) (*webhook.Message, error) {
		m := &webhook.Message{}
		err := r.Scan(messageDest(m)...)
		finishMessage(m)
		return m, err
	})
	if err != nil {
		return nil, mapErr(err, "looking up messages")
	}
	out := make(map[string]*webhook.Message, len(ms))
	for _, m := range ms {
		out[m.ID] = m
	}
	return out, nil
}

// idTakenErr is the error of a message whose ID another tenant's message
// holds (or held while the insert ran). It names nothing of that message.
func idTakenErr(id string, gone bool) error {
	if gone {
		return fmt.Errorf("%w: message ID %q was taken and removed while this publish ran; publish again", webhook.ErrConflict, id)
	}
	return webhook.MessageIDTaken(id)
}

// insertBatch stores a PublishBatch's messages through q (a transaction
// the caller rolls back on error) and returns, per item, the message
// stored before for the same tenant's IDs.
func (s *Store) insertBatch(ctx context.Context, q querier, batch []webhook.MessageInsert, notify bool) ([]*webhook.Message, error) {
	items := make([]insertItem, len(batch))
	index := make(map[string]int, len(batch))
	for i, b := range batch {
		if j, ok := index[b.Message.ID]; ok {
			return nil, &webhook.BatchError{Index: i, ID: b.Message.ID,
				Err: fmt.Errorf("%w: message ID repeats item %d's", webhook.ErrInvalid, j)}
		}
		index[b.Message.ID] = i
		items[i] = insertItem{msg: b.Message, ds: b.Deliveries}
	}
	inserted, err := s.insertMany(ctx, q, items, notify, true)
	if err != nil {
		return nil, err
	}
	stored := make([]*webhook.Message, len(batch))
	if len(inserted) == len(batch) {
		return stored, nil
	}
	var taken []string
	for _, b := range batch {
		if !inserted[b.Message.ID] {
			taken = append(taken, b.Message.ID)
		}
	}
	found, err := s.storedMessages(ctx, q, taken)
	if err != nil {
		return nil, err
	}
	for _, id := range taken {
		i := index[id]
		m := found[id]
		if m == nil || m.Tenant != batch[i].Message.Tenant {
			return nil, &webhook.BatchError{Index: i, ID: id, Err: idTakenErr(id, m == nil)}
		}
		stored[i] = m
	}
	return stored, nil
}

// InsertMessages implements webhook.BatchInserter: one transaction, one
// statement for the whole batch (plus a lookup when some IDs were taken),
// one commit. The caller's ctx bounds the wait for a connection; the
// transaction then runs under Options.InsertTimeout, and a commit whose
// answer was lost is webhook.ErrOutcomeUnknown, as for InsertMessage.
func (s *Store) InsertMessages(ctx context.Context, batch []webhook.MessageInsert) ([]*webhook.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: inserting %d messages: nothing sent: %w", len(batch), err)
	}
	if len(batch) == 0 {
		return nil, nil
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: inserting %d messages: nothing sent: %w", len(batch), err)
	}
	defer conn.Release()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.insertTimeout)
	defer cancel()
	deliveries, ordered := false, false
	for _, b := range batch {
		deliveries = deliveries || len(b.Deliveries) > 0
		ordered = ordered || anyOrdered(b.Deliveries)
	}
	notify := s.notify && deliveries && s.notifyNow()
	var txo pgx.TxOptions
	if ordered {
		txo.IsoLevel = pgx.ReadCommitted // the promote needs it, whatever the server's default
	}
	tx, err := conn.BeginTx(wctx, txo)
	if err != nil {
		return nil, mapErr(err, "beginning a batch insert")
	}
	stored, err := s.insertBatch(wctx, tx, batch, notify)
	if err != nil {
		_ = tx.Rollback(wctx)
		return nil, err
	}
	if err := tx.Commit(wctx); err != nil {
		if unknownOutcome(err) {
			return nil, fmt.Errorf("%w: pgstore: committing %d messages: %v", webhook.ErrOutcomeUnknown, len(batch), err)
		}
		return nil, mapErr(err, "committing a batch insert")
	}
	if s.notify && deliveries && !notify {
		s.notifyLater()
	}
	return stored, nil
}

// InsertMessagesTx implements webhook.TxBatchInserter[pgx.Tx]: the batch
// runs under a savepoint of tx, rolled back if any item fails, so that an
// error leaves no message of the batch in tx (and tx usable).
func (s *Store) InsertMessagesTx(ctx context.Context, tx pgx.Tx, batch []webhook.MessageInsert) ([]*webhook.Message, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: pgstore needs a pgx.Tx, got nil", webhook.ErrTxUnsupported)
	}
	if len(batch) == 0 {
		return nil, ctx.Err()
	}
	for _, b := range batch {
		if anyOrdered(b.Deliveries) {
			if err := s.readCommitted(ctx, tx); err != nil {
				return nil, err
			}
			break
		}
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, mapErr(err, "opening a savepoint for a batch insert")
	}
	stored, err := s.insertBatch(ctx, sp, batch, s.notify)
	if err != nil {
		_ = sp.Rollback(ctx)
		return nil, err
	}
	if err := sp.Commit(ctx); err != nil {
		return nil, mapErr(err, "releasing the batch insert's savepoint")
	}
	return stored, nil
}

var (
	_ webhook.BatchInserter           = (*Store)(nil)
	_ webhook.TxBatchInserter[pgx.Tx] = (*Store)(nil)
)
