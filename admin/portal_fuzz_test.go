package admin

import (
	"testing"
	"time"
)

// FuzzPortalToken: no input panics, and only tokens the key made verify,
// with what was put in them.
func FuzzPortalToken(f *testing.F) {
	p, err := NewPortalLinks([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	p.Now = func() time.Time { return now }
	f.Add("acme", uint8(PermAll), "")
	f.Add("a|b|c", uint8(0), "x.y")
	f.Add("", uint8(255), "djF8MXwwfGFjbWU.AAAA")
	f.Fuzz(func(t *testing.T, tenant string, perms uint8, raw string) {
		if c, err := p.parse(raw); err == nil {
			// A token from nowhere verified: it must be one the key signs.
			if tok, _ := p.Token(c.tenant, c.perms, c.expires.Sub(now)); tok != raw {
				t.Fatalf("forged token %q verified as %+v", raw, c)
			}
		}
		tok, err := p.Token(tenant, Permissions(perms), time.Hour)
		if err != nil {
			if validTenant(tenant) == nil {
				t.Fatalf("Token refused a valid tenant %q: %v", tenant, err)
			}
			return
		}
		c, err := p.parse(tok)
		if err != nil {
			t.Fatalf("own token for %q refused: %v", tenant, err)
		}
		if c.tenant != tenant || c.perms != Permissions(perms)&PermAll {
			t.Fatalf("round trip: got %q %v, want %q %v", c.tenant, c.perms, tenant, Permissions(perms)&PermAll)
		}
	})
}
