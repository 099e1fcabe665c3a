package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Key prefixes of the Standard Webhooks key formats.
const (
	// SecretPrefix starts every symmetric (HMAC-SHA256, "v1") signing
	// secret.
	SecretPrefix = "whsec_"
	// SigningKeyPrefix starts an ed25519 secret key ("v1a" signatures),
	// kept by the sender only.
	SigningKeyPrefix = "whsk_"
	// PublicKeyPrefix starts an ed25519 public key, given to receivers to
	// verify "v1a" signatures.
	PublicKeyPrefix = "whpk_"
)

// Signature verification errors, distinct so receivers can log why.
var (
	ErrMissingHeaders      = errors.New("hookline: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrInvalidTimestamp    = errors.New("hookline: webhook-timestamp is not a unix time in seconds")
	ErrTimestampTooOld     = errors.New("hookline: webhook-timestamp is too old")
	ErrTimestampTooNew     = errors.New("hookline: webhook-timestamp is too far in the future")
	ErrNoMatchingSignature = errors.New("hookline: no signature matches")
	ErrInvalidSecret       = errors.New("hookline: malformed secret: want whsec_ followed by base64 key bytes")
	// ErrInvalidKey: a whsk_ or whpk_ key does not hold a base64 ed25519
	// key of the right length.
	ErrInvalidKey = errors.New("hookline: malformed key: want whsk_ or whpk_ followed by a base64 ed25519 key")
	// ErrBodyTooLarge: the request body exceeds Verifier.MaxBodySize.
	ErrBodyTooLarge = errors.New("hookline: webhook body too large")
)

// DefaultTolerance is how far a webhook-timestamp may be from the
// receiver's clock, either way.
const DefaultTolerance = 5 * time.Minute

// MaxSignatures is how many entries of a webhook-signature header Verify
// looks at; the rest are ignored. A sender lists one per key in use (hookline
// sends at most three: v1a, v1, and the previous v1 during a rotation); the
// cap keeps a forged header of thousands of entries from costing thousands
// of ed25519 verifications.
const MaxSignatures = 32

// DefaultMaxBodySize is how much of a request body Verifier.Middleware
// reads at most: 1 MiB.
const DefaultMaxBodySize = 1 << 20

// NewSecret returns a new signing secret: "whsec_" followed by the base64 of
// 24 random bytes.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// NewSigningKey returns a new ed25519 key pair in the Standard Webhooks
// formats: secretKey is "whsk_" followed by the base64 of the 64-byte
// ed25519 private key (seed and public key, as crypto/ed25519 and libsodium
// hold it), publicKey is "whpk_" followed by the base64 of the 32-byte public
// key. Set secretKey as Endpoint.SigningKey; give publicKey to the receiver.
func NewSigningKey() (secretKey, publicKey string) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader) // never fails with crypto/rand
	return SigningKeyPrefix + base64.StdEncoding.EncodeToString(priv),
		PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// PublicKey returns the "whpk_" public key of a "whsk_" secret key, to show
// receivers. It returns ErrInvalidKey for anything else.
func PublicKey(secretKey string) (string, error) {
	priv, err := decodeSigningKey(secretKey)
	if err != nil {
		return "", err
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), nil
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

// decodeSigningKey reads a "whsk_" key: the base64 of a 64-byte ed25519
// private key, or of its 32-byte seed.
func decodeSigningKey(key string) (ed25519.PrivateKey, error) {
	s, ok := strings.CutPrefix(key, SigningKeyPrefix)
	if !ok {
		return nil, ErrInvalidKey
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrInvalidKey
	}
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if !bytes.Equal(priv[ed25519.SeedSize:], b[ed25519.SeedSize:]) {
			return nil, fmt.Errorf("%w (its public half does not belong to its seed)", ErrInvalidKey)
		}
		return priv, nil
	}
	return nil, ErrInvalidKey
}

// decodePublicKey reads a "whpk_" key: the base64 of a 32-byte ed25519
// public key.
func decodePublicKey(key string) (ed25519.PublicKey, error) {
	s, ok := strings.CutPrefix(key, PublicKeyPrefix)
	if !ok {
		return nil, ErrInvalidKey
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, ErrInvalidKey
	}
	return ed25519.PublicKey(b), nil
}

// Sign returns the Standard Webhooks signature of "msgID.unix(ts).body".
// With a symmetric secret ("whsec_..." or the bare base64) it is
// "v1,<base64 HMAC-SHA256>"; with an ed25519 secret key ("whsk_...") it is
// "v1a,<base64 ed25519 signature>". A malformed secret returns
// ErrInvalidSecret (ErrInvalidKey for a whsk_ key or a whpk_ public key).
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	if strings.HasPrefix(secret, PublicKeyPrefix) {
		return "", fmt.Errorf("%w: a whpk_ public key verifies but cannot sign; sign with its whsk_ secret key", ErrInvalidKey)
	}
	if strings.HasPrefix(secret, SigningKeyPrefix) {
		priv, err := decodeSigningKey(secret)
		if err != nil {
			return "", err
		}
		return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, signedContent(msgID, ts.Unix(), body))), nil
	}
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

// signedContent is "msgID.unix.body", what v1a signs (ed25519 hashes its
// whole input itself, so it cannot be streamed like the HMAC).
func signedContent(msgID string, unix int64, body []byte) []byte {
	b := make([]byte, 0, len(msgID)+len(body)+22)
	b = append(b, msgID...)
	b = append(b, '.')
	b = strconv.AppendInt(b, unix, 10)
	b = append(b, '.')
	return append(b, body...)
}

// Verify checks a delivery's Standard Webhooks headers and body against one
// key with DefaultTolerance and the system clock. The key is a symmetric
// secret ("whsec_..." or the bare base64), an ed25519 public key
// ("whpk_...") or secret key ("whsk_..."). It returns nil when one of the
// listed signatures of the key's kind matches, or one of the errors above.
func Verify(secret string, h http.Header, body []byte) error {
	v := Verifier{Secrets: []string{secret}}
	return v.Verify(h, body)
}

// Verifier checks incoming deliveries. The zero value with Secrets set is
// ready to use; it is safe for concurrent use as long as its fields are not
// changed.
type Verifier struct {
	// Secrets are tried in turn; any one matching is enough (rotation on the
	// receiving side: list the new secret beside the old one until the
	// sender stops using the old). Each is a symmetric secret ("whsec_..."
	// or the bare base64, checks v1 signatures) or an ed25519 public key
	// ("whpk_...", checks v1a signatures; a "whsk_" secret key works too).
	// A malformed entry makes every Verify fail with ErrInvalidSecret or
	// ErrInvalidKey.
	Secrets []string
	// Tolerance is how far the timestamp may be from Now, either way.
	// Defaults to DefaultTolerance.
	Tolerance time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// MaxBodySize caps the bytes Middleware reads of a request body; a
	// longer body is refused with 413. Defaults to DefaultMaxBodySize.
	MaxBodySize int64
}

// verifyKeys holds a Verifier's decoded secrets.
type verifyKeys struct {
	macs [][]byte
	pubs []ed25519.PublicKey
}

func (v *Verifier) keys() (verifyKeys, error) {
	var k verifyKeys
	if len(v.Secrets) == 0 {
		return k, fmt.Errorf("%w (the verifier has no secrets)", ErrInvalidSecret)
	}
	for i, s := range v.Secrets {
		switch {
		case strings.HasPrefix(s, PublicKeyPrefix):
			pub, err := decodePublicKey(s)
			if err != nil {
				return k, fmt.Errorf("secret %d: %w", i+1, err)
			}
			k.pubs = append(k.pubs, pub)
		case strings.HasPrefix(s, SigningKeyPrefix):
			priv, err := decodeSigningKey(s)
			if err != nil {
				return k, fmt.Errorf("secret %d: %w", i+1, err)
			}
			k.pubs = append(k.pubs, priv.Public().(ed25519.PublicKey))
		default:
			mac, err := decodeSecret(s)
			if err != nil {
				return k, fmt.Errorf("secret %d: %w", i+1, err)
			}
			k.macs = append(k.macs, mac)
		}
	}
	return k, nil
}

// parseTimestamp reads a webhook-timestamp: decimal digits only (no sign,
// no leading zeros, no spaces), so that the value verified is the text
// signed.
func parseTimestamp(s string) (int64, bool) {
	if s == "" || len(s) > 18 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Verify checks the headers and body. It returns nil when one signature in
// webhook-signature (among its first MaxSignatures) matches one of the
// Secrets; signatures of versions other than v1 and v1a, and malformed ones,
// are skipped. The errors, in the order
// they are checked: ErrInvalidSecret or ErrInvalidKey (the Verifier is
// misconfigured), ErrMissingHeaders, ErrInvalidTimestamp,
// ErrTimestampTooOld, ErrTimestampTooNew, ErrNoMatchingSignature.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	keys, err := v.keys()
	if err != nil {
		return err
	}
	id, tsStr, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsStr == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, ok := parseTimestamp(tsStr)
	if !ok {
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
	n, tolSec := now().Unix(), int64(tol/time.Second)
	if unix < n-tolSec {
		return ErrTimestampTooOld
	}
	if unix > n+tolSec {
		return ErrTimestampTooNew
	}

	var macs [][]byte
	for _, key := range keys.macs {
		macs = append(macs, signMAC(key, id, unix, body))
	}
	var content []byte
	fields := strings.Fields(sigs)
	if len(fields) > MaxSignatures {
		fields = fields[:MaxSignatures]
	}
	for _, sig := range fields {
		ver, b64, ok := strings.Cut(sig, ",")
		if !ok {
			continue
		}
		switch ver {
		case "v1":
			if len(macs) == 0 {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				continue
			}
			for _, want := range macs {
				if hmac.Equal(got, want) { // constant time
					return nil
				}
			}
		case "v1a":
			if len(keys.pubs) == 0 {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || len(got) != ed25519.SignatureSize {
				continue
			}
			if content == nil {
				content = signedContent(id, unix, body)
			}
			for _, pub := range keys.pubs {
				if ed25519.Verify(pub, content, got) {
					return nil
				}
			}
		}
	}
	return ErrNoMatchingSignature
}

// Middleware returns a handler that verifies every request before passing
// it to next. It reads at most MaxBodySize bytes of the body; on success
// next gets the request with the same body readable again from the start.
// A request that does not verify is answered 401 with a one-line reason in
// text/plain (413 for a body over MaxBodySize, 400 when the body cannot be
// read, 500 when the Verifier itself is misconfigured), and next is not
// called.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := v.MaxBodySize
		if limit <= 0 {
			limit = DefaultMaxBodySize
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			http.Error(w, "webhook body could not be read", http.StatusBadRequest)
			return
		}
		if int64(len(body)) > limit {
			http.Error(w, reason(ErrBodyTooLarge), http.StatusRequestEntityTooLarge)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			if errors.Is(err, ErrInvalidSecret) || errors.Is(err, ErrInvalidKey) {
				http.Error(w, "webhook verification is misconfigured", http.StatusInternalServerError)
				return
			}
			http.Error(w, reason(err), http.StatusUnauthorized)
			return
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		next.ServeHTTP(w, r)
	})
}

// reason is the short text of a verification error: its message without
// the package prefix.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), "hookline: ")
}

// signatureHeader returns the webhook-signature value for an endpoint at
// ts: the v1a signature when the endpoint has a SigningKey, then the current
// secret's v1 signature, then during a rotation overlap the previous
// secret's.
func signatureHeader(ep *Endpoint, msgID string, ts time.Time, body []byte) (string, error) {
	sig, err := Sign(ep.Secret, msgID, ts, body)
	if err != nil {
		return "", err
	}
	if ep.SigningKey != "" {
		asym, err := Sign(ep.SigningKey, msgID, ts, body)
		if err != nil {
			return "", err
		}
		sig = asym + " " + sig
	}
	if ep.PreviousSecret != "" && ts.Before(ep.PreviousSecretExpiresAt) {
		old, err := Sign(ep.PreviousSecret, msgID, ts, body)
		if err == nil {
			sig += " " + old
		}
	}
	return sig, nil
}
