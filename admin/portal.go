package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookline/webhook"
)

// Permissions is what a request may do beyond reading; reading is allowed
// to every request that passes Options.Tenant.
type Permissions uint8

// The permissions. Combine them with |.
const (
	// PermSecrets: reveal endpoint secrets (GET .../secret, and the secret
	// in create and rotate answers).
	PermSecrets Permissions = 1 << iota
	// PermManage: create, edit, delete, enable, disable endpoints and rotate
	// their secrets (rotation also needs PermSecrets).
	PermManage
	// PermSend: send test events, redeliver, retry failed deliveries.
	PermSend

	// PermReadOnly is no permission beyond reading.
	PermReadOnly Permissions = 0
	// PermAll is every permission.
	PermAll = PermSecrets | PermManage | PermSend
)

// Has reports whether p holds every permission of q.
func (p Permissions) Has(q Permissions) bool { return p&q == q }

var permNames = []struct {
	p    Permissions
	name string
}{{PermSecrets, "secrets"}, {PermManage, "manage"}, {PermSend, "send"}}

// String lists the permissions by name, comma separated ("read" for none).
func (p Permissions) String() string {
	var parts []string
	for _, n := range permNames {
		if p.Has(n.p) {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "read"
	}
	return strings.Join(parts, ",")
}

// ErrUnauthorized is what PortalLinks' Tenant and Permissions return for a
// missing, forged, malformed or expired token.
var ErrUnauthorized = errors.New("hookline admin: missing, invalid or expired portal token")

// PortalLinks makes and checks signed, expiring portal links. A link's token
// is HMAC-SHA256, keyed with the host's key, over the tenant, the expiry and
// the permissions; the first request exchanges it for an HttpOnly, SameSite
// cookie and is redirected to the same URL without the token. Set it as
// Options.Portal, or use its Tenant, Permissions and Middleware yourself.
type PortalLinks struct {
	key []byte
	// CookieName names the session cookie. Defaults to "hookline_portal".
	CookieName string
	// CookiePath is the cookie's Path: the portal's mount point. Defaults
	// to "/".
	CookiePath string
	// InsecureCookie leaves out the cookie's Secure attribute (plain-http
	// development). Defaults to false: Secure, except on requests that
	// arrived over plain http from loopback.
	InsecureCookie bool
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// TokenParam is the query parameter that carries a portal link's token.
const TokenParam = "token"

// NewPortalLinks returns a PortalLinks keyed with key, which must hold at
// least 32 bytes of secret randomness kept by the host (the same on every
// instance, so links work on all of them).
func NewPortalLinks(key []byte) (*PortalLinks, error) {
	if len(key) < 32 {
		return nil, &webhook.ValidationError{Field: "portal key", Reason: "shorter than 32 bytes; use 32 random bytes kept secret"}
	}
	return &PortalLinks{key: slices.Clone(key)}, nil
}

func (p *PortalLinks) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *PortalLinks) cookieName() string {
	if p.CookieName != "" {
		return p.CookieName
	}
	return "hookline_portal"
}

// Token returns a token for tenant with perms, valid for ttl. A tenant that
// is empty, longer than 256 bytes, not UTF-8 or holding control characters
// is an error matching webhook.ErrInvalid.
func (p *PortalLinks) Token(tenant string, perms Permissions, ttl time.Duration) (string, error) {
	if err := validTenant(tenant); err != nil {
		return "", err
	}
	exp := p.now().Add(ttl).Unix()
	payload := "v1|" + strconv.FormatInt(exp, 10) + "|" + strconv.Itoa(int(perms&PermAll)) + "|" + tenant
	enc := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return enc + "." + base64.RawURLEncoding.EncodeToString(p.mac(enc)), nil
}

func validTenant(t string) error {
	if t == "" || len(t) > 256 || !utf8.ValidString(t) {
		return &webhook.ValidationError{Field: "tenant", Reason: "give 1 to 256 bytes of UTF-8"}
	}
	for _, r := range t {
		if r < 0x20 || r == 0x7f {
			return &webhook.ValidationError{Field: "tenant", Reason: "holds a control character"}
		}
	}
	return nil
}

// Link returns base (the portal's URL, for example
// "https://app.example.com/portal/") with a token for tenant, perms and ttl
// in its query; errors as Token.
func (p *PortalLinks) Link(base, tenant string, perms Permissions, ttl time.Duration) (string, error) {
	tok, err := p.Token(tenant, perms, ttl)
	if err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + TokenParam + "=" + url.QueryEscape(tok), nil
}

func (p *PortalLinks) mac(payload string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("hookline-portal\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

type claims struct {
	tenant  string
	perms   Permissions
	expires time.Time
}

// parse checks a token's signature and expiry.
func (p *PortalLinks) parse(tok string) (claims, error) {
	enc, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 4096 {
		return claims{}, ErrUnauthorized
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, p.mac(enc)) {
		return claims{}, ErrUnauthorized
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return claims{}, ErrUnauthorized
	}
	parts := strings.SplitN(string(raw), "|", 4)
	if len(parts) != 4 || parts[0] != "v1" {
		return claims{}, ErrUnauthorized
	}
	exp, err1 := strconv.ParseInt(parts[1], 10, 64)
	perms, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || perms < 0 || Permissions(perms)&^PermAll != 0 || validTenant(parts[3]) != nil {
		return claims{}, ErrUnauthorized
	}
	c := claims{tenant: parts[3], perms: Permissions(perms), expires: time.Unix(exp, 0)}
	if !p.now().Before(c.expires) {
		return claims{}, ErrUnauthorized
	}
	return c, nil
}

// fromRequest finds the token: the session cookie, else an Authorization
// Bearer header (API clients), else the token query parameter.
func (p *PortalLinks) fromRequest(r *http.Request) (claims, error) {
	if c, err := r.Cookie(p.cookieName()); err == nil && c.Value != "" {
		return p.parse(c.Value)
	}
	if a := r.Header.Get("Authorization"); a != "" {
		if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
			return p.parse(strings.TrimSpace(tok))
		}
	}
	if tok := r.URL.Query().Get(TokenParam); tok != "" {
		return p.parse(tok)
	}
	return claims{}, ErrUnauthorized
}

// Tenant is a ready Options.Tenant: the tenant of the request's valid
// token, or ErrUnauthorized.
func (p *PortalLinks) Tenant(r *http.Request) (string, error) {
	c, err := p.fromRequest(r)
	return c.tenant, err
}

// Permissions is a ready Options.Permissions: the permissions of the
// request's valid token, or ErrUnauthorized.
func (p *PortalLinks) Permissions(r *http.Request) (Permissions, error) {
	c, err := p.fromRequest(r)
	return c.perms, err
}

// Middleware exchanges a valid token in the query for the session cookie
// (HttpOnly, SameSite=Lax, expiring with the token) and redirects a GET to
// the same URL without the token, so the token does not stay in the
// address bar, history or logs. Requests without a token pass through; an
// invalid token answers 401.
func (p *PortalLinks) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		tok := q.Get(TokenParam)
		if tok == "" {
			next.ServeHTTP(w, r)
			return
		}
		c, err := p.parse(tok)
		if err != nil {
			http.Error(w, "This portal link is invalid or has expired. Ask for a new one.", http.StatusUnauthorized)
			return
		}
		path := p.CookiePath
		if path == "" {
			path = "/"
		}
		http.SetCookie(w, &http.Cookie{
			Name: p.cookieName(), Value: tok, Path: path, Expires: c.expires,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: p.secure(r),
		})
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		q.Del(TokenParam)
		u := *r.URL
		u.RawQuery = q.Encode()
		// The redirect goes to the URL the browser asked for (before any
		// StripPrefix), minus the token.
		orig, err := url.ParseRequestURI(r.RequestURI)
		if err == nil {
			orig.RawQuery = u.RawQuery
			http.Redirect(w, r, orig.RequestURI(), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
	})
}

func (p *PortalLinks) secure(r *http.Request) bool {
	if p.InsecureCookie {
		return false
	}
	if r.TLS != nil {
		return true
	}
	host := r.Host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	host = strings.Trim(host, "[]")
	return !(host == "localhost" || host == "127.0.0.1" || host == "::1")
}
