package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Dispatcher. The zero value is usable: every field has
// a default, most of them exported as a ...Default constant. New refuses a
// negative count, size or duration with a *ValidationError naming the field.
type Config struct {
	// Store keeps endpoints, messages, deliveries and attempts. Defaults to
	// a new MemoryStore.
	Store Store
	// HTTPClient sends the deliveries. Defaults to a client with an SSRF
	// guard (private, loopback, link-local and other special-purpose
	// addresses refused at connect time), no proxy, and timeouts. A client
	// given here is used as it is, so guarding addresses is then the
	// caller's job; hookline still never follows a redirect.
	HTTPClient *http.Client
	// Retry decides whether and when failed attempts are retried. Zero
	// fields take the defaults described on RetryPolicy.
	Retry RetryPolicy
	// Hooks run around attempts and at other points of interest.
	Hooks Hooks
	// Health tunes circuit breaking, back-pressure and auto-disable of
	// failing endpoints. Zero fields take the defaults described on
	// HealthPolicy.
	Health HealthPolicy
	// Logger receives structured logs. Defaults to discarding them. Secrets
	// and payloads are never logged.
	Logger *slog.Logger
	// AllowHTTP accepts http:// endpoint URLs (local development, tests).
	// Defaults to false: https only.
	AllowHTTP bool
	// AllowPrivateNetworks lets endpoints and the default client reach
	// loopback, private, link-local and other special-purpose addresses.
	// Defaults to false.
	AllowPrivateNetworks bool
	// AllowedNetworks lists address ranges reachable even though the guard
	// refuses them otherwise (a host's internal receivers). Defaults to none.
	AllowedNetworks []netip.Prefix
	// Workers is how many attempts run at once. Defaults to WorkersDefault
	// (64): deliveries wait on the network, not the CPU.
	Workers int
	// MaxInFlightPerEndpoint caps the attempts running at once to one
	// endpoint, so a slow endpoint cannot take every worker. Deliveries held
	// back by it wait without occupying a worker. An endpoint earns the
	// cap by answering: it starts at HealthPolicy.InitialInFlight (2)
	// attempts in flight and gains one per answer (any status); an attempt
	// that got no answer (a timeout, a refused or reset connection) takes
	// it back to 1 until it answers again. Defaults to
	// MaxInFlightPerEndpointDefault (16).
	MaxInFlightPerEndpoint int
	// ClaimBatch is how many deliveries one claim takes at most. Defaults to
	// ClaimBatchDefault (64).
	ClaimBatch int
	// AttemptTimeout bounds one attempt, connection to last byte read.
	// Defaults to AttemptTimeoutDefault (15 seconds).
	AttemptTimeout time.Duration
	// Lease is how long a claimed delivery stays reserved for this
	// dispatcher; a crashed instance's deliveries come due again after it.
	// Must exceed AttemptTimeout. Defaults to AttemptTimeout +
	// LeaseMarginDefault (10 seconds).
	Lease time.Duration
	// PollInterval is how often workers look for due deliveries when
	// nothing woke them (the fallback to publish and store notifications).
	// Defaults to PollIntervalDefault (1 second).
	PollInterval time.Duration
	// MaxPayloadSize caps the marshalled event, in bytes. Defaults to
	// MaxPayloadSizeDefault (256 KiB).
	MaxPayloadSize int
	// ResponseBodyLimit is how much of a response body an attempt keeps, in
	// bytes. Defaults to ResponseBodyLimitDefault (4 KiB).
	ResponseBodyLimit int
	// MaxResponseHeaderBytes caps the response headers the default client
	// accepts, in bytes; a larger answer fails the attempt. It does not
	// apply to a Config.HTTPClient. What an attempt keeps of headers is
	// bounded apart from it (AttemptHeaderLimit). Defaults to
	// MaxResponseHeaderBytesDefault (64 KiB).
	MaxResponseHeaderBytes int64
	// Envelope builds the HTTP body from a message's fields and the event's
	// JSON. Defaults to StandardEnvelope:
	// {"type": ..., "timestamp": ..., "data": ...}.
	Envelope EnvelopeFunc
	// Events, when set, makes Publish and PublishTx strict: an event type
	// the catalog does not list, or a RawEvent whose JSON does not match
	// its type's schema, is refused with an error matching ErrInvalid (a
	// *ValidationError naming the failing path) and nothing is stored.
	// Typed events are checked for their type only. Defaults to nil: any
	// valid type is published and a RawEvent's data only has to be JSON.
	// See EventCatalog and the catalog module.
	Events EventCatalog
	// Filter compiles and runs Endpoint.Filter expressions (the celfilter
	// module provides one, for CEL). Defaults to nil: endpoints with a
	// filter are refused.
	Filter FilterEngine
	// Formats registers named body formats an endpoint may pick with
	// Endpoint.Format; each builds the body from the message and the
	// event's JSON like Envelope. Names are 1 to 64 characters of
	// [A-Za-z0-9_.-]. Defaults to none: every endpoint gets Envelope.
	Formats map[string]EnvelopeFunc
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// EnvelopeFunc builds the body sent for a message: msg has ID, Tenant, Type,
// Metadata and CreatedAt set; data is the event's JSON. The result must be
// JSON.
type EnvelopeFunc func(msg *Message, data json.RawMessage) ([]byte, error)

// StandardEnvelope is the Standard Webhooks payload shape:
// {"type":"<event type>","timestamp":"<RFC 3339>","data":<event>}.
func StandardEnvelope(msg *Message, data json.RawMessage) ([]byte, error) {
	ts := msg.CreatedAt.UTC().Format(time.RFC3339Nano)
	b := make([]byte, 0, len(data)+len(msg.Type)+len(ts)+40)
	b = append(b, `{"type":`...)
	b, _ = appendJSONString(b, msg.Type)
	b = append(b, `,"timestamp":"`...)
	b = append(b, ts...)
	b = append(b, `","data":`...)
	b = append(b, data...)
	b = append(b, '}')
	return b, nil
}

func appendJSONString(b []byte, s string) ([]byte, error) {
	q, err := json.Marshal(s)
	return append(b, q...), err
}

// PublishOpts are optional settings of one publish.
type PublishOpts struct {
	// ID is the message ID, for idempotency: publishing an ID again for the
	// same tenant stores nothing and returns the message stored first. IDs
	// are global (the ID is the webhook-id receivers dedupe on): an ID taken
	// by another tenant's message is ErrConflict, so make IDs unique across
	// tenants. 1 to 128 characters of [A-Za-z0-9_-] (never a full stop: the
	// ID is part of what is signed). Empty: a new "msg_" ID.
	ID string
	// Tenant is whose message it is; only that tenant's endpoints receive
	// it. "" is a tenant of its own, for single-tenant hosts.
	Tenant string
	// Metadata is stored with the message and readable from hooks through
	// MessageFromContext; it is not sent. At most 16 entries.
	Metadata map[string]string
	// Channels label the message (a store, a region, a program): endpoints
	// with channels receive it only if they list one of these. At most 32
	// names of 1 to 128 characters of [A-Za-z0-9_.:-].
	Channels []string
	// OrderingKey puts the message's deliveries to Ordered endpoints in
	// the queue of that key (for example the customer ID): they go out
	// after the earlier messages with the same key, and in parallel with
	// other keys. Ignored by endpoints that are not Ordered. "" is one
	// queue per endpoint.
	OrderingKey string
}

// Dispatcher publishes messages and delivers them. Create it with New, run
// its workers with Start and stop them with Shutdown. All methods are safe
// for concurrent use.
type Dispatcher struct {
	cfg    Config
	store  Store
	client *http.Client
	// ownClient is set when the dispatcher built client itself (no
	// Config.HTTPClient): Shutdown then closes its idle connections.
	ownClient bool
	log       *slog.Logger
	guard     addrGuard
	owner     string
	ids       *idGen
	health    *health
	filters   *filterCache // compiled Endpoint.Filter expressions
	keepData  bool         // store Message.Data: the envelope is not StandardEnvelope

	wake    chan struct{}
	pacing  Pacing     // the store's, when it is a Pacer
	adm     *admission // worker tokens, in-flight counts, held deliveries
	work    chan *Claimed
	records chan record

	mu      sync.Mutex // the lifecycle: started, stop
	started bool
	closed  atomic.Bool
	stop    chan struct{}

	bufs sync.Pool // response buffers of ResponseBodyLimit bytes

	attemptCtx    context.Context
	cancelAttempt context.CancelFunc
	recordCtx     context.Context
	cancelRecord  context.CancelFunc
	wg            sync.WaitGroup // claimer and workers
	recWG         sync.WaitGroup // recorder
}

// New validates cfg, fills its defaults and returns a Dispatcher. It starts
// nothing: call Start.
func New(cfg Config) (*Dispatcher, error) {
	keepData := cfg.Envelope != nil // a custom envelope: Payload may not hold the data as is
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{
		cfg:    cfg,
		store:  cfg.Store,
		log:    cfg.Logger,
		guard:  addrGuard{allowAll: cfg.AllowPrivateNetworks, allowed: cfg.AllowedNetworks},
		ids:    newIDGen(),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		health: newHealth(cfg.Health, cfg.MaxInFlightPerEndpoint),

		filters:  &filterCache{eng: cfg.Filter},
		keepData: keepData,
	}
	d.adm = newAdmission(cfg.Workers, d.health, cfg.Now, d.wakeUp)
	if p, ok := cfg.Store.(Pacer); ok {
		d.pacing = p.Pacing()
	}
	d.owner = d.ids.newID("dsp_")
	if cfg.HTTPClient == nil {
		d.client, d.ownClient = newDefaultClient(&d.cfg), true
	} else {
		c := *cfg.HTTPClient
		c.CheckRedirect = noRedirects
		d.client = &c
	}
	return d, nil
}

// Store returns the dispatcher's store.
func (d *Dispatcher) Store() Store { return d.store }

// Start starts the workers and returns at once. Work runs in the background
// until Shutdown, or until ctx is cancelled (which stops claiming and
// cancels attempts in flight, like a Shutdown whose deadline has passed).
// Start may be called once.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return ErrClosed
	}
	if d.started {
		return fmt.Errorf("%w: dispatcher already started", ErrConflict)
	}
	d.started = true
	base := context.WithoutCancel(ctx)
	d.attemptCtx, d.cancelAttempt = context.WithCancel(base)
	d.recordCtx, d.cancelRecord = context.WithCancel(base)
	d.work = make(chan *Claimed, d.cfg.Workers)
	// Room for a full batch beside the workers' outcomes: while the
	// recorder writes one batch (a statement of tens of milliseconds for a
	// database store under load), workers queue the next without waiting.
	d.records = make(chan record, 2*d.cfg.Workers+recordBatchMax)

	var notify <-chan struct{}
	claimCtx, cancelClaim := context.WithCancel(base)
	if n, ok := d.store.(Notifier); ok {
		notify = n.Notify(claimCtx)
	}
	d.wg.Add(1 + d.cfg.Workers)
	go func() {
		defer d.wg.Done()
		defer cancelClaim()
		d.claimLoop(claimCtx, notify)
	}()
	for range d.cfg.Workers {
		go func() {
			defer d.wg.Done()
			d.workLoop()
		}()
	}
	d.recWG.Add(1)
	go func() {
		defer d.recWG.Done()
		d.recordLoop()
	}()
	go func() { // close the record channel once no worker can send to it
		d.wg.Wait()
		close(d.records)
	}()
	go func() {
		select {
		case <-ctx.Done():
			d.beginStop()
			d.cancelAttempt()
		case <-d.stop:
		}
	}()
	d.log.Info("hookline dispatcher started", "owner", d.owner, "workers", d.cfg.Workers)
	return nil
}

// beginStop marks the dispatcher closed and stops claiming.
func (d *Dispatcher) beginStop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed.Swap(true) {
		close(d.stop)
	}
}

// recordGrace is how long Shutdown waits past its context for the store to
// record the deliveries it put back.
const recordGrace = 2 * time.Second

// Shutdown stops claiming, lets attempts in flight finish until ctx ends,
// then cancels the rest: their deliveries are put back, due at once, which
// it gives the store up to 2 more seconds to record (a delivery whose put
// back is not recorded comes due when its lease lapses). It waits for every
// goroutine to return, and closes the idle connections of the default
// client (never those of a Config.HTTPClient: that client is the caller's).
// After it, Publish returns ErrClosed. It returns ctx's error if ctx ended
// first.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.beginStop()
	defer d.closeIdle()
	d.mu.Lock()
	started := d.started
	d.mu.Unlock()
	if !started {
		return nil
	}
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		d.recWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		d.cancelAttempt()
		d.cancelRecord()
		d.log.Info("hookline dispatcher stopped", "owner", d.owner)
		return nil
	case <-ctx.Done():
		d.cancelAttempt()
		// The cut-off deliveries are being put back; give the store a
		// moment to record that, so they are due again at once rather than
		// when their leases lapse.
		grace := time.NewTimer(recordGrace)
		select {
		case <-done:
		case <-grace.C:
		}
		grace.Stop()
		d.cancelRecord()
		<-done
		d.log.Warn("hookline dispatcher stopped before attempts in flight finished", "owner", d.owner)
		return ctx.Err()
	}
}

// closeIdle closes the kept-alive connections of the client the dispatcher
// built, whose read and write goroutines would otherwise outlive Shutdown
// until IdleConnTimeout. SendTest may open one later; the next Shutdown
// closes it too.
func (d *Dispatcher) closeIdle() {
	if d.ownClient {
		d.client.CloseIdleConnections()
	}
}

// wakeUp tells the claimer that work may be due.
func (d *Dispatcher) wakeUp() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) workLoop() {
	for c := range d.work {
		for c != nil {
			id := c.Delivery.EndpointID
			d.handle(c)
			c = d.adm.release(id)
		}
		d.adm.done()
	}
	// Shutdown: put back what is still held.
	for _, c := range d.adm.drainHeld() {
		d.putBack(c)
	}
}

// handle makes one attempt of a claimed delivery, or puts it back when the
// dispatcher is stopping or the lease is about to lapse.
func (d *Dispatcher) handle(c *Claimed) {
	if d.closed.Load() || c.LeaseExpiresAt.Sub(d.cfg.Now()) < d.cfg.AttemptTimeout {
		d.putBack(c)
		return
	}
	if at, ok := d.health.gate(c, d.cfg.Now()); !ok { // breaker open or over the rate limit
		d.putBackAt(c, at)
		return
	}
	rec, del, a := d.attempt(d.attemptCtx, c)
	d.observe(d.attemptCtx, c, a)
	d.records <- record{rec, c}
	if a == nil && rec.State == StatePending { // cancelled by Shutdown: no hooks
		return
	}
	d.afterAttempt(d.attemptCtx, c, del, a)
}

func (d *Dispatcher) afterAttempt(ctx context.Context, c *Claimed, del *Delivery, a *Attempt) {
	if del.State == StateFailed && d.log.Enabled(ctx, slog.LevelWarn) {
		d.log.Warn("hookline: delivery failed for good", claimAttrs(c, del.Attempts, "error", del.LastError)...)
	}
	h := d.cfg.Hooks
	if h.AfterAttempt == nil && h.DeliveryFailed == nil {
		return
	}
	ctx = withClaim(ctx, c)
	if a != nil && d.cfg.Hooks.AfterAttempt != nil {
		d.safeHook("AfterAttempt", func() { d.cfg.Hooks.AfterAttempt(ctx, del, a) })
	}
	if del.State == StateFailed && d.cfg.Hooks.DeliveryFailed != nil {
		d.safeHook("DeliveryFailed", func() { d.cfg.Hooks.DeliveryFailed(ctx, del) })
	}
}

func (d *Dispatcher) safeHook(name string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("hookline: hook panicked", "hook", name, "panic", fmt.Sprint(p))
		}
	}()
	f()
}

type claimKey struct{}

// withClaim puts the claim being attempted in the attempt hooks' context:
// one value serves MessageFromContext and EndpointFromContext.
func withClaim(ctx context.Context, c *Claimed) context.Context {
	return context.WithValue(ctx, claimKey{}, c)
}

// MessageFromContext returns the message being delivered, in the context
// the attempt hooks (BeforeAttempt, AfterAttempt, DeliveryFailed) receive;
// nil elsewhere. Treat it as read-only.
func MessageFromContext(ctx context.Context) *Message {
	if c, _ := ctx.Value(claimKey{}).(*Claimed); c != nil {
		return c.Message
	}
	return nil
}

// EndpointFromContext returns the endpoint as the attempt used it (its
// URL, for example), in the context the attempt hooks receive; nil
// elsewhere, and in DeliveryFailed for a delivery whose endpoint was
// deleted. Treat it as read-only, and never log its secrets.
func EndpointFromContext(ctx context.Context) *Endpoint {
	if c, _ := ctx.Value(claimKey{}).(*Claimed); c != nil {
		return c.Endpoint
	}
	return nil
}

func (d *Dispatcher) disableEndpoint(ctx context.Context, id, reason string) {
	ep, err := d.store.GetEndpoint(ctx, id)
	if err != nil || ep.Disabled {
		return
	}
	ep.Disabled, ep.DisabledReason, ep.UpdatedAt = true, reason, d.cfg.Now()
	if err := d.store.UpdateEndpoint(ctx, ep); err != nil {
		d.log.Error("hookline: disabling endpoint failed", "endpoint_id", id, "error", err)
		return
	}
	d.log.Warn("hookline: endpoint disabled", "endpoint_id", id, "reason", reason)
	if d.cfg.Hooks.EndpointDisabled != nil {
		d.safeHook("EndpointDisabled", func() { d.cfg.Hooks.EndpointDisabled(ctx, ep, reason) })
	}
}
