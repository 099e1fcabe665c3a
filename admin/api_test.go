package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/hookline/webhook/admin/admintest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAPIMemoryStore(t *testing.T) {
	t.Parallel()
	admintest.Run(t, func(t *testing.T, cfg webhook.Config) *webhook.Dispatcher {
		cfg.Store = webhook.NewMemoryStore()
		d, err := webhook.New(cfg)
		require.NoError(t, err)
		return d
	})
}

// TestPortalMessageOfAnotherTenant: in portal mode, another tenant's
// message answers exactly as a message that does not exist: a plain 404
// that names nothing of it.
func TestPortalMessageOfAnotherTenant(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	d, err := webhook.New(webhook.Config{Store: st})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, d.Shutdown(context.Background()))
		st.Close()
	})
	h, err := admin.New(d, &admin.Options{Tenant: func(r *http.Request) (string, error) { return r.Header.Get("X-Tenant"), nil }})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "tenant-alpha", URL: "https://example.com/a"}))
	_, err = d.Publish(ctx, webhook.RawEvent{Type: "invoice.paid", Data: []byte(`{"secret":"alpha-payload"}`)},
		&webhook.PublishOpts{ID: "order-1", Tenant: "tenant-alpha"})
	require.NoError(t, err)

	get := func(tenant, id string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/api/messages/"+id, nil)
		r.Header.Set("X-Tenant", tenant)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	own := get("tenant-alpha", "order-1")
	require.Equal(t, http.StatusOK, own.Code, "%s", own.Body)
	assert.Contains(t, own.Body.String(), "alpha-payload")

	other, missing := get("tenant-bravo", "order-1"), get("tenant-bravo", "order-2")
	assert.Equal(t, http.StatusNotFound, other.Code)
	assert.Equal(t, missing.Code, other.Code)
	assert.Equal(t, missing.Body.String(), other.Body.String(), "another tenant's message answers as a missing one")
	for _, leak := range []string{"tenant-alpha", "invoice.paid", "alpha-payload"} {
		assert.NotContains(t, other.Body.String(), leak)
	}
}
