package pgstore_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replayCounter counts the store calls ReplayMissing makes; each is one
// SQL statement.
type replayCounter struct {
	*pgstore.Store
	missing, inserts, gets atomic.Int64
}

func (c *replayCounter) GetEndpoint(ctx context.Context, id string) (*webhook.Endpoint, error) {
	c.gets.Add(1)
	return c.Store.GetEndpoint(ctx, id)
}

func (c *replayCounter) MissingMessages(ctx context.Context, q webhook.MissingQuery) ([]*webhook.Message, string, error) {
	c.missing.Add(1)
	return c.Store.MissingMessages(ctx, q)
}

func (c *replayCounter) InsertDeliveries(ctx context.Context, ds []*webhook.Delivery) (int, error) {
	c.inserts.Add(1)
	return c.Store.InsertDeliveries(ctx, ds)
}

// TestReplayScale seeds 1M messages over 10 tenants (100k each), each
// with a delivery to its tenant's old endpoint, then replays tenant_0's
// 100k into a new endpoint and logs the time and the statements used.
// Opt in with HOOKLINE_REPLAY_SCALE=1.
func TestReplayScale(t *testing.T) {
	if os.Getenv("HOOKLINE_REPLAY_SCALE") != "1" {
		t.Skip("set HOOKLINE_REPLAY_SCALE=1 to seed 1M messages and time a replay of 100k")
	}
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	sc := pgx.Identifier{s.Schema()}.Sanitize()
	ctx := context.Background()
	const n = 1_000_000
	start := time.Now()
	for _, q := range []string{
		`INSERT INTO ` + sc + `.endpoints (id, tenant, url, secret, created_at, updated_at)
		 SELECT 'ep_old_' || e, 'tenant_' || e, 'https://example.com/' || e, 'whsec_AAAA', now(), now() FROM generate_series(0, 9) e`,
		`INSERT INTO ` + sc + `.messages (id, tenant, event_type, payload, fanout, created_at)
		 SELECT 'msg_' || lpad(i::text, 10, '0'), 'tenant_' || (i % 10), 'invoice.paid',
		        convert_to('{"type":"invoice.paid","data":{"amount":' || (i % 1000) || '}}', 'UTF8'), 1,
		        now() - interval '7 days' + (i * interval '7 days' / ` + "1000000" + `) FROM generate_series(1, 1000000) i`,
		`INSERT INTO ` + sc + `.deliveries (id, message_id, endpoint_id, tenant, event_type, state, attempts, created_at, updated_at)
		 SELECT 'dlv_' || lpad(i::text, 10, '0'), 'msg_' || lpad(i::text, 10, '0'), 'ep_old_' || (i % 10), 'tenant_' || (i % 10),
		        'invoice.paid', 'succeeded', 1, now(), now() FROM generate_series(1, 1000000) i`,
		`VACUUM ANALYZE ` + sc + `.messages, ` + sc + `.deliveries, ` + sc + `.endpoints`,
	} {
		_, err := pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	t.Logf("seeded %d messages and deliveries in %s (then VACUUM ANALYZE; autovacuum is off here)", n, time.Since(start).Round(time.Second))

	cs := &replayCounter{Store: s}
	d, err := webhook.New(webhook.Config{Store: cs})
	require.NoError(t, err)
	ep := &webhook.Endpoint{Tenant: "tenant_0", URL: "https://example.com/new"}
	require.NoError(t, d.CreateEndpoint(ctx, ep))

	var plan []string
	rows, err := pool.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) SELECT m.id FROM `+sc+`.messages m
		WHERE m.tenant = 'tenant_0' AND (m.created_at, m.id) > (now() - interval '8 days', '')
		AND NOT EXISTS (SELECT 1 FROM `+sc+`.deliveries x WHERE x.endpoint_id = '`+ep.ID+`' AND x.message_id = m.id OFFSET 0)
		ORDER BY m.created_at, m.id LIMIT 1001`)
	require.NoError(t, err)
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	t.Logf("one page's plan:\n%s", strings.Join(plan, "\n"))

	start = time.Now()
	queued, err := d.ReplayMissing(ctx, ep.ID, time.Time{})
	took := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, 100_000, queued)
	t.Logf("replayed %d messages into a new endpoint in %s (%.0f/s): %d statements (%d GetEndpoint, %d MissingMessages pages, %d InsertDeliveries)",
		queued, took.Round(time.Millisecond), float64(queued)/took.Seconds(), cs.gets.Load()+cs.missing.Load()+cs.inserts.Load(),
		cs.gets.Load(), cs.missing.Load(), cs.inserts.Load())

	start = time.Now()
	again, err := d.ReplayMissing(ctx, ep.ID, time.Time{})
	require.NoError(t, err)
	assert.Zero(t, again)
	t.Logf("second run: %d queued in %s", again, time.Since(start).Round(time.Millisecond))
}
