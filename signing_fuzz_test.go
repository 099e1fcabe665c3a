package webhook_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
)

// Fixed keys for FuzzVerify, so the seed corpus stays meaningful.
const (
	fuzzSecret     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	fuzzSigningKey = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
	fuzzPublicKey  = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	fuzzNow        = 1614265330
)

// FuzzVerify checks that Verify never panics, whatever the headers, body
// and configured secret, and never accepts a body other than the one
// signed: the fuzzer picks the id, the timestamp offset, junk to surround
// the real signatures with, the signed body and another body.
func FuzzVerify(f *testing.F) {
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", int64(0), "", []byte(`{"test": 2432232314}`), []byte(`{"test": 2432232315}`), fuzzSecret)
	f.Add("msg_1", int64(-300), "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,x", []byte(`{}`), []byte(`{} `), "whpk_AAAA")
	f.Add("msg_1", int64(301), "v1a,AAAA v1,", []byte(`a`), []byte(``), "")
	f.Add("id.with.dots", int64(5), "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==", []byte("x"), []byte("x"), "whsk_")
	f.Add("", int64(0), ",,, v1 v1a", []byte(nil), []byte("\x00"), "whsec_%%%")

	good := webhook.Verifier{Secrets: []string{fuzzSecret, fuzzPublicKey}, Now: fixedClock(fuzzNow)}
	f.Fuzz(func(t *testing.T, id string, offset int64, junk string, body, other []byte, secret string) {
		offset %= 1000
		ts := time.Unix(fuzzNow+offset, 0)
		v1, err := webhook.Sign(fuzzSecret, id, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		v1a, err := webhook.Sign(fuzzSigningKey, id, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		for _, sig := range []string{v1, v1a, junk + " " + v1 + " " + v1a + " " + junk, junk} {
			h := http.Header{}
			h.Set(webhook.HeaderID, id)
			h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
			h.Set(webhook.HeaderSignature, sig)

			// The signed body verifies exactly when the request is well formed.
			err := good.Verify(h, body)
			wellFormed := id != "" && offset >= -300 && offset <= 300 && sig != junk
			if wellFormed && err != nil {
				t.Fatalf("signed body refused: %v (id %q, offset %d, sig %q)", err, id, offset, sig)
			}
			// Any other body never verifies.
			if !bytes.Equal(other, body) {
				if err := good.Verify(h, other); err == nil {
					t.Fatalf("accepted a body other than the one signed: signed %q, got %q, sig %q", body, other, sig)
				}
			}
			// Junk alone never verifies anything (it holds no real signature).
			if sig == junk && err == nil && !bytes.Contains([]byte(junk), []byte(v1)) && !bytes.Contains([]byte(junk), []byte(v1a)) {
				t.Fatalf("junk signature header %q accepted", junk)
			}
			// An arbitrary configured secret or key never panics.
			bad := webhook.Verifier{Secrets: []string{secret}, Now: fixedClock(fuzzNow)}
			_ = bad.Verify(h, other)
			_, _ = webhook.Sign(secret, id, ts, body)
			_, _ = webhook.PublicKey(secret)
		}
		// Arbitrary header values never panic either.
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, junk)
		h.Set(webhook.HeaderSignature, secret)
		_ = good.Verify(h, body)
	})
}
