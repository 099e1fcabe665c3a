// Package storetest is the conformance suite for webhook.Store
// implementations. A store passes when
//
//	storetest.Run(t, func(t *testing.T) webhook.Store { return newEmptyStore(t) })
//
// passes. newStore must return a new, empty store for each call (a fresh
// schema or database); the suite runs its tests in parallel.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/require"
)

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) webhook.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s webhook.Store)
	}{
		{"Endpoints", testEndpoints},
		{"ListEndpointsPaging", testListEndpointsPaging},
		{"InsertMessageAtomicAndIdempotent", testInsertMessage},
		{"InsertMessageOtherTenantsID", testInsertMessageOtherTenant},
		{"InsertMessageDeletedEndpoint", testInsertMessageDeletedEndpoint},
		{"InsertMessageContextEnds", testInsertMessageContextEnds},
		{"ClaimDueOnly", testClaimDueOnly},
		{"ClaimOrderAndLimit", testClaimOrder},
		{"ClaimSkipEndpoints", testClaimSkip},
		{"RecordAndRetry", testRecord},
		{"StaleLeaseRejected", testStaleLease},
		{"LeaseExpiry", testLeaseExpiry},
		{"ClaimDelivery", testClaimDelivery},
		{"ClaimReturnsCopies", testClaimReturnsCopies},
		{"ListDeliveriesAndAttempts", testListDeliveries},
		{"Requeue", testRequeue},
		{"DeleteEndpointCascades", testDeleteEndpoint},
		{"Stats", testStats},
		{"Purge", testPurge},
		{"ConcurrentClaims", testConcurrentClaims},
		{"Backlog", testBacklog},
		{"EndpointMatcher", testEndpointMatcher},
		{"Notifier", testNotifier},
		{"Routing", testRouting},
		{"MatchChannels", testMatchChannels},
		{"Replay", testReplay},
		{"Validation", testValidation},
		{"FarFutureDue", testFarFutureDue},
	}
	tests = append(tests, batchTests()...)
	tests = append(tests, orderedTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

var seq struct {
	sync.Mutex
	n int
}

func id(prefix string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return fmt.Sprintf("%s_%s_%08d", prefix, time.Now().UTC().Format("150405.000000")[:6], seq.n)
}

// base is a fixed clock reading for the suite, truncated to microseconds.
var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func endpoint(tenant string) *webhook.Endpoint {
	return &webhook.Endpoint{
		ID: id("ep"), Tenant: tenant, URL: "https://example.com/hook", Description: "test endpoint",
		EventTypes: []string{"a.b", "c.*"}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		Headers: map[string]string{"X-Custom": "1"}, CreatedAt: base, UpdatedAt: base,
	}
}

func mustEndpoint(t *testing.T, s webhook.Store, tenant string) *webhook.Endpoint {
	t.Helper()
	ep := endpoint(tenant)
	require.NoError(t, s.CreateEndpoint(context.Background(), ep))
	return ep
}

// publish stores a message with one delivery per endpoint, due at due.
func publish(t *testing.T, s webhook.Store, due time.Time, eps ...*webhook.Endpoint) (*webhook.Message, []*webhook.Delivery) {
	t.Helper()
	tenant := ""
	if len(eps) > 0 {
		tenant = eps[0].Tenant
	}
	msg := &webhook.Message{
		ID: id("msg"), Tenant: tenant, Type: "a.b", Payload: []byte(`{"type":"a.b","data":{"n":1}}`),
		Metadata: map[string]string{"traceparent": "00-abc-def-01"}, CreatedAt: base,
	}
	var ds []*webhook.Delivery
	for _, ep := range eps {
		ds = append(ds, &webhook.Delivery{
			ID: id("dlv"), MessageID: msg.ID, EndpointID: ep.ID, Tenant: tenant, EventType: msg.Type,
			State: webhook.StatePending, NextAttemptAt: due, CreatedAt: base, UpdatedAt: base,
		})
	}
	require.NoError(t, s.InsertMessage(context.Background(), msg, ds))
	return msg, ds
}

func claim(t *testing.T, s webhook.Store, now time.Time, limit int) []*webhook.Claimed {
	t.Helper()
	cs, err := s.Claim(context.Background(), webhook.ClaimParams{Owner: "test", Now: now, Limit: limit, Lease: 30 * time.Second})
	require.NoError(t, err)
	return cs
}

func attempt(c *webhook.Claimed, n, status int, at time.Time) *webhook.Attempt {
	a := &webhook.Attempt{
		ID: id("att"), DeliveryID: c.Delivery.ID, MessageID: c.Message.ID, EndpointID: c.Endpoint.ID,
		Number: n, StartedAt: at, Duration: 12 * time.Millisecond, StatusCode: status, Response: "ok",
	}
	if status >= 300 {
		a.Error = fmt.Sprintf("HTTP %d", status)
	}
	return a
}

func record(t *testing.T, s webhook.Store, r webhook.Record) bool {
	t.Helper()
	applied, err := s.Record(context.Background(), []webhook.Record{r})
	require.NoError(t, err)
	require.Len(t, applied, 1)
	return applied[0]
}
