// Command admin shows the admin and customer-portal handler in a host app:
// the operator view at /admin/ behind basic auth, the customer portal at
// /portal/ opened through a signed link, the receivers' webhook docs at
// /webhooks.openapi.json built from the event catalog, a demo receiver that
// fails now and then, and a publisher sending typed events for two tenants.
//
//	go run ./examples/admin                  # until Ctrl-C
//	go run ./examples/admin -demo-seconds 5  # a short run that exits
//	go run ./examples/admin -addr 127.0.0.1:9000 -password s3cret
//
// It prints the operator URL, the basic-auth user and password, and a
// customer-portal link for tenant acme. Flags:
//
//	-addr            address to listen on (default 127.0.0.1:8080; 127.0.0.1:0 picks a free port)
//	-user            basic-auth user of the operator view at /admin/ (default admin)
//	-password        its password (default: random, printed at start)
//	-demo-seconds N  exit after N seconds (default 0: run until interrupted)
//	-publish-every   how often the demo publishes an event (default 2s)
//
// Everything lives in memory and is gone when it exits.
package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/hookline/webhook/catalog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// The events the demo publishes: Go types, from which the catalog makes
// the JSON Schemas the page, strict publishing and the receivers' docs use.
type (
	// InvoicePaid is sent when an invoice is paid in full.
	InvoicePaid struct {
		InvoiceID string `json:"invoice_id" jsonschema:"description=The invoice's ID"`
		Amount    int64  `json:"amount" jsonschema:"description=In the currency's smallest unit,minimum=0"`
		Currency  string `json:"currency" jsonschema:"enum=EUR,enum=USD"`
	}
	// InvoiceVoided is sent when an invoice is voided before payment.
	InvoiceVoided struct {
		InvoiceID string `json:"invoice_id"`
	}
	// CustomerCreated is sent when a customer signs up.
	CustomerCreated struct {
		CustomerID string    `json:"customer_id"`
		Email      string    `json:"email,omitempty" jsonschema:"format=email"`
		CreatedAt  time.Time `json:"created_at"`
	}
)

// EventType names each event.
func (InvoicePaid) EventType() string     { return "invoice.paid" }
func (InvoiceVoided) EventType() string   { return "invoice.voided" }
func (CustomerCreated) EventType() string { return "customer.created" }

// newCatalog registers every event type with an example.
func newCatalog() (*catalog.Catalog, error) {
	c := catalog.New()
	for _, r := range []struct {
		ev   webhook.Event
		info catalog.Info
	}{
		{InvoicePaid{InvoiceID: "in_123", Amount: 4200, Currency: "EUR"}, catalog.Info{Description: "An invoice was paid in full.", Group: "Invoices"}},
		{InvoiceVoided{InvoiceID: "in_123"}, catalog.Info{Description: "An invoice was voided before payment.", Group: "Invoices"}},
		{CustomerCreated{CustomerID: "cus_42", Email: "ada@example.com", CreatedAt: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
			catalog.Info{Description: "A customer signed up.", Group: "Customers", Version: "1"}},
	} {
		if err := c.Register(r.ev, r.info); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// run starts everything, prints the URLs and serves until ctx ends or,
// with -demo-seconds, for that long. ready (optional) receives the
// server's base URL, the basic-auth password and a portal link.
func run(ctx context.Context, args []string, out io.Writer, ready func(base, password, link string)) error {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	user := fs.String("user", "admin", "basic-auth user of the operator view")
	password := fs.String("password", "", "basic-auth password of the operator view (default: random, printed)")
	demoSeconds := fs.Int("demo-seconds", 0, "exit after this many seconds (0: run until interrupted)")
	every := fs.Duration("publish-every", 2*time.Second, "how often the demo publishes an event")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *password == "" {
		*password = randomHex(8)
	}
	if *demoSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*demoSeconds)*time.Second)
		defer cancel()
	}

	// A demo receiver on loopback that fails about one request in four.
	var received atomic.Int64
	recv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		if mrand.IntN(4) == 0 {
			http.Error(w, "temporarily unavailable, try again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 5 * time.Second}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = recv.Serve(rl) }()
	defer recv.Close()
	recvURL := "http://" + rl.Addr().String()

	cat, err := newCatalog()
	if err != nil {
		return err
	}
	// The receivers' OpenAPI document, built from the same catalog.
	docs, err := cat.OpenAPI(catalog.DocInfo{Title: "Demo webhooks", Description: "Events the demo sends to its customers' endpoints."})
	if err != nil {
		return err
	}
	d, err := webhook.New(webhook.Config{
		AllowHTTP: true, AllowPrivateNetworks: true, // the demo receiver is on loopback
		Retry:  webhook.RetryPolicy{MaxAttempts: 3},
		Events: cat, // strict: only the catalog's types are published
	})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	}()
	for _, ep := range []*webhook.Endpoint{
		{Tenant: "acme", URL: recvURL + "/acme/orders", Description: "Order system", EventTypes: []string{"invoice.*"}},
		{Tenant: "acme", URL: recvURL + "/acme/crm", Description: "CRM sync", EventTypes: []string{"customer.created"}},
		{Tenant: "globex", URL: recvURL + "/globex", Description: "Everything", EventTypes: []string{"*"}},
	} {
		if err := d.CreateEndpoint(ctx, ep); err != nil {
			return err
		}
	}

	// The handler twice: operator mode behind basic auth, and the portal.
	operator, err := admin.New(d, &admin.Options{EventTypes: cat.AdminEventTypes(), WebhooksOpenAPI: docs, Title: "Webhooks (operator)"})
	if err != nil {
		return err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	links, err := admin.NewPortalLinks(key)
	if err != nil {
		return err
	}
	links.CookiePath = "/portal/"
	portal, err := admin.New(d, &admin.Options{EventTypes: cat.AdminEventTypes(), WebhooksOpenAPI: docs, Portal: links, Title: "Your webhooks"})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", basicAuth(*user, *password, http.StripPrefix("/admin", operator)))
	mux.Handle("/portal/", http.StripPrefix("/portal", portal))
	mux.Handle("/{$}", http.RedirectHandler("/admin/", http.StatusFound))
	// The webhook docs are public: receivers' developers read them.
	mux.HandleFunc("GET /webhooks.openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(docs)
	})

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()
	base := "http://" + l.Addr().String()
	link, err := links.Link(base+"/portal/", "acme", admin.PermAll, 24*time.Hour)
	if err != nil {
		return err
	}
	readOnly, err := links.Link(base+"/portal/", "globex", admin.PermReadOnly, 24*time.Hour)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "operator view: %s/admin/  (user %q, password %q)\n", base, *user, *password)
	fmt.Fprintf(out, "customer portal for tenant acme (valid 24 h):\n  %s\n", link)
	fmt.Fprintf(out, "read-only portal link for tenant globex:\n  %s\n", readOnly)
	fmt.Fprintf(out, "webhook docs for receivers (OpenAPI 3.1): %s/webhooks.openapi.json\n", base)
	if ready != nil {
		ready(base, *password, link)
	}

	// Publish now and then until the end.
	tick := time.NewTicker(*every)
	defer tick.Stop()
	n := 0
	publish := func() error {
		n++
		tenant := []string{"acme", "globex"}[n%2]
		var ev webhook.Event
		switch n % 3 {
		case 0:
			ev = InvoicePaid{InvoiceID: fmt.Sprintf("in_%d", n), Amount: int64(1000 + n), Currency: "EUR"}
		case 1:
			ev = CustomerCreated{CustomerID: fmt.Sprintf("cus_%d", n), CreatedAt: time.Now().UTC()}
		default:
			ev = InvoiceVoided{InvoiceID: fmt.Sprintf("in_%d", n)}
		}
		_, err := d.Publish(ctx, ev, &webhook.PublishOpts{Tenant: tenant})
		return err
	}
	for range 3 {
		if err := publish(); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			fmt.Fprintf(out, "published %d events; the receiver got %d requests\n", n, received.Load())
			return nil
		case err := <-serveErr:
			return err
		case <-tick.C:
			// Once ctx ends the dispatcher stops too: a publish racing with
			// that is not an error of the demo.
			if err := publish(); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

// basicAuth is the host's own authentication in front of the operator view.
func basicAuth(user, password string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="webhooks admin", charset="UTF-8"`)
			http.Error(w, "sign in", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
