// Package webhook is hookline: outbound webhooks for a Go backend, as a
// library.
//
// The host application registers its customers' endpoints, publishes typed
// events, and hookline delivers them in the background: signed the Standard
// Webhooks way, retried with backoff for days, logged attempt by attempt,
// kept away from private networks, and kept from piling onto an endpoint
// that is down. Everything runs in the host's process, on top of a [Store]:
// a [MemoryStore] by default, or the Postgres store of
// github.com/hookline/webhook/pgstore for durable delivery shared by several
// instances.
//
// # Quick start
//
// An event is any Go value with an EventType method; it is sent as JSON.
//
//	type OrderPaid struct {
//		OrderID string `json:"order_id"`
//	}
//
//	func (OrderPaid) EventType() string { return "order.paid" }
//
// A [Dispatcher] stores and sends. With a zero [Config] it keeps everything
// in memory, retries on [DefaultRetrySchedule] and refuses http:// and
// private addresses (set [Config.AllowHTTP] and
// [Config.AllowPrivateNetworks] for a local receiver).
//
//	d, err := webhook.New(webhook.Config{Logger: slog.Default()})
//	if err != nil { ... }
//	if err := d.Start(ctx); err != nil { ... } // the workers run in the background
//	defer d.Shutdown(ctx)                     // finishes the attempts in flight
//
//	ep := &webhook.Endpoint{Tenant: "acme", URL: "https://acme.example/hooks", EventTypes: []string{"order.*"}}
//	if err := d.CreateEndpoint(ctx, ep); err != nil { ... }
//	// ep.ID and ep.Secret ("whsec_...") are filled in: show the secret to the customer.
//
//	msg, err := d.Publish(ctx, OrderPaid{OrderID: "o_1"}, &webhook.PublishOpts{
//		Tenant: "acme",
//		ID:     "order-o_1-paid", // optional idempotency key: publishing it again stores nothing new
//	})
//
// Every enabled endpoint of tenant acme subscribed to order.paid then gets a
// POST of {"type":"order.paid","timestamp":"...","data":{"order_id":"o_1"}}
// with the headers webhook-id (msg.ID, the same on every attempt),
// webhook-timestamp and webhook-signature.
//
// The receiving side uses the same package. [Verifier.Middleware] answers 401
// to a request whose signature does not verify and passes the others on,
// body intact; [Verify] does the same check outside HTTP middleware.
//
//	v := &webhook.Verifier{Secrets: []string{secret}}
//	mux.Handle("POST /hooks", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		id := r.Header.Get("webhook-id") // dedupe on it: delivery is at least once
//		...
//		w.WriteHeader(http.StatusNoContent) // any 2xx acknowledges
//	})))
//
// The package example runs all of this against a local receiver.
//
// # Words
//
//   - Event: a Go value the host publishes, any type with EventType() string;
//     [RawEvent] sends JSON the host already has.
//   - [Message]: what a publish stored: ID (the webhook-id receivers dedupe
//     on), tenant, type, the JSON data, metadata, creation time.
//   - [Endpoint]: a receiver URL of one tenant, with the event types it wants
//     ("order.paid", "order.*", "*", or none for all), its signing secret,
//     enabled or disabled.
//   - [Delivery]: one message to one endpoint: state ([StatePending],
//     [StateSucceeded], [StateFailed] for good), attempts made, next attempt
//     time, last result.
//   - [Attempt]: one HTTP POST of a delivery: start, duration, status code or
//     error, the start of the response body.
//   - Tenant: which of the host's customers a message or an endpoint belongs
//     to; a message never reaches another tenant's endpoint.
//
// IDs hookline generates are TypeIDs (github.com/jetify-com/typeid): a type
// prefix ("msg", "dlv", "att", "ep"), "_", and 26 lowercase base32
// characters of a UUIDv7, so they sort by creation time and TypeID
// libraries in other languages decode them to the UUID.
//
// # How a message travels
//
//  1. [Dispatcher.Publish] marshals the event once, finds the tenant's
//     enabled endpoints subscribed to its type, and stores the message with
//     one delivery per endpoint in one atomic step. An error means nothing
//     was stored.
//  2. The dispatcher's workers claim due deliveries from the store under a
//     lease. If a process dies, its deliveries come due again when their
//     leases lapse: delivery is at least once.
//  3. A worker signs the body afresh, POSTs it, reads at most
//     [Config.ResponseBodyLimit] of the answer, and records the attempt and
//     the delivery's new state in one store call.
//  4. A 2xx succeeds. Anything else is retried after the delay the
//     [RetryPolicy] gives (a capped Retry-After is honoured) until
//     [RetryPolicy.MaxAttempts] attempts are used; then the delivery fails
//     for good and [Hooks.DeliveryFailed] runs.
//
// # Retries and the circuit breaker
//
// [RetryPolicy.NewBackOff] returns a github.com/cenkalti/backoff/v4
// BackOff; the default walks DefaultRetrySchedule (5 s, 5 min, 30 min, ...
// 24 h: about 75 hours). For tests and demos give it millisecond delays,
// built with backoff.NewExponentialBackOff and MaxElapsedTime 0 so that
// MaxAttempts alone ends the retries (see the RetryPolicy example).
//
// Attempts are also paced per endpoint by the [HealthPolicy] in
// [Config.Health]. After BreakerThreshold (5) attempts in a row fail without
// an answer or with a 5xx, the endpoint's circuit breaker opens: its due
// deliveries stay pending, without using up attempts, for BreakerCooldown
// (30 s); then one probe attempt goes out, and each failed probe doubles the
// cool-down up to BreakerMaxCooldown (10 min). So against an endpoint that
// is down, a delivery fails for good later than its retry schedule alone
// says: with millisecond delays and MaxAttempts 10, the first five attempts
// fail at once and the last five are probes 30 s, 1, 2, 4 and 8 minutes
// apart (about 15 minutes), longer still when several deliveries wait for
// the same endpoint's probes. The breaker's state is in memory, per
// Dispatcher. Tests that want the schedule alone set
// HealthPolicy.DisableBreaker or a millisecond BreakerCooldown.
//
// # Publishing in a transaction
//
// [PublishTx] is a function, not a method: webhook.PublishTx(ctx, d, tx, ev,
// opts) stores the message and its deliveries in the caller's transaction
// tx, so they commit or roll back with the host's own writes and are sent
// only once committed. The store must support tx's type ([TxInserter]):
// pgstore does for pgx.Tx.
//
// # Ordered delivery
//
// An endpoint with [Endpoint.Ordered] set gets the messages of one
// [PublishOpts.OrderingKey] one at a time, in publish order: each once the
// one before it has succeeded or failed for good; different keys go out in
// parallel. While a key's head is retrying, the rest of that key waits
// ([Delivery.WaitingFor] names the head). Delivery stays at least once: a
// lost answer makes the head go again before anything later of its key.
// The README's "Ordered delivery" says what a receiver can rely on.
//
// # Operating
//
// The Dispatcher also manages endpoints (GetEndpoint, ListEndpoints,
// UpdateEndpoint, EnableEndpoint, DisableEndpoint, DeleteEndpoint,
// RotateSecret, SetSigningKey), reads the log (GetMessage, GetDelivery,
// ListDeliveries, ListAttempts, Stats), and recovers: [Dispatcher.Redeliver]
// sends one delivery again at once, [Dispatcher.RetryFailed] makes an
// endpoint's failed deliveries due again, [Dispatcher.SendTest] sends a
// signed sample event, [Dispatcher.ReplayMissing] queues for one endpoint
// every message of its tenant since a time that it wants now and never got,
// [Dispatcher.Purge] deletes old finished work.
// RetryFailed's since is compared with each delivery's creation time (when
// its message was published), not with the time it failed: to recover an
// outage, pass the time the outage began, or earlier.
//
// [Hooks] observe and extend the dispatcher (BeforeAttempt may add headers,
// BeforePublish may add metadata, DeliveryFailed, EndpointDisabled,
// EndpointFailing and EndpointRecovered report); [CombineHooks] joins the host's hooks with an instrumentation's.
//
// # Other packages
//
//   - github.com/hookline/webhook/pgstore (its own module, on pgx/v5): the
//     Postgres Store, shared by every instance of the host, with
//     transactional publishing and LISTEN/NOTIFY wake-ups.
//   - github.com/hookline/webhook/admin: a mountable http.Handler with a JSON
//     API and one page for operators and, through signed links, for each
//     tenant's own endpoints (the customer portal).
//   - github.com/hookline/webhook/celfilter (its own module, on cel-go): CEL
//     expressions for [Endpoint.Filter], plugged in as [Config.Filter].
//     Channels ([PublishOpts.Channels], [Endpoint.Channels]) and body
//     formats ([Config.Formats], [Endpoint.Format]) need no module.
//   - github.com/hookline/webhook/otelwebhook (its own module): OpenTelemetry
//     traces and metrics through the dispatcher's hooks.
//   - github.com/hookline/webhook/storetest: the conformance suite every Store
//     passes; run it on your own Store.
//   - github.com/hookline/webhook/webhooktest: a recording receiver that
//     verifies signatures and answers by a script, for tests (NewReceiver)
//     and plain programs (StartReceiver).
package webhook
