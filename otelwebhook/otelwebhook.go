// Package otelwebhook instruments a hookline dispatcher with OpenTelemetry
// traces and metrics through the dispatcher's hooks, so the core module
// stays free of OpenTelemetry.
//
// One call wires it in, before webhook.New:
//
//	inst, err := otelwebhook.Instrument(&cfg, nil) // global providers
//	d, err := webhook.New(cfg)
//	defer inst.Close()
//
// Traces: each publish is a producer span; when it is sampled, its W3C
// trace context is stored in the message's Metadata ("traceparent",
// "tracestate"), so each attempt, made by any instance however much later,
// starts a client span of its own trace linked to the publish span. Every
// span is put to the tracer provider's sampler. Metrics are named hookline.* and carry
// only low-cardinality attributes. docs/OBSERVABILITY.md lists every span,
// metric and attribute.
package otelwebhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	webhook "github.com/hookline/webhook"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/hookline/webhook/otelwebhook"

// Attribute keys of hookline's own spans and metrics; docs/OBSERVABILITY.md
// says where each appears.
const (
	AttrEventType     = attribute.Key("hookline.event_type")      // metrics: the event type
	AttrTenant        = attribute.Key("hookline.tenant")          // publish span: the tenant
	AttrMessageID     = attribute.Key("hookline.message.id")      // attempt span: the message
	AttrDeliveryID    = attribute.Key("hookline.delivery.id")     // attempt span: the delivery
	AttrEndpointID    = attribute.Key("hookline.endpoint.id")     // attempt span: the endpoint
	AttrFanOut        = attribute.Key("hookline.fan_out")         // publish span: deliveries created
	AttrDuplicate     = attribute.Key("hookline.duplicate")       // publish span: the ID was published already
	AttrAttemptNumber = attribute.Key("hookline.attempt.number")  // attempt span: 1 for the first
	AttrOutcome       = attribute.Key("hookline.attempt.outcome") // attempt metrics: one of the Outcome values
	AttrPublishResult = attribute.Key("hookline.publish.result")  // published metric: stored, duplicate or error
	// AttrEndpoint is the metric attribute Options.EndpointLabel fills.
	AttrEndpoint = attribute.Key("hookline.endpoint")
)

// The outcomes of an attempt, the values of hookline.attempt.outcome.
const (
	OutcomeSuccess         = "success"
	OutcomeHTTP4xx         = "http_4xx"
	OutcomeHTTP5xx         = "http_5xx"
	OutcomeTimeout         = "timeout"
	OutcomeConnectionError = "connection_error"
	OutcomeRefusedByGuard  = "refused_by_guard"
	OutcomeRedirect        = "redirect"
)

// Options configure the instrumentation. The zero value (or nil) is
// usable.
type Options struct {
	// TracerProvider makes the tracer. Defaults to otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter. Defaults to otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// InjectTraceparent adds the attempt span's W3C traceparent (and
	// tracestate) headers to each outgoing request, so a receiver that
	// traces can join the attempt's trace. Defaults to false: receivers
	// belong to other parties, and the headers tell them about the host's
	// tracing.
	InjectTraceparent bool
	// EndpointLabel, when set, returns the value of the hookline.endpoint
	// attribute put on the attempt and delivery metrics of an endpoint, or
	// "" to leave it out. It is what per-endpoint alerts group by. Keep
	// its values few (an endpoint ID is fine for a few hundred endpoints;
	// beyond that map endpoints to tiers or customers' plans). Defaults to
	// nil: no endpoint attribute.
	EndpointLabel func(endpointID string) string
	// Now is the clock for publish-to-success latency and the oldest
	// pending delivery's age. Defaults to time.Now; set it to the
	// dispatcher's Config.Now when that is a fake clock.
	Now func() time.Time
}

// Instrumentation holds the tracer, the meter's instruments and the
// attempt spans in flight. Create it with New or Instrument. Its methods
// are safe for concurrent use.
type Instrumentation struct {
	tracer     trace.Tracer
	inject     bool
	endpoint   func(string) string
	now        func() time.Time
	meter      metric.Meter
	counters   [numCounters]metric.Int64ObservableCounter // counted in attrOpts.n, reported at collection
	attemptDur metric.Float64Histogram
	latency    metric.Float64Histogram
	disabled   metric.Int64Counter

	opts     capCache[optKey, *attrOpts] // the attribute sets measured
	overflow *attrOpts                   // the set of every measurement past maxCachedSets

	inflight sync.Map // attemptKey -> *attemptState, with InjectTraceparent
	started  atomic.Uint64

	hostMu sync.RWMutex
	hosts  map[string]hostPort // endpoint ID -> its URL's host and port

	names capCache[string, string] // event type -> its publish span's name

	mu       sync.Mutex
	reg      metric.Registration // the gauges' callback, once ObserveStore ran
	countReg metric.Registration // the counters' callback
}

// The counters kept in attrOpts.n: an atomic add per measurement, summed
// by the SDK only at collection, costs a fraction of a synchronous
// counter's Add on the delivery path.
const (
	cPublished = iota
	cCreated
	cAttempts
	cFailed
	numCounters
)

// Bucket boundaries, in seconds.
var (
	attemptBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60}
	latencyBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400, 259200}
)

// New returns an Instrumentation; wire its Hooks into a webhook.Config
// (Instrument does that in one call). opts may be nil.
func New(opts *Options) (*Instrumentation, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	i := &Instrumentation{
		tracer:   o.TracerProvider.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		inject:   o.InjectTraceparent,
		endpoint: o.EndpointLabel,
		now:      o.Now,
		hosts:    map[string]hostPort{},
		meter:    o.MeterProvider.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL)),
	}
	m := i.meter
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	for c, def := range [numCounters]struct{ name, unit, desc string }{
		cPublished: {"hookline.messages.published", "{message}", "Messages published, by result (stored, duplicate, error)."},
		cCreated:   {"hookline.deliveries.created", "{delivery}", "Deliveries created by publishes (the fan-out)."},
		cAttempts:  {"hookline.attempts", "{attempt}", "Delivery attempts, by outcome."},
		cFailed:    {"hookline.deliveries.failed", "{delivery}", "Deliveries that failed for good."},
	} {
		i.counters[c], err = m.Int64ObservableCounter(def.name, metric.WithUnit(def.unit), metric.WithDescription(def.desc))
		add(err)
	}
	i.attemptDur, err = m.Float64Histogram("hookline.attempt.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of one attempt, connection to the last byte read."),
		metric.WithExplicitBucketBoundaries(attemptBuckets...))
	add(err)
	i.latency, err = m.Float64Histogram("hookline.delivery.latency", metric.WithUnit("s"),
		metric.WithDescription("Time from publish to the end of the successful attempt."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	add(err)
	i.disabled, err = m.Int64Counter("hookline.endpoints.disabled", metric.WithUnit("{endpoint}"),
		metric.WithDescription("Endpoints the dispatcher disabled by itself."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("otelwebhook: creating instruments: %w", err)
	}
	i.overflow = newAttrOpts(attribute.NewSet(attribute.Bool("otel.metric.overflow", true)))
	obs := make([]metric.Observable, numCounters)
	for c := range obs {
		obs[c] = i.counters[c]
	}
	if i.countReg, err = m.RegisterCallback(i.observeCounters, obs...); err != nil {
		return nil, fmt.Errorf("otelwebhook: registering the counters: %w", err)
	}
	return i, nil
}

// Instrument wires a new Instrumentation into cfg, before webhook.New: its
// hooks run after cfg's own (webhook.CombineHooks), and the pending and
// retrying gauges read cfg.Store (set to a new MemoryStore when nil, as
// webhook.New would). opts may be nil. Call Close when the dispatcher is
// shut down.
func Instrument(cfg *webhook.Config, opts *Options) (*Instrumentation, error) {
	i, err := New(opts)
	if err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		cfg.Store = webhook.NewMemoryStore()
	}
	cfg.Hooks = webhook.CombineHooks(cfg.Hooks, i.Hooks())
	if err := i.ObserveStore(cfg.Store); err != nil {
		return nil, err
	}
	return i, nil
}

// Hooks returns the dispatcher hooks that make the spans and metrics.
// Combine them with others through webhook.CombineHooks.
func (i *Instrumentation) Hooks() webhook.Hooks {
	h := webhook.Hooks{
		BeforePublish:    i.beforePublish,
		AfterPublish:     i.afterPublish,
		AfterAttempt:     i.afterAttempt,
		DeliveryFailed:   i.deliveryFailed,
		EndpointDisabled: i.endpointDisabled,
	}
	if i.inject {
		h.BeforeAttempt = i.beforeAttempt // the span starts before the request, to be sent with it
	}
	return h
}

// ObserveStore registers the hookline.deliveries.pending,
// hookline.deliveries.retrying and hookline.deliveries.oldest_due_age
// gauges, read from st at each collection through webhook.BacklogCounter
// (cheap by contract). A store without that capability gets no gauges and
// no error. A second call replaces the first store.
func (i *Instrumentation) ObserveStore(st webhook.Store) error {
	bc, ok := st.(webhook.BacklogCounter)
	if !ok {
		return nil
	}
	m := i.meter
	pending, err1 := m.Int64ObservableUpDownCounter("hookline.deliveries.pending", metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries waiting for a successful attempt, retrying ones included."))
	retrying, err2 := m.Int64ObservableUpDownCounter("hookline.deliveries.retrying", metric.WithUnit("{delivery}"),
		metric.WithDescription("Pending deliveries with at least one failed attempt."))
	age, err3 := m.Float64ObservableGauge("hookline.deliveries.oldest_due_age", metric.WithUnit("s"),
		metric.WithDescription("How long the most overdue pending delivery has been due without a worker taking it; 0 when none is."))
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("otelwebhook: creating gauges: %w", err)
	}
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		b, err := bc.Backlog(ctx)
		if err != nil {
			return fmt.Errorf("otelwebhook: reading the backlog: %w", err)
		}
		o.ObserveInt64(pending, int64(b.Pending))
		o.ObserveInt64(retrying, int64(b.Retrying))
		var s float64
		if !b.OldestDue.IsZero() {
			s = max(0, i.now().Sub(b.OldestDue).Seconds())
		}
		o.ObserveFloat64(age, s)
		return nil
	}, pending, retrying, age)
	if err != nil {
		return fmt.Errorf("otelwebhook: registering the gauges: %w", err)
	}
	i.mu.Lock()
	old := i.reg
	i.reg = reg
	i.mu.Unlock()
	if old != nil {
		return old.Unregister()
	}
	return nil
}

// Close stops the gauges' callback and ends the attempt spans still open.
// The hooks stay usable; call it after the dispatcher's Shutdown.
func (i *Instrumentation) Close() error {
	i.mu.Lock()
	regs := []metric.Registration{i.reg, i.countReg}
	i.reg, i.countReg = nil, nil
	i.mu.Unlock()
	i.sweep(time.Time{})
	var errs []error
	for _, r := range regs {
		if r != nil {
			errs = append(errs, r.Unregister())
		}
	}
	return errors.Join(errs...)
}

// observeCounters reports every counter's running total, per attribute
// set, at collection.
func (i *Instrumentation) observeCounters(_ context.Context, o metric.Observer) error {
	observe := func(a *attrOpts) {
		for c := range numCounters {
			if v := a.n[c].Load(); v > 0 { // counters only grow: 0 means this set never counted here
				o.ObserveInt64(i.counters[c], v, a.mo)
			}
		}
	}
	i.opts.each(observe)
	observe(i.overflow)
	return nil
}

// attrOpts are a measurement's attribute set, as a ready-made option for
// Record and the counts of the counters that use it: built once per
// distinct set and cached, so measuring allocates nothing.
type attrOpts struct {
	mo  metric.MeasurementOption // for observations
	rec []metric.RecordOption    // for Record, without a slice per call
	n   [numCounters]atomic.Int64
}

func newAttrOpts(set attribute.Set) *attrOpts {
	mo := metric.WithAttributeSet(set)
	return &attrOpts{mo: mo, rec: []metric.RecordOption{mo}}
}

// metricAttrs is kv plus hookline.endpoint when EndpointLabel gives one.
func (i *Instrumentation) metricAttrs(endpointID string, kv attribute.KeyValue) *attrOpts {
	label := ""
	if i.endpoint != nil && endpointID != "" {
		label = i.endpoint(endpointID)
	}
	return i.cached(optKey{kv.Key, kv.Value.AsString(), label}, func() attribute.Set {
		if label != "" {
			return attribute.NewSet(kv, AttrEndpoint.String(label))
		}
		return attribute.NewSet(kv)
	})
}

// publishAttrs are the attributes of hookline.messages.published.
func (i *Instrumentation) publishAttrs(eventType, result string) *attrOpts {
	return i.cached(optKey{AttrPublishResult, result, eventType}, func() attribute.Set {
		return attribute.NewSet(AttrEventType.String(eventType), AttrPublishResult.String(result))
	})
}

func (i *Instrumentation) cached(k optKey, set func() attribute.Set) *attrOpts {
	return i.opts.get(k, func() *attrOpts { return newAttrOpts(set()) }, func() *attrOpts { return i.overflow })
}

// capCache is a cache of at most maxCachedSets entries. Its reads, several
// per delivery from every worker, go through a sync.Map and write no shared
// memory, where an RWMutex's RLock would bounce a cache line between cores.
type capCache[K comparable, V any] struct {
	m  sync.Map
	mu sync.Mutex // serialises adds
	n  int        // entries, under mu
}

// get returns k's value, made by mk and kept on first use; once the cache
// is full, a value not in it comes from full and is not kept.
func (c *capCache[K, V]) get(k K, mk, full func() V) V {
	if v, ok := c.m.Load(k); ok {
		return v.(V)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m.Load(k); ok { // another goroutine made it meanwhile
		return v.(V)
	}
	if c.n >= maxCachedSets {
		return full()
	}
	v := mk()
	c.m.Store(k, v)
	c.n++
	return v
}

// each calls f with every value kept.
func (c *capCache[K, V]) each(f func(V)) {
	c.m.Range(func(_, v any) bool {
		f(v.(V))
		return true
	})
}

type optKey struct {
	key          attribute.Key
	value, label string
}

// maxCachedSets bounds the attribute sets should a host's labels or event
// types prove many after all; measurements past it go to one set marked
// otel.metric.overflow=true, as the SDK does past its cardinality limit.
const maxCachedSets = 4096

func (i *Instrumentation) deliveryFailed(ctx context.Context, d *webhook.Delivery) {
	i.metricAttrs(d.EndpointID, AttrEventType.String(d.EventType)).n[cFailed].Add(1)
}

func (i *Instrumentation) endpointDisabled(ctx context.Context, ep *webhook.Endpoint, _ string) {
	if i.endpoint != nil {
		if l := i.endpoint(ep.ID); l != "" {
			i.disabled.Add(ctx, 1, metric.WithAttributes(AttrEndpoint.String(l)))
			return
		}
	}
	i.disabled.Add(ctx, 1)
}

// Outcome classifies an attempt into one of the Outcome* values: the
// status class when an answer came (statuses outside 200-499 other than
// redirects count as http_5xx), otherwise timeout, refused_by_guard (the
// address guard refused the address) or connection_error (anything else
// that kept an answer from coming).
func Outcome(a *webhook.Attempt) string {
	switch s := a.StatusCode; {
	case s >= 200 && s < 300:
		return OutcomeSuccess
	case s >= 300 && s < 400:
		return OutcomeRedirect
	case s >= 400 && s < 500:
		return OutcomeHTTP4xx
	case s != 0:
		return OutcomeHTTP5xx
	}
	e := strings.ToLower(a.Error)
	switch {
	case strings.Contains(e, strings.ToLower(webhook.ErrAddressNotAllowed.Error())):
		return OutcomeRefusedByGuard
	case strings.HasPrefix(e, "timeout") || strings.Contains(e, "timeout") || strings.Contains(e, "deadline exceeded"):
		return OutcomeTimeout
	}
	return OutcomeConnectionError
}
