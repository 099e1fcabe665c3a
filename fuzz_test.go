package webhook_test

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
)

// FuzzValidateURL: validation never panics, and an accepted URL is
// absolute https (or http when allowed), with a host, and not a literal
// address the guard refuses.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/hook", "http://example.com", "https://127.0.0.1/", "https://[::1]:8443/x",
		"https://[::ffff:10.0.0.1]/", "https://169.254.169.254/latest/meta-data", "https://localhost./",
		"https://user:pw@example.com", "ftp://example.com", "//example.com", "https://exa mple.com",
		"https://example.com:0", "https://example.com:99999", "https://0x7f.1/", "https://[fe80::1%25eth0]/",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowHTTP bool) {
		err := webhook.ValidateURL(raw, allowHTTP, false)
		if err != nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("accepted %q that does not parse: %v", raw, perr)
		}
		if u.Scheme != "https" && !(allowHTTP && u.Scheme == "http") {
			t.Fatalf("accepted scheme %q in %q", u.Scheme, raw)
		}
		if u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q without host or with user info", raw)
		}
		if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
			a = a.Unmap()
			if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() {
				t.Fatalf("accepted special-purpose address %s in %q", a, raw)
			}
		}
	})
}

// FuzzParseRetryAfter: never panics, never returns a negative delay, and
// reads any run of digits, however long, as a delay (a huge one is longer
// than any cap, not malformed).
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "1.5", "", " 7 ", "Wed, 21 Oct 2015 07:28:00 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "99999999999999999999", "9223372036"} {
		f.Add(s)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := webhook.ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("%q: negative delay %s", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("%q: delay %s without ok", v, d)
		}
		if digits := strings.TrimSpace(v); digits != "" && strings.Trim(digits, "0123456789") == "" && !ok {
			t.Fatalf("%q: delay-seconds refused", v)
		}
	})
}

// FuzzValidateEventType: never panics; an accepted type is full-stop
// delimited non-empty parts of [a-zA-Z0-9_].
func FuzzValidateEventType(f *testing.F) {
	for _, s := range []string{"reward.issued", "a", "a..b", ".a", "a.", "a b", "ä.b", "a_b.C9", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if webhook.ValidateEventType(s) != nil {
			return
		}
		if s == "" || len(s) > 256 {
			t.Fatalf("accepted %q", s)
		}
		for _, part := range strings.Split(s, ".") {
			if part == "" {
				t.Fatalf("accepted %q with an empty part", s)
			}
			for _, c := range part {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
					t.Fatalf("accepted %q with %q", s, c)
				}
			}
		}
	})
}
