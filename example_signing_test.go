package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	webhook "github.com/hookline/webhook"
)

// A receiver guards its handler with the middleware; the handler reads the
// verified body as usual.
func ExampleVerifier_Middleware() {
	secret := webhook.NewSecret() // the endpoint's secret, shown by the sender
	v := &webhook.Verifier{Secrets: []string{secret}}
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("handling %s: %s\n", r.Header.Get("webhook-id"), body)
		w.WriteHeader(http.StatusNoContent)
	}))

	send := func(body string, sign bool) {
		now := time.Now()
		req := httptest.NewRequest(http.MethodPost, "/webhooks", strings.NewReader(body))
		req.Header.Set("webhook-id", "msg_1")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		sig, _ := webhook.Sign(secret, "msg_1", now, []byte(`{"type":"order.paid"}`))
		if sign {
			req.Header.Set("webhook-signature", sig)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(strings.TrimSpace(strconv.Itoa(rec.Code) + " " + rec.Body.String()))
	}
	send(`{"type":"order.paid"}`, true)
	send(`{"type":"order.refunded"}`, true)
	send(`{"type":"order.paid"}`, false)
	// Output:
	// handling msg_1: {"type":"order.paid"}
	// 204
	// 401 no signature matches
	// 401 missing webhook-id, webhook-timestamp or webhook-signature header
}

// An endpoint opted into asymmetric signatures: the receiver holds only the
// public key.
func ExampleNewSigningKey() {
	secretKey, publicKey := webhook.NewSigningKey() // secretKey goes in Endpoint.SigningKey
	now := time.Now()
	body := []byte(`{"type":"order.paid"}`)
	sig, _ := webhook.Sign(secretKey, "msg_1", now, body)

	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	fmt.Println(sig[:4], webhook.Verify(publicKey, h, body))
	// Output: v1a, <nil>
}
