package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	type urls struct{ base, password, link string }
	got := make(chan urls, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-addr", "127.0.0.1:0", "-demo-seconds", "2", "-publish-every", "50ms"}, &out,
			func(base, password, link string) { got <- urls{base, password, link} })
	}()
	var u urls
	select {
	case u = <-got:
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no URLs within 10 s")
	}

	// The operator view wants basic auth.
	res, err := http.Get(u.base + "/admin/api/endpoints")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	req, _ := http.NewRequest("GET", u.base+"/admin/api/endpoints", nil)
	req.SetBasicAuth("admin", u.password)
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, 3, strings.Count(string(body), `"url"`), "all three endpoints: %s", body)

	// The portal link signs in with a cookie and shows acme's endpoints only.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err = c.Get(u.link)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "/portal/", res.Request.URL.Path, "redirected without the token")
	assert.Empty(t, res.Request.URL.RawQuery)
	res, err = c.Get(u.base + "/portal/api/endpoints")
	require.NoError(t, err)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, 2, strings.Count(string(body), `"tenant":"acme"`), "%s", body)
	assert.NotContains(t, string(body), "globex")

	// The receivers' docs: public, one webhook per catalog type; the
	// catalog with schemas in the admin API.
	res, err = http.Get(u.base + "/webhooks.openapi.json")
	require.NoError(t, err)
	var doc struct {
		OpenAPI  string                     `json:"openapi"`
		Webhooks map[string]json.RawMessage `json:"webhooks"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	res.Body.Close()
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	assert.Len(t, doc.Webhooks, 3)
	assert.Contains(t, doc.Webhooks, "invoice.paid")
	res, err = c.Get(u.base + "/portal/api/webhooks.openapi.json")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode, "the portal serves it too")
	res, err = c.Get(u.base + "/portal/api/event-types")
	require.NoError(t, err)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	assert.Contains(t, string(body), `"schema":{`)
	assert.Contains(t, string(body), `"group":"Invoices"`)

	require.NoError(t, <-done)
	assert.Contains(t, out.String(), "operator view: ")
	assert.Contains(t, out.String(), "/portal/?token=")
	assert.Contains(t, out.String(), "published ")
}

// TestMain fails the run when a goroutine of the example (its dispatcher,
// servers, kept-alive client connections) outlives it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
