package pgstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestAdminScale1M seeds 1M deliveries (10 endpoints, one attempt each,
// spread over 7 days) and times the two admin calls an endpoint page makes:
// 50 deliveries of one endpoint and its stats. Opt in with
// HOOKLINE_ADMIN_SCALE=1 (it takes about a minute to seed).
func TestAdminScale1M(t *testing.T) {
	if os.Getenv("HOOKLINE_ADMIN_SCALE") != "1" {
		t.Skip("set HOOKLINE_ADMIN_SCALE=1 to seed 1M deliveries and time the admin API")
	}
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	sc := pgx.Identifier{s.Schema()}.Sanitize()
	ctx := context.Background()
	n := 1_000_000
	start := time.Now()
	for _, q := range []string{
		`INSERT INTO ` + sc + `.endpoints (id, tenant, url, secret, created_at, updated_at)
		 SELECT 'ep_' || e, 'tenant_' || (e % 3), 'https://example.com/' || e, 'whsec_AAAA', now(), now() FROM generate_series(0, 9) e`,
		`INSERT INTO ` + sc + `.messages (id, tenant, event_type, payload, fanout, created_at)
		 SELECT 'msg_' || lpad(i::text, 10, '0'), 'tenant_' || (i % 10 % 3), 'invoice.paid', '{"type":"invoice.paid","data":{}}'::bytea, 1,
		        now() - interval '7 days' + (i * interval '7 days' / $1) FROM generate_series(1, $1) i`,
		`INSERT INTO ` + sc + `.deliveries (id, message_id, endpoint_id, tenant, event_type, state, attempts, last_attempt_at, last_status_code, created_at, updated_at)
		 SELECT 'dlv_' || lpad(i::text, 10, '0'), 'msg_' || lpad(i::text, 10, '0'), 'ep_' || (i % 10), 'tenant_' || (i % 10 % 3), 'invoice.paid',
		        CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'succeeded' END, 1, t, CASE WHEN i % 7 = 0 THEN 500 ELSE 200 END, t, t
		 FROM (SELECT i, now() - interval '7 days' + (i * interval '7 days' / $1) AS t FROM generate_series(1, $1) i) x`,
		`INSERT INTO ` + sc + `.attempts (id, delivery_id, message_id, endpoint_id, tenant, number, started_at, duration_ns, status_code)
		 SELECT 'att_' || lpad(i::text, 10, '0'), 'dlv_' || lpad(i::text, 10, '0'), 'msg_' || lpad(i::text, 10, '0'), 'ep_' || (i % 10), 'tenant_' || (i % 10 % 3), 1,
		        now() - interval '7 days' + (i * interval '7 days' / $1), (1000000 + (i % 97) * 100000)::bigint, CASE WHEN i % 7 = 0 THEN 500 ELSE 200 END
		 FROM generate_series(1, $1) i`,
	} {
		var err error
		if slices.Contains([]rune(q), '$') {
			_, err = pool.Exec(ctx, q, n)
		} else {
			_, err = pool.Exec(ctx, q)
		}
		require.NoError(t, err)
	}
	_, err := pool.Exec(ctx, `VACUUM ANALYZE `+sc+`.deliveries, `+sc+`.attempts, `+sc+`.messages, `+sc+`.endpoints`)
	require.NoError(t, err)
	t.Logf("seeded %d deliveries with %d attempts in %s (then VACUUM ANALYZE; autovacuum is off here)", n, n, time.Since(start).Round(time.Second))

	for _, q := range []string{
		`SELECT state, count(*) FROM ` + sc + `.deliveries WHERE endpoint_id = 'ep_1' GROUP BY state`,
		`SELECT state, count(*) FROM ` + sc + `.deliveries WHERE endpoint_id = 'ep_1' AND created_at >= now() - interval '24 hours' GROUP BY state`,
		`SELECT count(*), count(*) FILTER (WHERE status_code BETWEEN 200 AND 299), percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ns), percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ns) FROM ` + sc + `.attempts WHERE endpoint_id = 'ep_1' AND started_at >= now() - interval '24 hours'`,
		`SELECT id FROM ` + sc + `.deliveries WHERE endpoint_id = 'ep_1' AND state = 'failed' ORDER BY id DESC LIMIT 51`,
	} {
		rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q)
		require.NoError(t, err)
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			t.Log(line)
		}
		rows.Close()
	}
	if os.Getenv("HOOKLINE_ADMIN_SCALE_EXPLAIN_ONLY") == "1" {
		return
	}
	d, err := webhook.New(webhook.Config{Store: s})
	require.NoError(t, err)
	for _, mode := range []struct {
		name string
		opts *admin.Options
		hdr  string
	}{
		{"operator", nil, ""},
		{"portal", &admin.Options{Tenant: func(*http.Request) (string, error) { return "tenant_1", nil }}, ""},
	} {
		h, err := admin.New(d, mode.opts)
		require.NoError(t, err)
		for _, path := range []string{
			"/api/deliveries?endpoint_id=ep_1&limit=50",
			"/api/stats?endpoint_id=ep_1",
			"/api/deliveries?endpoint_id=ep_1&state=failed&limit=50",
			"/api/deliveries?limit=50",
			"/api/stats",
		} {
			var times []time.Duration
			for i := range 21 {
				rec := httptest.NewRecorder()
				t0 := time.Now()
				h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				el := time.Since(t0)
				require.Equal(t, 200, rec.Code, "%s: %s", path, rec.Body)
				if i > 0 { // the first warms the plan cache
					times = append(times, el)
				}
			}
			slices.Sort(times)
			t.Logf("%-8s %-58s median %7.2f ms  max %7.2f ms", mode.name, path, msOf(times[len(times)/2]), msOf(times[len(times)-1]))
		}
	}
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
