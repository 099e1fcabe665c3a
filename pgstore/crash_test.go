package pgstore_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/hookline/webhook/webhooktest"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const (
	// envCrashChild makes the test binary run as the crash test's child:
	// a dispatcher on the schema it names, until it is killed.
	envCrashChild = "HOOKLINE_PGSTORE_CRASH_CHILD"
	// envCrashDefaults runs the crash test with the dispatcher's default
	// AttemptTimeout (15s) and Lease (25s) instead of shortened ones.
	envCrashDefaults = "HOOKLINE_TEST_CRASH_DEFAULTS"
)

// TestMain runs the crash test's child when asked to, and otherwise the
// tests, failing the run if any goroutine (a dispatcher's, a store's
// listener, a pgx connection's) outlives them. The package's shared pool
// stays open for all the tests on purpose; it is closed once they end,
// before goleak looks, so no exception for pgx is needed.
func TestMain(m *testing.M) {
	if schema := os.Getenv(envCrashChild); schema != "" {
		os.Exit(crashChild(schema))
	}
	if schema := os.Getenv(envOrderedChild); schema != "" {
		os.Exit(orderedChild(schema))
	}
	goleak.VerifyTestMain(closingSharedPool{m})
}

// closingSharedPool runs the tests, then closes the shared pool.
type closingSharedPool struct{ m *testing.M }

func (c closingSharedPool) Run() int {
	code := c.m.Run()
	if shared.pool != nil {
		shared.pool.Close()
	}
	return code
}

// crashLeases returns the AttemptTimeout and Lease of the crash test.
func crashLeases() (time.Duration, time.Duration) {
	if os.Getenv(envCrashDefaults) == "1" {
		return 0, 0 // the dispatcher's defaults: 15s and 25s
	}
	return 2 * time.Second, 3 * time.Second
}

// crashChild runs a dispatcher on schema until it is killed (or, as a
// safety net, for two minutes).
func crashChild(schema string) int {
	timeout, lease := crashLeases()
	return runChild(schema, func(st webhook.Store) webhook.Config {
		return webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true,
			Workers: 16, AttemptTimeout: timeout, Lease: lease}
	})
}

// runChild is a child process of a crash test: a dispatcher with the
// Config config makes for a store on schema, started, "ready" on stdout,
// then nothing until the test kills it (or, as a safety net, two minutes
// pass).
func runChild(schema string, config func(webhook.Store) webhook.Config) int {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv(envURL))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	d, err := webhook.New(config(pgstore.New(pool, &pgstore.Options{Schema: schema})))
	if err == nil {
		err = d.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	fmt.Println("ready")
	time.Sleep(2 * time.Minute)
	return 3
}

// startChild runs this test binary as a child with env=schema set (see
// TestMain), waits until it says it is ready, and kills it at cleanup.
func startChild(t *testing.T, env, schema string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+schema)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready", strings.TrimSpace(line))
	return cmd
}

// TestCrashedInstanceLeasesExpire: a child process delivering through the
// same schema is killed with SIGKILL while it holds leases; a new
// dispatcher delivers every event the child had not finished, once, after
// the leases expire.
//
// The child uses AttemptTimeout 2s and Lease 3s so the test stays short;
// HOOKLINE_TEST_CRASH_DEFAULTS=1 runs it with the defaults (15s, 25s).
func TestCrashedInstanceLeasesExpire(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	store := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	const events = 400

	var slow atomic.Bool
	slow.Store(true)
	recv := webhooktest.NewReceiver(t, webhooktest.WithScript(func(int, *webhooktest.Delivery) webhooktest.Answer {
		if slow.Load() {
			return webhooktest.Answer{Delay: 100 * time.Millisecond}
		}
		return webhooktest.Answer{}
	}))
	_, lease := crashLeases()
	if lease == 0 {
		lease = 25 * time.Second
	}
	survivor := newDispatcher(t, store, false, func(c *webhook.Config) {
		c.PollInterval = 0 // the default, 1s
		c.Hooks.BeforeAttempt = func(_ context.Context, req *http.Request, _ *webhook.Delivery) {
			req.Header.Set("X-Instance", "survivor")
		}
	})
	createEndpoint(t, survivor, recv.URL)
	all := map[string]bool{}
	for i := range events {
		m, err := survivor.Publish(ctx, orderPlaced{OrderID: i}, nil)
		require.NoError(t, err)
		all[m.ID] = true
	}

	cmd := startChild(t, envCrashChild, store.Schema())

	recv.WaitFor(t, 60, 30*time.Second) // mid-run
	require.NoError(t, cmd.Process.Kill())
	killedAt := time.Now()
	_ = cmd.Wait()

	// What the child left: deliveries it finished, and leases it held.
	sch := quote(store.Schema())
	finished := map[string]bool{}
	rows, err := pool.Query(ctx, "SELECT message_id FROM "+sch+".deliveries WHERE state = 'succeeded'")
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		finished[id] = true
	}
	require.NoError(t, rows.Err())
	var leased int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+sch+
		".deliveries WHERE state = 'pending' AND lease_token IS NOT NULL AND lease_expires_at > now()").Scan(&leased))
	t.Logf("at the kill: %d delivered by the child, %d under its live leases, %d left", len(finished), leased, events-len(finished))
	require.Positive(t, leased, "the child held leases when it was killed")
	require.Less(t, len(finished), events, "killed mid-run")

	slow.Store(false)
	require.NoError(t, survivor.Start(ctx))
	var lastAt time.Time
	for {
		var pending int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+sch+".deliveries WHERE state <> 'succeeded'").Scan(&pending))
		if pending == 0 {
			lastAt = time.Now()
			break
		}
		require.Less(t, time.Since(killedAt), lease+30*time.Second, "%d deliveries still not delivered", pending)
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("every event delivered %s after the kill (child lease %s)", lastAt.Sub(killedAt).Round(time.Millisecond), lease)

	// Every message has exactly one successful attempt on record; the
	// survivor sent exactly the messages whose success it recorded, once
	// each, and none of those the child recorded (the attempt log keeps the
	// request headers, so it says who sent what).
	byWhom := map[string]string{}
	rows, err = pool.Query(ctx, "SELECT message_id, coalesce(request_headers->>'X-Instance', 'child') FROM "+sch+
		".attempts WHERE status_code = 200")
	require.NoError(t, err)
	for rows.Next() {
		var id, who string
		require.NoError(t, rows.Scan(&id, &who))
		assert.Empty(t, byWhom[id], "message %s has two successful attempts on record", id)
		byWhom[id] = who
	}
	require.NoError(t, rows.Err())
	got := map[string]int{}
	for _, d := range recv.Deliveries() {
		if d.Header.Get("X-Instance") == "survivor" {
			got[d.ID]++
		}
	}
	child := 0
	for id := range all {
		switch byWhom[id] {
		case "child":
			child++
			assert.Zero(t, got[id], "message %s was delivered by the child and sent again", id)
		case "survivor":
			assert.Equal(t, 1, got[id], "message %s sent by the survivor", id)
		default:
			t.Errorf("message %s has no successful attempt", id)
		}
	}
	t.Logf("%d delivered by the child in all (%d recorded after the kill), %d by the survivor",
		child, child-len(finished), len(all)-child)
}
