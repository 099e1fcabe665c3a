package webhook_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pacedStore is a MemoryStore that asks for pacing and counts its claim
// and record calls.
type pacedStore struct {
	*webhook.MemoryStore
	pacing webhook.Pacing

	claims atomic.Int64
	mu     sync.Mutex
	sizes  []int // of each Record call
}

func (s *pacedStore) Pacing() webhook.Pacing { return s.pacing }

func (s *pacedStore) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Claimed, error) {
	s.claims.Add(1)
	return s.MemoryStore.Claim(ctx, p)
}

func (s *pacedStore) Record(ctx context.Context, recs []webhook.Record) ([]bool, error) {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(recs))
	s.mu.Unlock()
	return s.MemoryStore.Record(ctx, recs)
}

func (s *pacedStore) recordSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

func startPaced(t *testing.T, p webhook.Pacing, mod func(*webhook.Config)) (*webhook.Dispatcher, *pacedStore) {
	t.Helper()
	st := &pacedStore{MemoryStore: webhook.NewMemoryStore(), pacing: p}
	cfg := webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Retry: fastRetry(3),
		AttemptTimeout: 5 * time.Second, PollInterval: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(func() { st.Close() })
	return d, st
}

func shutdown(t *testing.T, d *webhook.Dispatcher) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, d.Shutdown(ctx))
	return time.Since(start)
}

// A paced store gets at most one claim per ClaimInterval however many
// publishes wake the claimer, and every event is still delivered.
func TestPacingClaimInterval(t *testing.T) {
	t.Parallel()
	const interval = 40 * time.Millisecond
	d, st := startPaced(t, webhook.Pacing{ClaimInterval: interval}, nil)
	rcv := webhooktest.NewReceiver(t)
	createEndpoint(t, d, &webhook.Endpoint{URL: rcv.URL, Tenant: "acme"})
	start := time.Now()
	const n = 50
	for i := range n {
		_, err := d.Publish(context.Background(), rewardIssued{CustomerID: "c", Points: i}, &webhook.PublishOpts{Tenant: "acme"})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return rcv.AckedIDs() == n }, 10*time.Second, time.Millisecond)
	elapsed := time.Since(start)
	claims := st.claims.Load()
	shutdown(t, d)
	// One claim at Start, then at most one per interval since.
	assert.LessOrEqual(t, claims, int64(2+elapsed/interval), "claims in %s", elapsed)
}

// Outcomes that arrive within the record window share one Record call,
// and Shutdown writes what is waiting at once rather than at the window's
// end.
func TestPacingRecordWindow(t *testing.T) {
	t.Parallel()
	d, st := startPaced(t, webhook.Pacing{RecordWindow: time.Hour}, nil)
	rcv := webhooktest.NewReceiver(t)
	createEndpoint(t, d, &webhook.Endpoint{URL: rcv.URL, Tenant: "acme"})
	const n = 20
	var ids []string
	for i := range n {
		msg, err := d.Publish(context.Background(), rewardIssued{CustomerID: "c", Points: i}, &webhook.PublishOpts{Tenant: "acme"})
		require.NoError(t, err)
		ids = append(ids, msg.ID)
	}
	require.Eventually(t, func() bool { return rcv.AckedIDs() == n }, 10*time.Second, time.Millisecond)
	assert.Empty(t, st.recordSizes(), "nothing written before the window ends")
	took := shutdown(t, d)
	assert.Less(t, took, 5*time.Second, "Shutdown does not wait for the window")
	assert.Equal(t, []int{n}, st.recordSizes(), "one Record call for every outcome")
	for _, id := range ids {
		ds, _, err := st.ListDeliveries(context.Background(), webhook.DeliveryQuery{MessageID: id})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		assert.Equal(t, webhook.StateSucceeded, ds[0].State)
	}
}

// An outcome that makes its delivery due before the window would end (a
// retry a millisecond later) is written without waiting for the window, so the retry is not held up.
func TestPacingUrgentRecordNotHeld(t *testing.T) {
	t.Parallel()
	d, _ := startPaced(t, webhook.Pacing{RecordWindow: time.Hour}, func(c *webhook.Config) {
		c.Retry = fastRetry(3) // a millisecond: due long before the window ends
	})
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.FailFirst(1, 500)))
	createEndpoint(t, d, &webhook.Endpoint{URL: rcv.URL, Tenant: "acme"})
	msg, err := d.Publish(context.Background(), rewardIssued{CustomerID: "c"}, &webhook.PublishOpts{Tenant: "acme"})
	require.NoError(t, err)
	got := rcv.WaitForMessage(t, msg.ID, 5*time.Second)
	require.NotEmpty(t, got)
	require.Eventually(t, func() bool { return rcv.Acked(msg.ID) == 1 }, 5*time.Second, time.Millisecond,
		"the retry went out although the window is an hour")
	shutdown(t, d)
}
