package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vectorFile is testdata/standard-webhooks-vectors.json; see
// testdata/README.md for where each vector comes from.
type vectorFile struct {
	Sign []struct {
		Name      string `json:"name"`
		Secret    string `json:"secret"`
		PublicKey string `json:"public_key"`
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Body      string `json:"body"`
		Signature string `json:"signature"`
	} `json:"sign"`
	Verify []struct {
		Name      string `json:"name"`
		Secret    string `json:"secret"`
		ID        string `json:"id"`
		Timestamp string `json:"timestamp"`
		Now       int64  `json:"now"`
		Body      string `json:"body"`
		Signature string `json:"signature"`
		Want      string `json:"want"`
	} `json:"verify"`
}

var wantErr = map[string]error{
	"ok":                    nil,
	"missing_headers":       webhook.ErrMissingHeaders,
	"invalid_timestamp":     webhook.ErrInvalidTimestamp,
	"timestamp_too_old":     webhook.ErrTimestampTooOld,
	"timestamp_too_new":     webhook.ErrTimestampTooNew,
	"no_matching_signature": webhook.ErrNoMatchingSignature,
	"invalid_secret":        webhook.ErrInvalidSecret,
	"invalid_key":           webhook.ErrInvalidKey,
}

func TestStandardWebhooksVectors(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/standard-webhooks-vectors.json")
	require.NoError(t, err)
	var vf vectorFile
	require.NoError(t, json.Unmarshal(raw, &vf))
	require.NotEmpty(t, vf.Sign)
	require.NotEmpty(t, vf.Verify)

	for _, v := range vf.Sign {
		t.Run("sign/"+v.Name, func(t *testing.T) {
			got, err := webhook.Sign(v.Secret, v.ID, time.Unix(v.Timestamp, 0), []byte(v.Body))
			require.NoError(t, err)
			assert.Equal(t, v.Signature, got)

			h := headers(v.ID, strconv.FormatInt(v.Timestamp, 10), got)
			ver := webhook.Verifier{Secrets: []string{v.Secret}, Now: fixedClock(v.Timestamp)}
			assert.NoError(t, ver.Verify(h, []byte(v.Body)), "verifies with the secret")
			if v.PublicKey != "" {
				pub, err := webhook.PublicKey(v.Secret)
				require.NoError(t, err)
				assert.Equal(t, v.PublicKey, pub)
				ver.Secrets = []string{v.PublicKey}
				assert.NoError(t, ver.Verify(h, []byte(v.Body)), "verifies with the public key")
			}
		})
	}
	for _, v := range vf.Verify {
		t.Run("verify/"+v.Name, func(t *testing.T) {
			want, ok := wantErr[v.Want]
			require.True(t, ok, "unknown want %q", v.Want)
			h := http.Header{}
			for k, val := range map[string]string{"webhook-id": v.ID, "webhook-timestamp": v.Timestamp, "webhook-signature": v.Signature} {
				if val != "" {
					h.Set(k, val)
				}
			}
			ver := webhook.Verifier{Secrets: []string{v.Secret}, Now: fixedClock(v.Now)}
			err := ver.Verify(h, []byte(v.Body))
			if want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, want)
			}
		})
	}
}

func fixedClock(unix int64) func() time.Time {
	return func() time.Time { return time.Unix(unix, 0) }
}

func headers(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, ts)
	h.Set(webhook.HeaderSignature, sig)
	return h
}

// signed returns the headers and body of a delivery signed with secret at
// unix time ts.
func signed(t *testing.T, secret, id string, ts int64, body string) (http.Header, []byte) {
	t.Helper()
	sig, err := webhook.Sign(secret, id, time.Unix(ts, 0), []byte(body))
	require.NoError(t, err)
	return headers(id, strconv.FormatInt(ts, 10), sig), []byte(body)
}

func TestVerifyRefusesTampering(t *testing.T) {
	t.Parallel()
	const now = 1700000000
	secret := webhook.NewSecret()
	signKey, pubKey := webhook.NewSigningKey()
	for _, kind := range []struct{ name, signWith, verifyWith string }{
		{"v1", secret, secret},
		{"v1a", signKey, pubKey},
	} {
		tests := []struct {
			name   string
			modify func(h http.Header, body []byte) []byte
			secret string
			now    int64
			want   error
		}{
			{name: "untouched", want: nil},
			{name: "body changed", modify: func(_ http.Header, b []byte) []byte { return append(b[:len(b)-1:len(b)-1], ' ', '}') }, want: webhook.ErrNoMatchingSignature},
			{name: "body emptied", modify: func(http.Header, []byte) []byte { return nil }, want: webhook.ErrNoMatchingSignature},
			{name: "id changed", modify: func(h http.Header, b []byte) []byte { h.Set(webhook.HeaderID, "msg_2"); return b }, want: webhook.ErrNoMatchingSignature},
			{name: "timestamp changed by a second", modify: func(h http.Header, b []byte) []byte {
				h.Set(webhook.HeaderTimestamp, strconv.Itoa(now+1))
				return b
			}, want: webhook.ErrNoMatchingSignature},
			{name: "timestamp with a leading zero", modify: func(h http.Header, b []byte) []byte {
				h.Set(webhook.HeaderTimestamp, "0"+strconv.Itoa(now))
				return b
			}, want: webhook.ErrInvalidTimestamp},
			{name: "timestamp with a plus sign", modify: func(h http.Header, b []byte) []byte {
				h.Set(webhook.HeaderTimestamp, "+"+strconv.Itoa(now))
				return b
			}, want: webhook.ErrInvalidTimestamp},
			{name: "signature flipped", modify: func(h http.Header, b []byte) []byte {
				s := []byte(h.Get(webhook.HeaderSignature))
				s[len(s)-3] ^= 1
				h.Set(webhook.HeaderSignature, string(s))
				return b
			}, want: webhook.ErrNoMatchingSignature},
			{name: "signature version changed", modify: func(h http.Header, b []byte) []byte {
				_, sig, _ := strings.Cut(h.Get(webhook.HeaderSignature), ",")
				h.Set(webhook.HeaderSignature, "v2,"+sig)
				return b
			}, want: webhook.ErrNoMatchingSignature},
			{name: "wrong secret", secret: webhook.NewSecret(), want: webhook.ErrNoMatchingSignature},
			{name: "wrong public key", secret: func() string { _, p := webhook.NewSigningKey(); return p }(), want: webhook.ErrNoMatchingSignature},
			{name: "too old", now: now + 301, want: webhook.ErrTimestampTooOld},
			{name: "old but in tolerance", now: now + 300, want: nil},
			{name: "too new", now: now - 301, want: webhook.ErrTimestampTooNew},
			{name: "new but in tolerance", now: now - 300, want: nil},
			{name: "missing id", modify: func(h http.Header, b []byte) []byte { h.Del(webhook.HeaderID); return b }, want: webhook.ErrMissingHeaders},
			{name: "missing timestamp", modify: func(h http.Header, b []byte) []byte { h.Del(webhook.HeaderTimestamp); return b }, want: webhook.ErrMissingHeaders},
			{name: "missing signature", modify: func(h http.Header, b []byte) []byte { h.Del(webhook.HeaderSignature); return b }, want: webhook.ErrMissingHeaders},
			{name: "malformed secret", secret: "whsec_not base64!", want: webhook.ErrInvalidSecret},
			{name: "malformed public key", secret: "whpk_AAAA", want: webhook.ErrInvalidKey},
		}
		for _, tc := range tests {
			t.Run(kind.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				h, body := signed(t, kind.signWith, "msg_1", now, `{"type":"a.b","data":{}}`)
				if tc.modify != nil {
					body = tc.modify(h, body)
				}
				v := webhook.Verifier{Secrets: []string{kind.verifyWith}, Now: fixedClock(now)}
				if tc.secret != "" {
					v.Secrets = []string{tc.secret}
				}
				if tc.now != 0 {
					v.Now = fixedClock(tc.now)
				}
				err := v.Verify(h, body)
				if tc.want == nil {
					assert.NoError(t, err)
					return
				}
				assert.ErrorIs(t, err, tc.want)
				for _, other := range []error{webhook.ErrMissingHeaders, webhook.ErrInvalidTimestamp, webhook.ErrTimestampTooOld,
					webhook.ErrTimestampTooNew, webhook.ErrNoMatchingSignature, webhook.ErrInvalidSecret, webhook.ErrInvalidKey} {
					if other != tc.want {
						assert.NotErrorIs(t, err, other, "errors are distinct")
					}
				}
			})
		}
	}
}

func TestVerifierSecretsAndTolerance(t *testing.T) {
	t.Parallel()
	const now = 1700000000
	oldSecret, newSecret := webhook.NewSecret(), webhook.NewSecret()
	signKey, pubKey := webhook.NewSigningKey()
	h, body := signed(t, oldSecret, "msg_1", now, `{}`)

	v := webhook.Verifier{Secrets: []string{newSecret, oldSecret}, Now: fixedClock(now)}
	assert.NoError(t, v.Verify(h, body), "any listed secret is enough")
	v.Secrets = []string{newSecret, pubKey}
	assert.ErrorIs(t, v.Verify(h, body), webhook.ErrNoMatchingSignature)

	// A public key and an HMAC secret side by side; a v1a signature alone.
	ha, body := signed(t, signKey, "msg_1", now, `{}`)
	v.Secrets = []string{newSecret, pubKey}
	assert.NoError(t, v.Verify(ha, body))
	v.Secrets = []string{signKey}
	assert.NoError(t, v.Verify(ha, body), "a whsk_ secret key verifies too")

	// Tolerance and clock.
	v = webhook.Verifier{Secrets: []string{oldSecret}, Tolerance: 10 * time.Second, Now: fixedClock(now + 11)}
	assert.ErrorIs(t, v.Verify(h, body), webhook.ErrTimestampTooOld)
	v.Now = fixedClock(now - 11)
	assert.ErrorIs(t, v.Verify(h, body), webhook.ErrTimestampTooNew)
	v.Now = fixedClock(now + 10)
	assert.NoError(t, v.Verify(h, body))

	// Misconfiguration is an error, never a panic, and is reported before
	// anything about the request.
	for _, bad := range [][]string{nil, {}, {""}, {"whsec_"}, {oldSecret, "whsec_%%%"}, {"whpk_"}, {"whsk_abc"}} {
		v := webhook.Verifier{Secrets: bad, Now: fixedClock(now)}
		err := v.Verify(h, body)
		require.Error(t, err, "%q", bad)
		assert.True(t, errors.Is(err, webhook.ErrInvalidSecret) || errors.Is(err, webhook.ErrInvalidKey), "%q: %v", bad, err)
		err2 := (&webhook.Verifier{Secrets: bad}).Verify(http.Header{}, nil)
		assert.Equal(t, err.Error(), err2.Error(), "reported before the missing headers")
	}
	// The package-level Verify uses the system clock.
	hNow, body := signed(t, oldSecret, "msg_1", time.Now().Unix(), `{}`)
	assert.NoError(t, webhook.Verify(oldSecret, hNow, body))
	assert.ErrorIs(t, webhook.Verify(oldSecret, h, body), webhook.ErrTimestampTooOld)
}

func TestVerifyLooksAtMaxSignatures(t *testing.T) {
	t.Parallel()
	const now = 1700000000
	signKey, pubKey := webhook.NewSigningKey()
	h, body := signed(t, signKey, "msg_1", now, `{}`)
	valid := h.Get(webhook.HeaderSignature)
	decoy, err := webhook.Sign(signKey, "msg_2", time.Unix(now, 0), []byte(`{}`))
	require.NoError(t, err)
	v := webhook.Verifier{Secrets: []string{pubKey}, Now: fixedClock(now)}

	list := strings.TrimSpace(strings.Repeat(decoy+" ", webhook.MaxSignatures-1))
	h.Set(webhook.HeaderSignature, list+" "+valid)
	assert.NoError(t, v.Verify(h, body), "the last signature looked at")
	h.Set(webhook.HeaderSignature, list+" "+decoy+" "+valid)
	assert.ErrorIs(t, v.Verify(h, body), webhook.ErrNoMatchingSignature, "one past the cap is ignored")
}

func TestSignSecretForms(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	require.True(t, strings.HasPrefix(secret, webhook.SecretPrefix))
	ts := time.Unix(1700000000, 0)
	a, err := webhook.Sign(secret, "msg_1", ts, []byte("x"))
	require.NoError(t, err)
	b, err := webhook.Sign(strings.TrimPrefix(secret, webhook.SecretPrefix), "msg_1", ts, []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, a, b, "with or without whsec_")
	assert.True(t, strings.HasPrefix(a, "v1,"))
	assert.NotEqual(t, webhook.NewSecret(), secret)

	for _, bad := range []string{"", "whsec_", "whsec_!!!!", "not base64", "whsk_", "whsk_AAAA", "whpk_" + strings.Repeat("A", 44)} {
		_, err := webhook.Sign(bad, "msg_1", ts, []byte("x"))
		assert.Error(t, err, "%q", bad)
	}
	_, err = webhook.Sign("whsec_!!!!", "msg_1", ts, nil)
	assert.ErrorIs(t, err, webhook.ErrInvalidSecret)

	sk, pk := webhook.NewSigningKey()
	require.True(t, strings.HasPrefix(sk, webhook.SigningKeyPrefix))
	require.True(t, strings.HasPrefix(pk, webhook.PublicKeyPrefix))
	got, err := webhook.PublicKey(sk)
	require.NoError(t, err)
	assert.Equal(t, pk, got)
	sig, err := webhook.Sign(sk, "msg_1", ts, []byte("x"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(sig, "v1a,"))
	_, err = webhook.Sign(pk, "msg_1", ts, nil)
	assert.ErrorIs(t, err, webhook.ErrInvalidKey, "a public key cannot sign")
	_, err = webhook.PublicKey(pk)
	assert.ErrorIs(t, err, webhook.ErrInvalidKey, "a public key has no public key")
	_, err = webhook.PublicKey(secret)
	assert.ErrorIs(t, err, webhook.ErrInvalidKey)
	// A 64-byte key whose public half belongs to another seed.
	sk2, _ := webhook.NewSigningKey()
	mixed := sk[:len(webhook.SigningKeyPrefix)+43] + sk2[len(webhook.SigningKeyPrefix)+43:]
	_, err = webhook.Sign(mixed, "msg_1", ts, nil)
	assert.ErrorIs(t, err, webhook.ErrInvalidKey)
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	const now = 1700000000
	secret := webhook.NewSecret()
	v := &webhook.Verifier{Secrets: []string{secret}, Now: fixedClock(now), MaxBodySize: 64}
	var (
		mu    sync.Mutex
		calls int
		seen  []byte
	)
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		mu.Lock()
		calls++
		seen = b
		mu.Unlock()
		assert.NoError(t, err)
		assert.Equal(t, int64(len(b)), r.ContentLength)
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(srv.Close)

	post := func(h http.Header, body []byte) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(body)))
		require.NoError(t, err)
		for k, vs := range h {
			req.Header[k] = vs
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}

	h, body := signed(t, secret, "msg_1", now, `{"type":"a.b"}`)
	code, _ := post(h, body)
	assert.Equal(t, http.StatusNoContent, code)
	mu.Lock()
	assert.Equal(t, 1, calls)
	assert.Equal(t, string(body), string(seen), "next reads the verified body")
	mu.Unlock()

	code, msg := post(h, []byte(`{"type":"a.c"}`))
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Equal(t, "no signature matches", msg)
	code, msg = post(http.Header{}, body)
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Contains(t, msg, "missing webhook-id")
	hOld, body := signed(t, secret, "msg_1", now-600, `{}`)
	code, msg = post(hOld, body)
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Equal(t, "webhook-timestamp is too old", msg)

	// The body cap: exactly MaxBodySize passes, one byte more is refused.
	hMax, body := signed(t, secret, "msg_1", now, strings.Repeat("a", 64))
	code, _ = post(hMax, body)
	assert.Equal(t, http.StatusNoContent, code)
	hBig, big := signed(t, secret, "msg_1", now, strings.Repeat("a", 65))
	code, msg = post(hBig, big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Equal(t, "webhook body too large", msg)

	mu.Lock()
	assert.Equal(t, 2, calls, "next runs only for verified requests")
	mu.Unlock()

	// A misconfigured verifier answers 500, not 401.
	bad := &webhook.Verifier{Secrets: []string{"whsec_%"}}
	rec := httptest.NewRecorder()
	bad.Middleware(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)

	// The default cap is DefaultMaxBodySize.
	dv := &webhook.Verifier{Secrets: []string{secret}, Now: fixedClock(now)}
	hHuge, huge := signed(t, secret, "msg_1", now, strings.Repeat("a", webhook.DefaultMaxBodySize+1))
	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(huge)))
	req.Header = hHuge
	dv.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
}

// mutableClock is a Config.Now the test moves by hand.
type mutableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *mutableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *mutableClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRotateSecretOverlap(t *testing.T) {
	t.Parallel()
	clock := &mutableClock{t: time.Now()}
	d := newDispatcher(t, func(c *webhook.Config) { c.Now = clock.Now })
	rcv := webhooktest.NewReceiver(t)
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL, Tenant: "acme"})
	oldSecret := ep.Secret
	ctx := context.Background()

	// verify checks the delivery of msgID with secret at the dispatcher's
	// clock (the receiver a customer runs has its own clock in step).
	verify := func(msgID, secret string) error {
		got := rcv.WaitForMessage(t, msgID, 5*time.Second)
		v := webhook.Verifier{Secrets: []string{secret}, Now: clock.Now}
		return v.Verify(got[0].Header, got[0].Body)
	}

	rotated, err := d.RotateSecret(ctx, ep.ID, time.Hour)
	require.NoError(t, err)
	newSecret := rotated.Secret
	require.NotEqual(t, oldSecret, newSecret)
	assert.Equal(t, oldSecret, rotated.PreviousSecret)

	// During the overlap: two signatures, either secret verifies.
	msg, err := d.Publish(ctx, rewardIssued{CustomerID: "c1"}, &webhook.PublishOpts{Tenant: "acme"})
	require.NoError(t, err)
	assert.NoError(t, verify(msg.ID, oldSecret), "old secret during the overlap")
	assert.NoError(t, verify(msg.ID, newSecret), "new secret during the overlap")
	assert.Len(t, strings.Fields(rcv.WaitForMessage(t, msg.ID, time.Second)[0].Header.Get(webhook.HeaderSignature)), 2)

	// After it: one signature, only the new secret verifies.
	clock.Add(time.Hour + time.Second)
	msg, err = d.Publish(ctx, rewardIssued{CustomerID: "c2"}, &webhook.PublishOpts{Tenant: "acme"})
	require.NoError(t, err)
	assert.NoError(t, verify(msg.ID, newSecret), "new secret after the overlap")
	assert.ErrorIs(t, verify(msg.ID, oldSecret), webhook.ErrNoMatchingSignature, "old secret after the overlap")
	assert.Len(t, strings.Fields(rcv.WaitForMessage(t, msg.ID, time.Second)[0].Header.Get(webhook.HeaderSignature)), 1)

	// Overlap 0 retires the old secret at once.
	again, err := d.RotateSecret(ctx, ep.ID, 0)
	require.NoError(t, err)
	assert.Empty(t, again.PreviousSecret)
	msg, err = d.Publish(ctx, rewardIssued{CustomerID: "c3"}, &webhook.PublishOpts{Tenant: "acme"})
	require.NoError(t, err)
	assert.NoError(t, verify(msg.ID, again.Secret))
	assert.ErrorIs(t, verify(msg.ID, newSecret), webhook.ErrNoMatchingSignature)

	_, err = d.RotateSecret(ctx, ep.ID, -time.Second)
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	_, err = d.RotateSecret(ctx, "ep_missing", time.Hour)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

func TestAsymmetricSigningPerEndpoint(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, nil)
	ctx := context.Background()
	signKey, pubKey := webhook.NewSigningKey()
	// The receiver holds only the public key.
	rcv := webhooktest.NewReceiver(t, webhooktest.WithSecret(pubKey), webhooktest.WithRejectUnverified())
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL, Tenant: "acme", SigningKey: signKey})
	plain := webhooktest.NewReceiver(t, webhooktest.WithSecret(pubKey))
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: plain.URL, Tenant: "acme"})

	msg, err := d.Publish(ctx, rewardIssued{CustomerID: "c1"}, &webhook.PublishOpts{Tenant: "acme"})
	require.NoError(t, err)
	got := rcv.WaitForMessage(t, msg.ID, 5*time.Second)
	require.True(t, got[0].Verified, "v1a verifies with the public key: %v", got[0].VerifyErr)
	sigs := strings.Fields(got[0].Header.Get(webhook.HeaderSignature))
	require.Len(t, sigs, 2)
	assert.True(t, strings.HasPrefix(sigs[0], "v1a,"))
	assert.True(t, strings.HasPrefix(sigs[1], "v1,"))
	assert.NoError(t, webhook.Verify(ep.Secret, got[0].Header, got[0].Body), "the HMAC secret still verifies")

	// An endpoint without a signing key sends v1 only: the public key does
	// not verify it.
	other := plain.WaitFor(t, 1, 5*time.Second)[0]
	assert.ErrorIs(t, other.VerifyErr, webhook.ErrNoMatchingSignature)
	assert.NotContains(t, other.Header.Get(webhook.HeaderSignature), "v1a,")

	// A malformed signing key is refused and changes nothing.
	err = d.CreateEndpoint(ctx, &webhook.Endpoint{URL: rcv.URL, Tenant: "acme", SigningKey: pubKey})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	_, err = d.SetSigningKey(ctx, ep.ID, "whsk_AAAA")
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	_, err = d.SetSigningKey(ctx, "ep_missing", "")
	assert.ErrorIs(t, err, webhook.ErrNotFound)

	// UpdateEndpoint with an empty key keeps it (an update built from the
	// JSON view, which never shows keys, must not drop v1a).
	ep.SigningKey, ep.Description = "", "renamed"
	require.NoError(t, d.UpdateEndpoint(ctx, ep))
	stored, err := d.GetEndpoint(ctx, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, signKey, stored.SigningKey)

	// SetSigningKey with an empty key turns v1a off.
	off, err := d.SetSigningKey(ctx, ep.ID, "")
	require.NoError(t, err)
	assert.Empty(t, off.SigningKey)
	msg, err = d.Publish(ctx, rewardIssued{CustomerID: "c2"}, &webhook.PublishOpts{Tenant: "acme"})
	require.NoError(t, err)
	got = rcv.WaitForAttempts(t, msg.ID, 1, 5*time.Second)
	assert.ErrorIs(t, got[0].VerifyErr, webhook.ErrNoMatchingSignature, "the public key no longer verifies")
	assert.Equal(t, http.StatusUnauthorized, got[0].Status)
}

func BenchmarkVerify(b *testing.B) {
	body := []byte(`{"type":"order.paid","timestamp":"2026-11-28T15:06:43.123Z","data":{"order_id":"o_1","amount":4200}}`)
	signKey, pubKey := webhook.NewSigningKey()
	secret := webhook.NewSecret()
	for _, bc := range []struct{ name, sign, verify string }{{"v1", secret, secret}, {"v1a", signKey, pubKey}} {
		b.Run(bc.name, func(b *testing.B) {
			now := time.Now()
			sig, err := webhook.Sign(bc.sign, "msg_1", now, body)
			require.NoError(b, err)
			h := headers("msg_1", strconv.FormatInt(now.Unix(), 10), sig)
			v := webhook.Verifier{Secrets: []string{bc.verify}, Now: func() time.Time { return now }}
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
