// Command receiver is a webhook receiver as the team on the other end would
// write it: plain net/http, hookline's Verifier middleware in front, and
// deduplication by webhook-id, since every sender retries and may deliver a
// message more than once.
//
// By default it runs a short demo and exits: it starts the receiver on
// loopback, has a hookline dispatcher deliver one event to it, redelivers
// that event (a duplicate with the same webhook-id) and sends one forged
// request, then prints what the receiver did.
//
//	go run ./examples/receiver
//
// With -serve it serves until interrupted, verifying with the secrets in
// WEBHOOK_SECRETS (comma-separated: list the new secret beside the old one
// during a rotation; a whpk_ public key verifies v1a signatures):
//
//	WEBHOOK_SECRETS=whsec_... go run ./examples/receiver -serve -addr 127.0.0.1:8080
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	webhook "github.com/hookline/webhook"
)

// envelope is the body hookline sends by default (the Standard Webhooks
// payload shape).
type envelope struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// dedupe remembers which webhook-ids were handled. A real receiver keeps
// them in its database (a unique index on the id, written in the same
// transaction as the work the event causes); this map forgets ids after
// keep, which must outlast the sender's retry schedule.
type dedupe struct {
	mu   sync.Mutex
	keep time.Duration
	done map[string]time.Time
	busy map[string]bool
}

func newDedupe(keep time.Duration) *dedupe {
	return &dedupe{keep: keep, done: map[string]time.Time{}, busy: map[string]bool{}}
}

// begin reports whether id may be handled now: false when it was handled
// already (duplicate) or is being handled by another request (busy).
func (d *dedupe) begin(id string) (ok, duplicate bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for k, t := range d.done { // fine for a demo; a database expires rows itself
		if now.Sub(t) > d.keep {
			delete(d.done, k)
		}
	}
	if _, seen := d.done[id]; seen {
		return false, true
	}
	if d.busy[id] {
		return false, false
	}
	d.busy[id] = true
	return true, false
}

// end finishes handling id; only a success marks it done, so a failed
// attempt can be retried by the sender.
func (d *dedupe) end(id string, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.busy, id)
	if ok {
		d.done[id] = time.Now()
	}
}

// receiver handles verified deliveries.
type receiver struct {
	log     *slog.Logger
	seen    *dedupe
	mu      sync.Mutex
	handled []string // event types handled, for the demo's summary
	dups    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(webhook.HeaderID) // present: the middleware checked it
	ok, dup := rc.seen.begin(id)
	switch {
	case dup:
		rc.mu.Lock()
		rc.dups++
		rc.mu.Unlock()
		rc.log.Info("duplicate ignored", "webhook_id", id)
		w.WriteHeader(http.StatusOK) // acknowledge, or the sender keeps retrying
		return
	case !ok:
		http.Error(w, "this message is being handled; retry later", http.StatusConflict)
		return
	}
	var ev envelope
	err := json.NewDecoder(r.Body).Decode(&ev) // the verified body, readable again
	if err == nil {
		err = rc.handle(r.Context(), id, &ev)
	}
	rc.seen.end(id, err == nil)
	if err != nil {
		rc.log.Error("handling failed", "webhook_id", id, "error", err)
		http.Error(w, "could not handle the event", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handle does the work an event asks for.
func (rc *receiver) handle(_ context.Context, id string, ev *envelope) error {
	switch ev.Type {
	case "order.paid":
		var order struct {
			OrderID string `json:"order_id"`
			Amount  int    `json:"amount"`
		}
		if err := json.Unmarshal(ev.Data, &order); err != nil {
			return fmt.Errorf("order.paid data: %w", err)
		}
		rc.log.Info("order paid", "webhook_id", id, "order_id", order.OrderID, "amount", order.Amount)
	default:
		rc.log.Info("event type not handled here; acknowledged", "webhook_id", id, "type", ev.Type)
	}
	rc.mu.Lock()
	rc.handled = append(rc.handled, ev.Type)
	rc.mu.Unlock()
	return nil
}

// newHandler is the receiver's whole HTTP surface: POST /webhooks, verified.
func newHandler(rc *receiver, secrets []string) http.Handler {
	v := &webhook.Verifier{Secrets: secrets, MaxBodySize: 256 << 10}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks", v.Middleware(rc))
	return mux
}

func main() {
	serve := flag.Bool("serve", false, "serve until interrupted instead of running the demo")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address with -serve")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	var err error
	if *serve {
		err = runServer(log, *addr)
	} else {
		err = runDemo(log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func runServer(log *slog.Logger, addr string) error {
	var secrets []string
	for _, s := range strings.Split(os.Getenv("WEBHOOK_SECRETS"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			secrets = append(secrets, s)
		}
	}
	if len(secrets) == 0 {
		return errors.New("set WEBHOOK_SECRETS to the endpoint's whsec_ secret (or whpk_ public key)")
	}
	if err := (&webhook.Verifier{Secrets: secrets}).Verify(nil, nil); errors.Is(err, webhook.ErrInvalidSecret) || errors.Is(err, webhook.ErrInvalidKey) {
		return fmt.Errorf("WEBHOOK_SECRETS: %w", err)
	}
	rc := &receiver{log: log, seen: newDedupe(72 * time.Hour)}
	srv := &http.Server{Addr: addr, Handler: newHandler(rc, secrets), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("receiving webhooks", "url", "http://"+addr+"/webhooks")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// OrderPaid is the event the demo publishes.
type OrderPaid struct {
	OrderID string `json:"order_id"`
	Amount  int    `json:"amount"`
}

// EventType names the event.
func (OrderPaid) EventType() string { return "order.paid" }

func runDemo(log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The receiving side: the secret is what the sender showed when the
	// endpoint was created.
	secret := webhook.NewSecret()
	rc := &receiver{log: log, seen: newDedupe(72 * time.Hour)}
	srv := httptest.NewServer(newHandler(rc, []string{secret}))
	defer srv.Close()

	// The sending side: a hookline dispatcher with one endpoint.
	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = d.Shutdown(context.Background()) }()
	ep := &webhook.Endpoint{URL: srv.URL + "/webhooks", Tenant: "acme", Secret: secret}
	if err := d.CreateEndpoint(ctx, ep); err != nil {
		return err
	}

	// 1. A delivery, 2. the same message again (a redelivery: same
	// webhook-id), 3. a forgery signed with another secret.
	msg, err := d.Publish(ctx, OrderPaid{OrderID: "o_1", Amount: 4200}, &webhook.PublishOpts{Tenant: "acme"})
	if err != nil {
		return err
	}
	del, err := waitSucceeded(ctx, d, msg.ID)
	if err != nil {
		return err
	}
	if err := d.Redeliver(ctx, del.ID); err != nil {
		return err
	}
	if err := waitDuplicates(ctx, rc, 1); err != nil {
		return err
	}
	status, reason, err := forge(ctx, srv.URL+"/webhooks", msg.ID)
	if err != nil {
		return err
	}
	log.Info("forged request refused", "status", status, "reason", reason)

	rc.mu.Lock()
	handled, dups := len(rc.handled), rc.dups
	rc.mu.Unlock()
	fmt.Printf("handled %d event(s), ignored %d duplicate(s), refused a forgery with %d\n", handled, dups, status)
	if handled != 1 || dups != 1 || status != http.StatusUnauthorized {
		return errors.New("the receiver did not behave as expected")
	}
	return d.Shutdown(ctx)
}

func waitSucceeded(ctx context.Context, d *webhook.Dispatcher, msgID string) (*webhook.Delivery, error) {
	for {
		ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msgID})
		if err != nil {
			return nil, err
		}
		if len(ds) == 1 && ds[0].State == webhook.StateSucceeded {
			return ds[0], nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("message %s not delivered: %w", msgID, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func waitDuplicates(ctx context.Context, rc *receiver, n int) error {
	for {
		rc.mu.Lock()
		dups := rc.dups
		rc.mu.Unlock()
		if dups >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redelivery not seen: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// forge sends a request signed with a secret the receiver does not know.
func forge(ctx context.Context, url, msgID string) (int, string, error) {
	body := `{"type":"order.paid","timestamp":"2030-01-01T00:00:00Z","data":{"order_id":"o_1","amount":1}}`
	now := time.Now()
	sig, err := webhook.Sign(webhook.NewSecret(), msgID+"-forged", now, []byte(body))
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set(webhook.HeaderID, msgID+"-forged")
	req.Header.Set(webhook.HeaderTimestamp, fmt.Sprint(now.Unix()))
	req.Header.Set(webhook.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	reason, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return resp.StatusCode, strings.TrimSpace(string(reason)), nil
}
