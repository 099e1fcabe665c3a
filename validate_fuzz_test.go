package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	webhook "github.com/hookline/webhook"
)

// FuzzValidateEndpoint drives the endpoint and publish validators through
// the Dispatcher on a memory store. A refused call is a *ValidationError
// that stores nothing. An accepted one stores only valid UTF-8 without NUL
// bytes and a finite rate within bounds, and its strings and numbers come
// back unchanged from the store and through encoding/json (which would
// fail on NaN or ±Inf and rewrite bad UTF-8 to U+FFFD).
func FuzzValidateEndpoint(f *testing.F) {
	f.Add("https://example.com/hook", "acme", "orders\nand refunds", "paused\tfor now", "owner", "team-a", 2.5)
	f.Add("https://example.com/hook", "", "", "", "k", "", 0.0)
	f.Add("https://ex\xffample.com/", "t", "a\x00b", "gone\x00", "k\x00", "v\x00", math.NaN())
	f.Add("https://ex%ffample.com/", "t\x00", "\x1b[2J", "\xfe", "", "\xc3(", math.Inf(1))
	f.Add("https://example.com/", "t", "d", "r", "a\nb", "v", 1e-9)
	ctx := context.Background()
	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rawURL, tenant, desc, reason, key, value string, rate float64) {
		ep := &webhook.Endpoint{
			URL: rawURL, Tenant: tenant, Description: desc, EventTypes: []string{"fuzz.endpoint"},
			Disabled: reason != "", DisabledReason: reason, RateLimit: rate, Metadata: map[string]string{key: value},
		}
		want := *ep
		if err := d.CreateEndpoint(ctx, ep); err != nil {
			var ve *webhook.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, webhook.ErrInvalid) || ve.Field == "" {
				t.Fatalf("refused without a *ValidationError naming the field: %v", err)
			}
			if ep.ID != "" {
				t.Fatalf("a refused endpoint got ID %q", ep.ID)
			}
		} else {
			checkAccepted(t, d, ep, &want)
			if err := d.DisableEndpoint(ctx, ep.ID, reason); err != nil {
				t.Fatalf("reason %q accepted on create, refused by DisableEndpoint: %v", reason, err)
			}
			if err := d.DeleteEndpoint(ctx, ep.ID); err != nil {
				t.Fatal(err)
			}
		}

		md := map[string]string{key: value}
		msg, err := d.Publish(ctx, webhook.RawEvent{Type: "fuzz.publish", Data: []byte(`{}`)},
			&webhook.PublishOpts{Tenant: tenant, Metadata: md})
		if err != nil {
			var ve *webhook.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, webhook.ErrInvalid) {
				t.Fatalf("publish refused without a *ValidationError: %v", err)
			}
			return
		}
		checkStorable(t, "tenant", tenant, false)
		checkStorable(t, "metadata key", key, false)
		checkStorable(t, "metadata value", value, true)
		got, err := d.GetMessage(ctx, msg.ID)
		if err != nil {
			t.Fatal(err)
		}
		var back webhook.Message
		b, err := json.Marshal(got)
		if err == nil {
			err = json.Unmarshal(b, &back)
		}
		if err != nil || got.Tenant != tenant || back.Tenant != tenant || got.Metadata[key] != value || back.Metadata[key] != value {
			t.Fatalf("message tenant %q metadata %q=%q did not round-trip (err %v): store %q %q, JSON %q %q",
				tenant, key, value, err, got.Tenant, got.Metadata, back.Tenant, back.Metadata)
		}
	})
}

// checkAccepted checks an endpoint CreateEndpoint accepted.
func checkAccepted(t *testing.T, d *webhook.Dispatcher, ep, want *webhook.Endpoint) {
	t.Helper()
	checkStorable(t, "url", want.URL, false)
	u, err := url.Parse(want.URL)
	if err != nil {
		t.Fatalf("accepted url %q that does not parse: %v", want.URL, err)
	}
	checkStorable(t, "url host", u.Hostname(), false)
	checkStorable(t, "tenant", want.Tenant, false)
	checkStorable(t, "description", want.Description, true)
	checkStorable(t, "disabled reason", want.DisabledReason, true)
	for k, v := range want.Metadata {
		if k == "" {
			t.Fatal("accepted an empty metadata key")
		}
		checkStorable(t, "metadata key", k, false)
		checkStorable(t, "metadata value", v, true)
	}
	if r := want.RateLimit; r != 0 && !(r >= webhook.MinRateLimit && r <= webhook.MaxRateLimit) {
		t.Fatalf("accepted rate limit %v", r)
	}
	got, err := d.GetEndpoint(context.Background(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("an accepted endpoint does not marshal: %v", err)
	}
	var back webhook.Endpoint
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*webhook.Endpoint{got, &back} {
		if e.URL != want.URL || e.Tenant != want.Tenant || e.Description != want.Description ||
			e.DisabledReason != want.DisabledReason || e.RateLimit != want.RateLimit || !sameMap(e.Metadata, want.Metadata) {
			t.Fatalf("did not round-trip:\n got %+v\nwant %+v", e, want)
		}
	}
}

// checkStorable fails when s is what no store may keep: invalid UTF-8, a
// NUL, or a control character (free text may hold tab, newline and
// carriage return).
func checkStorable(t *testing.T, what, s string, text bool) {
	t.Helper()
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		t.Fatalf("accepted %s %q: not UTF-8 or holds a NUL", what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(text && (r == '\t' || r == '\n' || r == '\r')) {
			t.Fatalf("accepted %s %q holding %U", what, s, r)
		}
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
