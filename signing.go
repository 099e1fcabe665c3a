package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every symmetric signing secret.
const SecretPrefix = "whsec_"

// Signature verification errors, distinct so receivers can log why.
var (
	ErrMissingHeaders      = errors.New("hookline: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrInvalidTimestamp    = errors.New("hookline: webhook-timestamp is not a unix time in seconds")
	ErrTimestampTooOld     = errors.New("hookline: webhook-timestamp is too old")
	ErrTimestampTooNew     = errors.New("hookline: webhook-timestamp is too far in the future")
	ErrNoMatchingSignature = errors.New("hookline: no signature matches")
	ErrInvalidSecret       = errors.New("hookline: malformed secret: want whsec_ followed by base64 key bytes")
)

// DefaultTolerance is how far a webhook-timestamp may be from the
// receiver's clock, either way.
const DefaultTolerance = 5 * time.Minute

// NewSecret returns a new signing secret: "whsec_" followed by the base64 of
// 24 random bytes.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// decodeSecret returns the key bytes of a secret given with or without the
// whsec_ prefix.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.TrimPrefix(secret, SecretPrefix)
	if s == "" {
		return nil, ErrInvalidSecret
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) == 0 {
		return nil, ErrInvalidSecret
	}
	return key, nil
}

// Sign returns the Standard Webhooks signature "v1,<base64 HMAC-SHA256>" of
// "msgID.unix(ts).body" under secret (with or without the whsec_ prefix).
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(signMAC(key, msgID, ts.Unix(), body)), nil
}

func signMAC(key []byte, msgID string, unix int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	var buf [32]byte
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(buf[:0], unix, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery's Standard Webhooks headers and body against
// secret with DefaultTolerance and the system clock. It returns nil when one
// of the listed v1 signatures matches, or one of the errors above.
func Verify(secret string, h http.Header, body []byte) error {
	v := Verifier{Secrets: []string{secret}}
	return v.Verify(h, body)
}

// Verifier checks incoming deliveries. The zero value with Secrets set is
// ready to use.
type Verifier struct {
	// Secrets are tried in turn; any one matching is enough (rotation on the
	// receiving side).
	Secrets []string
	// Tolerance is how far the timestamp may be from Now, either way.
	// Defaults to DefaultTolerance.
	Tolerance time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Verify checks the headers and body.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id, tsStr, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsStr == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	n := now().Unix()
	if unix < n-int64(tol/time.Second) {
		return ErrTimestampTooOld
	}
	if unix > n+int64(tol/time.Second) {
		return ErrTimestampTooNew
	}
	var keys [][]byte
	for _, s := range v.Secrets {
		k, err := decodeSecret(s)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	for _, key := range keys {
		want := signMAC(key, id, unix, body)
		for _, sig := range strings.Fields(sigs) {
			ver, b64, ok := strings.Cut(sig, ",")
			if !ok || ver != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				continue
			}
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}

// signatureHeader returns the webhook-signature value for an endpoint at
// now: the current secret's signature, followed during a rotation overlap by
// the previous secret's.
func signatureHeader(ep *Endpoint, msgID string, ts time.Time, body []byte) (string, error) {
	sig, err := Sign(ep.Secret, msgID, ts, body)
	if err != nil {
		return "", err
	}
	if ep.PreviousSecret != "" && ts.Before(ep.PreviousSecretExpiresAt) {
		old, err := Sign(ep.PreviousSecret, msgID, ts, body)
		if err == nil {
			sig += " " + old
		}
	}
	return sig, nil
}
