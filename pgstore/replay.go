package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/jackc/pgx/v5"
)

var _ webhook.Replayer = (*Store)(nil)

// replayQueries holds the SQL of webhook.Replayer.
type replayQueries struct {
	missing, insertDeliveries string
}

func buildReplayQueries(schema string) replayQueries {
	r := strings.NewReplacer("{{S}}", schema, "{{SEQ}}", sqlLiteral(schema+".delivery_seq"))
	return replayQueries{
		// A page of the tenant's messages on messages_tenant_time, each
		// checked against deliveries_endpoint_message. The row comparison
		// is an index condition: a page costs O(limit log n), whatever
		// the number of messages before the cursor. OFFSET 0 keeps the
		// NOT EXISTS a per-row lookup on (endpoint_id, message_id): as an
		// anti join, a new endpoint's near-zero row estimate made the
		// planner materialise all its deliveries and compare every
		// message with each, so each page grew with what was replayed.
		missing: r.Replace(`SELECT ` + messageCols + ` FROM {{S}}.messages m
	WHERE m.tenant = $1 AND (m.created_at, m.id) > ($2, $3)
	AND NOT EXISTS (SELECT 1 FROM {{S}}.deliveries d WHERE d.endpoint_id = $4 AND d.message_id = m.id OFFSET 0)
	ORDER BY m.created_at, m.id
	LIMIT $5`),
		// New deliveries of stored messages, in one statement: those whose
		// endpoint is gone are dropped (FOR KEY SHARE holds a concurrent
		// DeleteEndpoint off, as in insertMessage), those that exist are
		// skipped by the unique index, and each message's fanout grows by
		// what was stored (so retention never takes it for a message
		// without deliveries).
		// Ordered deliveries ($11, their position, not NULL) are stored
		// waiting, as in insertManySQL; InsertDeliveries promotes.
		insertDeliveries: r.Replace(`WITH x AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
		$10::text[], $11::int[])
		AS x(id, message_id, endpoint_id, tenant, event_type, next_at, created_at, okey, pos)
), e AS (
	SELECT id FROM {{S}}.endpoints WHERE id = ANY ($3::text[]) FOR KEY SHARE
), d AS (
	INSERT INTO {{S}}.deliveries (id, message_id, endpoint_id, tenant, event_type, state, attempts,
		next_attempt_at, claim_at, created_at, updated_at, ordering_key, seq)
	SELECT x.id, x.message_id, x.endpoint_id, x.tenant, x.event_type, 'pending', 0,
		x.next_at, CASE WHEN x.pos IS NULL THEN x.next_at END, x.created_at, x.created_at,
		x.okey, CASE WHEN x.pos IS NOT NULL THEN (SELECT nextval({{SEQ}})) * ` + fmt.Sprint(seqShift) + ` + x.pos END
	FROM x JOIN e ON e.id = x.endpoint_id
	ON CONFLICT (endpoint_id, message_id) DO NOTHING
	RETURNING message_id
), f AS (
	UPDATE {{S}}.messages m SET fanout = m.fanout + c.n
	FROM (SELECT message_id, count(*) AS n FROM d GROUP BY message_id) c
	WHERE m.id = c.message_id
)
SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM (SELECT pg_notify($8, '') FROM d WHERE $9 LIMIT 1) n)`),
	}
}

// MissingMessages implements webhook.Replayer.
func (s *Store) MissingMessages(ctx context.Context, q webhook.MissingQuery) ([]*webhook.Message, string, error) {
	limit := webhook.PageLimit(q.Limit)
	after, afterID := q.Since, ""
	if q.Cursor != "" {
		t, id, ok := strings.Cut(q.Cursor, "/")
		us, err := strconv.ParseInt(t, 10, 64)
		if !ok || err != nil {
			return nil, "", fmt.Errorf("%w: cursor %q was not returned by MissingMessages", webhook.ErrInvalid, q.Cursor)
		}
		after, afterID = time.UnixMicro(us), id
	}
	// The first page: (created_at, id) > (since, ""), that is created at
	// or after since (IDs are never empty).
	rows, err := s.pool.Query(ctx, s.rq.missing, q.Tenant, after, afterID, q.EndpointID, limit+1)
	if err != nil {
		return nil, "", mapErr(err, "listing missing messages")
	}
	defer rows.Close()
	var out []*webhook.Message
	for rows.Next() {
		m := &webhook.Message{}
		if err := rows.Scan(messageDest(m)...); err != nil {
			return nil, "", mapErr(err, "listing missing messages")
		}
		finishMessage(m)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr(err, "listing missing messages")
	}
	out, next := webhook.Page(out, limit, func(m *webhook.Message) string {
		return strconv.FormatInt(m.CreatedAt.UnixMicro(), 10) + "/" + m.ID
	})
	return out, next, nil
}

// InsertDeliveries implements webhook.Replayer.
func (s *Store) InsertDeliveries(ctx context.Context, ds []*webhook.Delivery) (int, error) {
	if len(ds) == 0 {
		return 0, ctx.Err()
	}
	n := len(ds)
	ids, msgs, eps, tenants, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	nexts, created := make([]time.Time, n), make([]time.Time, n)
	var keys []*string // NULL unless a delivery has a key or is ordered
	var pos []*int32   // NULL unless a delivery is ordered
	var queues []queue
	for i, d := range ds {
		ids[i], msgs[i], eps[i], tenants[i], types[i] = d.ID, d.MessageID, d.EndpointID, d.Tenant, d.EventType
		nexts[i], created[i] = d.NextAttemptAt, d.CreatedAt
		if d.Ordered || d.OrderingKey != "" {
			if keys == nil {
				keys = make([]*string, n)
			}
			keys[i] = &d.OrderingKey
		}
		if d.Ordered {
			if pos == nil {
				pos = make([]*int32, n)
			}
			p := int32(len(queues))
			pos[i] = &p
			queues = append(queues, queue{d.EndpointID, d.OrderingKey})
		}
	}
	if err := checkOrderedCount(len(queues)); err != nil {
		return 0, err
	}
	args := []any{ids, msgs, eps, tenants, types, nexts, created, s.channel, s.notify, keys, pos}
	var inserted, notified int
	err := s.writeAndPromote(ctx, s.pool, "inserting replayed deliveries", s.rq.insertDeliveries, args, queues, false,
		func(row pgx.Row) error { return row.Scan(&inserted, &notified) })
	if err != nil {
		return 0, err
	}
	return inserted, nil
}
