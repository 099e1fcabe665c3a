package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// receiverUp ignores the goroutines of an httptest receiver the test keeps
// running (its accept loop and its side of each connection): they are the
// test's, not the dispatcher's.
var receiverUp = []goleak.Option{
	goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
	goleak.IgnoreAnyFunction("net/http/httptest.(*Server).goServe.func1"),
}

// TestShutdownClosesDefaultClientConnections: the client the dispatcher
// built keeps idle keep-alive connections, each with two goroutines
// (persistConn.readLoop and writeLoop); Shutdown must close them. Not
// parallel: goleak.Find looks at every goroutine of the process, so it runs
// before the parallel tests resume.
func TestShutdownClosesDefaultClientConnections(t *testing.T) {
	got := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} }))
	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true, Retry: fastRetry(1)})
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	require.NoError(t, d.CreateEndpoint(context.Background(), &webhook.Endpoint{URL: srv.URL}))
	_, err = d.Publish(context.Background(), rewardIssued{Points: 1}, nil)
	require.NoError(t, err)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
	require.NoError(t, d.Shutdown(context.Background()))
	// The receiver stays up, as real ones do: only its own goroutines may
	// be left (closing it first would end the client's connections from the
	// other side and hide the leak).
	defer srv.Close()
	assert.NoError(t, goleak.Find(receiverUp...), "no goroutine of the default client survives Shutdown")
}

// TestShutdownLeavesUsersClientAlone: a client passed in Config.HTTPClient
// is the user's; Shutdown must not close its connections.
func TestShutdownLeavesUsersClientAlone(t *testing.T) {
	t.Parallel()
	got := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} }))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	closed := &countingTransport{Transport: tr}
	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true, Retry: fastRetry(1),
		HTTPClient: &http.Client{Transport: closed}})
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	require.NoError(t, d.CreateEndpoint(context.Background(), &webhook.Endpoint{URL: srv.URL}))
	_, err = d.Publish(context.Background(), rewardIssued{Points: 1}, nil)
	require.NoError(t, err)
	<-got
	require.NoError(t, d.Shutdown(context.Background()))
	assert.Zero(t, closed.closes, "the user's client keeps its idle connections")
}

type countingTransport struct {
	*http.Transport
	closes int
}

func (c *countingTransport) CloseIdleConnections() { c.closes++; c.Transport.CloseIdleConnections() }
