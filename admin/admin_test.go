package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestHandler(t *testing.T, o *Options) (http.Handler, *webhook.Dispatcher) {
	t.Helper()
	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	h, err := New(d, o)
	require.NoError(t, err)
	return h, d
}

func do(h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestOpenAPIMatchesRoutes fails when a route is added, removed or renamed
// without the OpenAPI document following, or the other way round.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openapiDoc, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	var documented, registered []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	h := &handler{}
	for _, rt := range h.routes() {
		if strings.HasPrefix(rt.pattern, "/api/") {
			registered = append(registered, rt.method+" "+rt.pattern)
		}
	}
	slices.Sort(documented)
	slices.Sort(registered)
	assert.Equal(t, registered, documented, "routes and /api/openapi.json disagree")

	// And every documented operation is really served (not 404/405).
	hd, _ := newTestHandler(t, nil)
	for _, op := range documented {
		m, p, _ := strings.Cut(op, " ")
		rec := do(hd, m, strings.ReplaceAll(p, "{id}", "x"), "")
		assert.NotContains(t, []int{405}, rec.Code, op)
		if rec.Code == 404 {
			assert.Contains(t, rec.Body.String(), `"error"`, "%s: a JSON 404 from the route, not the mux's", op)
		}
	}
	rec := do(hd, "GET", "/api/openapi.json", "")
	assert.Equal(t, 200, rec.Code)
	assert.JSONEq(t, string(openapiDoc), rec.Body.String())
}

func TestPageHeaders(t *testing.T) {
	t.Parallel()
	h, _ := newTestHandler(t, &Options{Title: "Hooks <b>&</b>"})
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	for _, path := range []string{"/admin/", "/admin/endpoints/ep_1", "/admin/deliveries/dlv_1", "/admin/messages/msg_1"} {
		rec := do(mux, "GET", path, "")
		require.Equal(t, 200, rec.Code, path)
		body := rec.Body.String()
		csp := rec.Header().Get("Content-Security-Policy")
		m := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]+)'`).FindStringSubmatch(csp)
		require.Len(t, m, 2, "CSP %q has a script nonce", csp)
		assert.NotContains(t, csp, "unsafe-inline")
		assert.Contains(t, csp, "frame-ancestors 'none'")
		assert.Contains(t, csp, "default-src 'none'")
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
		assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
		// Every script element carries the nonce.
		scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1)
		require.NotEmpty(t, scripts)
		for _, s := range scripts {
			assert.Contains(t, s, `nonce="`+m[1]+`"`)
		}
		assert.Contains(t, body, `<base href="/admin/">`, path)
		assert.Contains(t, body, "Hooks &lt;b&gt;&amp;&lt;/b&gt;", "the title is escaped")
	}
	// Two requests get two nonces.
	a := do(mux, "GET", "/admin/", "").Header().Get("Content-Security-Policy")
	b := do(mux, "GET", "/admin/", "").Header().Get("Content-Security-Policy")
	assert.NotEqual(t, a, b)

	rec := do(mux, "GET", "/admin/assets/app.js", "")
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "text/javascript; charset=utf-8", rec.Header().Get("Content-Type"))
	for _, api := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		assert.False(t, strings.Contains(rec.Body.String(), api), "app.js uses %s; the page must never parse data as HTML or code", api)
	}
	assert.Equal(t, 404, do(mux, "GET", "/admin/assets/nope.js", "").Code)
	assert.Equal(t, 404, do(mux, "GET", "/admin/assets/index.html", "").Code)

	h2, _ := newTestHandler(t, &Options{FrameAncestors: []string{"https://app.example.com"}})
	rec = do(h2, "GET", "/", "")
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "frame-ancestors https://app.example.com")
	assert.Empty(t, rec.Header().Get("X-Frame-Options"))
	d, err := webhook.New(webhook.Config{})
	require.NoError(t, err)
	_, err = New(d, &Options{FrameAncestors: []string{"x; script-src *"}})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	d, err := webhook.New(webhook.Config{})
	require.NoError(t, err)
	links, err := NewPortalLinks(make([]byte, 32))
	require.NoError(t, err)
	for name, o := range map[string]*Options{
		"bad event type":       {EventTypes: []EventType{{Name: "no spaces"}}},
		"duplicate event type": {EventTypes: []EventType{{Name: "a.b"}, {Name: "a.b"}}},
		"bad example":          {EventTypes: []EventType{{Name: "a.b", Example: json.RawMessage(`{`)}}},
		"portal and tenant":    {Portal: links, Tenant: func(*http.Request) (string, error) { return "t", nil }},
		"bad trusted origin":   {TrustedOrigins: []string{"not an origin"}},
	} {
		_, err := New(d, o)
		assert.ErrorIs(t, err, webhook.ErrInvalid, name)
	}
	_, err = New(nil, nil)
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	_, err = NewPortalLinks([]byte("short"))
	assert.ErrorIs(t, err, webhook.ErrInvalid)
}

func TestReadOnlyAndSecretReveal(t *testing.T) {
	t.Parallel()
	h, d := newTestHandler(t, &Options{ReadOnly: true})
	ep := &webhook.Endpoint{URL: "http://127.0.0.1:9/x"}
	require.NoError(t, d.CreateEndpoint(t.Context(), ep))
	for _, c := range [][2]string{{"POST", "/api/endpoints"}, {"PATCH", "/api/endpoints/" + ep.ID}, {"DELETE", "/api/endpoints/" + ep.ID},
		{"POST", "/api/endpoints/" + ep.ID + "/test"}, {"GET", "/api/endpoints/" + ep.ID + "/secret"}} {
		rec := do(h, c[0], c[1], `{}`)
		assert.Equal(t, 403, rec.Code, c)
		assert.Contains(t, rec.Body.String(), "read-only")
	}
	assert.Equal(t, 200, do(h, "GET", "/api/endpoints/"+ep.ID, "").Code)

	h, d = newTestHandler(t, &Options{DisableSecretReveal: true})
	rec := do(h, "POST", "/api/endpoints", `{"url":"http://127.0.0.1:9/x"}`)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "whsec_", "no secret in the create answer")
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))
	stored, err := d.GetEndpoint(t.Context(), created.ID)
	require.NoError(t, err)
	assert.NotEmpty(t, stored.Secret, "the endpoint has a secret; only its reveal is refused")
	assert.Equal(t, 403, do(h, "GET", "/api/endpoints/"+created.ID+"/secret", "").Code)
	assert.Equal(t, 403, do(h, "POST", "/api/endpoints/"+created.ID+"/rotate-secret", "").Code)
	page := do(h, "GET", "/", "").Body.String()
	assert.Contains(t, page, `data-can-reveal="false"`)
}

func TestPortalLinks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	links, err := NewPortalLinks([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	links.Now = func() time.Time { return now }
	links.CookiePath = "/portal/"
	h, d := newTestHandler(t, &Options{Portal: links})
	mux := http.NewServeMux()
	mux.Handle("/portal/", http.StripPrefix("/portal", h))

	other := &webhook.Endpoint{URL: "http://127.0.0.1:9/other", Tenant: "globex"}
	require.NoError(t, d.CreateEndpoint(t.Context(), other))

	token := func(p *PortalLinks, tenant string, perms Permissions, ttl time.Duration) string {
		tok, err := p.Token(tenant, perms, ttl)
		require.NoError(t, err)
		return tok
	}
	valid := token(links, "acme", PermAll, time.Hour)
	t.Run("valid link sets a cookie and drops the token", func(t *testing.T) {
		link, err := links.Link("https://app.test/portal/endpoints/ep_1?x=1", "acme", PermSend, time.Hour)
		require.NoError(t, err)
		assert.Contains(t, link, "?x=1&token=")
		rec := do(mux, "GET", link, "")
		require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
		assert.Equal(t, "/portal/endpoints/ep_1?x=1", rec.Header().Get("Location"))
		c := rec.Result().Cookies()
		require.Len(t, c, 1)
		assert.True(t, c[0].HttpOnly)
		assert.True(t, c[0].Secure)
		assert.Equal(t, http.SameSiteLaxMode, c[0].SameSite)
		assert.Equal(t, "/portal/", c[0].Path)
		assert.Equal(t, now.Add(time.Hour).Unix(), c[0].Expires.Unix())
		// The cookie then opens the page and the API, for acme only.
		rec = do(mux, "GET", "https://app.test/portal/", "", "Cookie", c[0].Name+"="+c[0].Value)
		assert.Equal(t, 200, rec.Code)
		assert.Contains(t, rec.Body.String(), `data-tenant="acme"`)
		rec = do(mux, "GET", "https://app.test/portal/api/endpoints/"+other.ID, "", "Cookie", c[0].Name+"="+c[0].Value)
		assert.Equal(t, 404, rec.Code)
	})
	t.Run("bearer token for API clients", func(t *testing.T) {
		rec := do(mux, "GET", "/portal/api/endpoints", "", "Authorization", "Bearer "+valid)
		assert.Equal(t, 200, rec.Code)
		assert.Equal(t, `{"data":[],"next_cursor":""}`, strings.TrimSpace(rec.Body.String()))
	})

	forgedKey, _ := NewPortalLinks([]byte("another key, also 32 bytes long!"))
	forgedKey.Now = links.Now
	enc, sig, _ := strings.Cut(valid, ".")
	tampered := []byte(sig)
	tampered[3] ^= 1
	expired := token(links, "acme", PermAll, -time.Second)
	// A token whose payload names another tenant but keeps acme's MAC.
	otherEnc, _, _ := strings.Cut(token(links, "globex", PermAll, time.Hour), ".")
	bad := map[string]string{
		"forged with another key": token(forgedKey, "acme", PermAll, time.Hour),
		"tampered signature":      enc + "." + string(tampered),
		"payload swapped":         otherEnc + "." + sig,
		"expired":                 expired,
		"garbage":                 "not-a-token",
		"empty signature":         enc + ".",
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			rec := do(mux, "GET", "/portal/?token="+tok, "")
			assert.Equal(t, 401, rec.Code)
			assert.Empty(t, rec.Result().Cookies())
			rec = do(mux, "GET", "/portal/api/endpoints", "", "Cookie", "hookline_portal="+tok)
			assert.Equal(t, 401, rec.Code)
			assert.Contains(t, rec.Body.String(), `"error"`)
			rec = do(mux, "GET", "/portal/api/endpoints", "", "Authorization", "Bearer "+tok)
			assert.Equal(t, 401, rec.Code)
		})
	}
	t.Run("missing", func(t *testing.T) {
		assert.Equal(t, 401, do(mux, "GET", "/portal/", "").Code)
		assert.Equal(t, 401, do(mux, "GET", "/portal/api/endpoints", "").Code)
		assert.Equal(t, 401, do(mux, "POST", "/portal/api/endpoints", `{"url":"http://127.0.0.1:9/"}`).Code)
	})
	t.Run("expires while in use", func(t *testing.T) {
		tok := token(links, "acme", PermAll, time.Minute)
		l2 := *links
		l2.Now = func() time.Time { return now.Add(time.Minute) }
		h2, _ := newTestHandler(t, &Options{Portal: &l2})
		assert.Equal(t, 401, do(h2, "GET", "/api/endpoints", "", "Authorization", "Bearer "+tok).Code)
	})
}

func TestPortalPermissions(t *testing.T) {
	t.Parallel()
	links, err := NewPortalLinks([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	h, d := newTestHandler(t, &Options{Portal: links})
	ep := &webhook.Endpoint{URL: "http://127.0.0.1:9/x", Tenant: "acme"}
	require.NoError(t, d.CreateEndpoint(t.Context(), ep))
	id := ep.ID
	ops := []struct {
		method, path, body string
		need               Permissions
	}{
		{"GET", "/api/endpoints", "", PermReadOnly},
		{"GET", "/api/endpoints/" + id, "", PermReadOnly},
		{"GET", "/api/deliveries", "", PermReadOnly},
		{"GET", "/api/stats", "", PermReadOnly},
		{"GET", "/api/event-types", "", PermReadOnly},
		{"GET", "/api/endpoints/" + id + "/secret", "", PermSecrets},
		{"POST", "/api/endpoints", `{"url":"http://127.0.0.1:9/y"}`, PermManage},
		{"PATCH", "/api/endpoints/" + id, `{"description":"x"}`, PermManage},
		{"POST", "/api/endpoints/" + id + "/disable", `{}`, PermManage},
		{"POST", "/api/endpoints/" + id + "/enable", ``, PermManage},
		{"POST", "/api/endpoints/" + id + "/rotate-secret", `{}`, PermManage | PermSecrets},
		{"POST", "/api/endpoints/" + id + "/recover", `{"since":"2000-01-01T00:00:00Z"}`, PermSend},
		{"POST", "/api/deliveries/dlv_x/redeliver", ``, PermSend},
	}
	for _, perms := range []Permissions{PermReadOnly, PermSecrets, PermManage, PermSend, PermManage | PermSecrets, PermAll} {
		tok, err := links.Token("acme", perms, time.Hour)
		require.NoError(t, err)
		for _, op := range ops {
			rec := do(h, op.method, op.path, op.body, "Authorization", "Bearer "+tok)
			if perms.Has(op.need) {
				assert.NotEqual(t, 403, rec.Code, "%s %s with %s: %s", op.method, op.path, perms, rec.Body)
			} else {
				assert.Equal(t, 403, rec.Code, "%s %s with %s", op.method, op.path, perms)
				assert.Contains(t, rec.Body.String(), "not permitted")
			}
		}
		// Create answers carry the secret only for holders of PermSecrets.
		if perms.Has(PermManage) {
			rec := do(h, "POST", "/api/endpoints", `{"url":"http://127.0.0.1:9/z"}`, "Authorization", "Bearer "+tok)
			require.Equal(t, 201, rec.Code)
			assert.Equal(t, perms.Has(PermSecrets), strings.Contains(rec.Body.String(), "whsec_"), perms.String())
		}
		page := do(h, "GET", "/", "", "Authorization", "Bearer "+tok).Body.String()
		assert.Contains(t, page, `data-permissions="`+perms.String()+`"`)
	}
	for _, bad := range []string{"", strings.Repeat("x", 257), "a\x00b", "\xff"} {
		_, err := links.Token(bad, PermAll, time.Hour)
		assert.ErrorIs(t, err, webhook.ErrInvalid, "%q", bad)
		_, err = links.Link("https://x/", bad, PermAll, time.Hour)
		assert.ErrorIs(t, err, webhook.ErrInvalid, "%q", bad)
	}
	assert.Equal(t, "read", PermReadOnly.String())
	assert.Equal(t, "secrets,manage,send", PermAll.String())
}
