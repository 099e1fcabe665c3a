package otelwebhook

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	webhook "github.com/hookline/webhook"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Metadata keys of the publish span's W3C trace context.
const (
	MetadataTraceParent = webhook.MetadataTraceParent // "traceparent"
	MetadataTraceState  = "tracestate"
)

type attemptKey struct {
	deliveryID string
	number     int
}

// attemptState is a live attempt span, kept from BeforeAttempt to
// AfterAttempt when InjectTraceparent is on.
type attemptState struct {
	span  trace.Span
	start time.Time
}

type hostPort struct {
	raw  string // the URL's host[:port], to notice a changed URL
	host string
	port int
}

// sweepEvery and abandonedAfter bound the live attempt spans kept for
// attempts whose AfterAttempt never comes (a SendTest, an attempt cut off
// by Shutdown): every sweepEvery attempts, spans older than abandonedAfter
// end. maxHosts bounds the endpoint address cache.
const (
	sweepEvery     = 1024
	abandonedAfter = time.Hour
	maxHosts       = 100_000
)

// beforePublish starts the producer span and, when it is sampled, stores
// its context in the message's metadata for the attempts' links. An
// unsampled publish stores nothing: a link to a span never recorded leads
// nowhere, and the message stays smaller.
func (i *Instrumentation) beforePublish(ctx context.Context, msg *webhook.Message) context.Context {
	// The attributes are all set at the end, in one call: cheaper.
	ctx, span := i.tracer.Start(ctx, i.publishName(msg.Type), producer)
	sc := span.SpanContext()
	if sc.IsValid() && sc.IsSampled() {
		// Only what fits: a full metadata map must not fail the publish.
		room := webhook.MaxMetadata - len(msg.Metadata)
		if _, ok := msg.Metadata[MetadataTraceParent]; ok || room > 0 {
			msg.Metadata[MetadataTraceParent] = traceparent(sc)
			room--
		}
		if ts := sc.TraceState(); ts.Len() > 0 {
			v := ts.String()
			_, ok := msg.Metadata[MetadataTraceState]
			if (ok || room > 0) && len(MetadataTraceState)+len(v) <= webhook.MaxMetadataEntry {
				msg.Metadata[MetadataTraceState] = v
			}
		}
	}
	return ctx
}

// publishName returns "publish <event type>", built once per event type.
func (i *Instrumentation) publishName(eventType string) string {
	mk := func() string { return "publish " + eventType }
	return i.names.get(eventType, mk, mk) // past the cap, names are built each time
}

var producer = trace.WithSpanKind(trace.SpanKindProducer)

// traceparent formats sc as a W3C traceparent header value (version 00).
func traceparent(sc trace.SpanContext) string {
	var b [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

// publishLink reads the publish span's context from msg's metadata, by
// the W3C Trace Context rules as OpenTelemetry's propagator applies them
// (FuzzTraceparent holds the two to the same answers). It parses the
// header itself: the propagator would build a context for each attempt.
func publishLink(msg *webhook.Message) (trace.SpanContext, bool) {
	if msg == nil {
		return trace.SpanContext{}, false
	}
	h := msg.Metadata[MetadataTraceParent]
	if h == "" {
		return trace.SpanContext{}, false
	}
	var ver, flags [1]byte
	var cfg trace.SpanContextConfig
	if !hexPart(ver[:], &h) || ver[0] == 0xff || !hexPart(cfg.TraceID[:], &h) || !hexPart(cfg.SpanID[:], &h) || !hexPart(flags[:], &h) {
		return trace.SpanContext{}, false
	}
	if ver[0] == 0 && (h != "" || flags[0] > 3) { // version 00: no more fields, no reserved flags
		return trace.SpanContext{}, false
	}
	cfg.TraceFlags = trace.TraceFlags(flags[0]) & (trace.FlagsSampled | trace.FlagsRandom)
	if v := msg.Metadata[MetadataTraceState]; v != "" {
		cfg.TraceState, _ = trace.ParseTraceState(v) // a bad tracestate leaves the traceparent good
	}
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}

// hexPart decodes the field of *h up to the next '-' into dst, which it
// must fill exactly, lowercase hex only, and moves *h past it.
func hexPart(dst []byte, h *string) bool {
	part, rest, _ := strings.Cut(*h, "-")
	*h = rest
	if len(part) != 2*len(dst) {
		return false
	}
	for j := range dst {
		hi, ok1 := unhex(part[2*j])
		lo, ok2 := unhex(part[2*j+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[j] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// afterPublish ends the producer span and counts the publish.
func (i *Instrumentation) afterPublish(ctx context.Context, msg *webhook.Message, deliveries int, err error) {
	span := trace.SpanFromContext(ctx)
	result := "stored"
	switch {
	case errors.Is(err, webhook.ErrDuplicate):
		result = "duplicate"
	case err != nil:
		result = "error"
	}
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 7)
		attrs = append(attrs,
			semconv.MessagingSystemKey.String("hookline"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingDestinationName(msg.Type),
			semconv.MessagingMessageID(msg.ID),
			AttrTenant.String(msg.Tenant),
			AttrFanOut.Int(deliveries),
		)
		switch result {
		case "duplicate":
			attrs = append(attrs, AttrDuplicate.Bool(true))
		case "error":
			attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(err)))
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.SetAttributes(attrs...)
	}
	span.End()
	i.publishAttrs(msg.Type, result).n[cPublished].Add(1)
	if deliveries > 0 {
		i.metricAttrs("", AttrEventType.String(msg.Type)).n[cCreated].Add(int64(deliveries))
	}
}

func errorType(err error) string {
	switch {
	case errors.Is(err, webhook.ErrInvalid):
		return "invalid"
	case errors.Is(err, webhook.ErrPayloadTooLarge):
		return "payload_too_large"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "context"
	}
	return "store"
}

// beforeAttempt, wired only with InjectTraceparent, starts the attempt
// span before the request, to put its context in the request. Without it
// AfterAttempt makes the span from the attempt's own timing, which costs
// less and leaves nothing behind for attempts that never report (a
// SendTest, a shutdown).
func (i *Instrumentation) beforeAttempt(ctx context.Context, req *http.Request, d *webhook.Delivery) {
	number := d.Attempts + 1
	span := i.startAttemptSpan(ctx, d, number, nil, "")
	if sc := span.SpanContext(); sc.IsValid() {
		req.Header.Set("traceparent", traceparent(sc))
		if ts := sc.TraceState(); ts.Len() > 0 {
			req.Header.Set("tracestate", ts.String())
		}
	}
	st := &attemptState{span: span, start: i.now()}
	if old, loaded := i.inflight.Swap(attemptKey{d.ID, number}, st); loaded {
		// The same attempt again: the first was cut off without an outcome.
		old.(*attemptState).span.End()
	}
	if i.started.Add(1)%sweepEvery == 0 {
		i.sweep(i.now().Add(-abandonedAfter))
	}
}

// hostOf returns the host and port of the endpoint's URL, cached per
// endpoint ID until the URL changes.
func (i *Instrumentation) hostOf(ep *webhook.Endpoint) hostPort {
	if ep == nil {
		return hostPort{}
	}
	i.hostMu.RLock()
	hp, ok := i.hosts[ep.ID]
	i.hostMu.RUnlock()
	if ok && hp.raw == ep.URL {
		return hp
	}
	hp = hostPortOf(ep.URL)
	i.hostMu.Lock()
	if len(i.hosts) >= maxHosts {
		clear(i.hosts)
	}
	i.hosts[ep.ID] = hp
	i.hostMu.Unlock()
	return hp
}

func hostPortOf(raw string) hostPort {
	hp := hostPort{raw: raw}
	u, err := url.Parse(raw)
	if err != nil {
		return hp
	}
	hp.host = u.Hostname()
	hp.port, _ = strconv.Atoi(u.Port())
	if hp.port == 0 {
		switch u.Scheme {
		case "https":
			hp.port = 443
		case "http":
			hp.port = 80
		}
	}
	return hp
}

// startAttemptSpan starts an attempt span: a new root of kind client,
// linked to the publish span, with the attributes known before the answer.
// Given the finished attempt a, the span starts at a's start and has the
// outcome's attributes too; given nil, it starts now. Attributes are set
// only on a span that records, in one call.
func (i *Instrumentation) startAttemptSpan(ctx context.Context, d *webhook.Delivery, number int, a *webhook.Attempt, outcome string) trace.Span {
	opts := make([]trace.SpanStartOption, 0, 4)
	opts = append(opts, client)
	if trace.SpanContextFromContext(ctx).IsValid() {
		// A span in the dispatcher's context (from the one Start got) must
		// not become the parent. Without one the span is a root anyway, and
		// WithNewRoot would cost the SDK a context more.
		opts = append(opts, trace.WithNewRoot())
	}
	if sc, ok := publishLink(webhook.MessageFromContext(ctx)); ok {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	if a != nil {
		opts = append(opts, trace.WithTimestamp(a.StartedAt))
	}
	_, span := i.tracer.Start(ctx, http.MethodPost, opts...)
	if !span.IsRecording() {
		return span
	}
	hp := i.hostOf(webhook.EndpointFromContext(ctx))
	attrs := make([]attribute.KeyValue, 0, 9)
	attrs = append(attrs,
		semconv.HTTPRequestMethodPost,
		AttrAttemptNumber.Int(number),
		AttrDeliveryID.String(d.ID),
		AttrEndpointID.String(d.EndpointID),
		AttrMessageID.String(d.MessageID),
	)
	if hp.host != "" {
		attrs = append(attrs, semconv.ServerAddress(hp.host))
		if hp.port > 0 {
			attrs = append(attrs, semconv.ServerPort(hp.port))
		}
	}
	if a != nil {
		attrs = appendOutcome(attrs, a, outcome)
	}
	span.SetAttributes(attrs...)
	return span
}

var client = trace.WithSpanKind(trace.SpanKindClient)

// appendOutcome appends the attributes the answer decides: the status
// code, and error.type on failure (the status code for HTTP errors, as the
// HTTP conventions have it; the outcome otherwise).
func appendOutcome(attrs []attribute.KeyValue, a *webhook.Attempt, outcome string) []attribute.KeyValue {
	if a.StatusCode > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(a.StatusCode))
	}
	if outcome != OutcomeSuccess {
		et := outcome
		if a.StatusCode >= 400 {
			et = strconv.Itoa(a.StatusCode)
		}
		attrs = append(attrs, semconv.ErrorTypeKey.String(et))
	}
	return attrs
}

// endAttemptSpan ends the attempt's span: the live one BeforeAttempt
// started, or one made now from the attempt's start and duration.
func (i *Instrumentation) endAttemptSpan(ctx context.Context, d *webhook.Delivery, a *webhook.Attempt, outcome string) {
	var span trace.Span
	if i.inject {
		if v, ok := i.inflight.LoadAndDelete(attemptKey{d.ID, a.Number}); ok {
			span = v.(*attemptState).span
			if span.IsRecording() {
				span.SetAttributes(appendOutcome(make([]attribute.KeyValue, 0, 2), a, outcome)...)
			}
		}
	}
	if span == nil {
		span = i.startAttemptSpan(ctx, d, a.Number, a, outcome)
	}
	if !span.IsRecording() {
		span.End() // a no-op for the SDK's unsampled spans, but a span may do more
		return
	}
	if outcome != OutcomeSuccess {
		span.SetStatus(codes.Error, a.Error)
	}
	span.End(trace.WithTimestamp(a.StartedAt.Add(a.Duration)))
}

// sweep ends and forgets the live attempt spans started before cutoff (all
// of them when cutoff is zero).
func (i *Instrumentation) sweep(cutoff time.Time) {
	i.inflight.Range(func(k, v any) bool {
		st := v.(*attemptState)
		if cutoff.IsZero() || st.start.Before(cutoff) {
			if i.inflight.CompareAndDelete(k, v) {
				st.span.End()
			}
		}
		return true
	})
}

// afterAttempt ends the attempt span and records the attempt's metrics.
func (i *Instrumentation) afterAttempt(ctx context.Context, d *webhook.Delivery, a *webhook.Attempt) {
	outcome := Outcome(a)
	i.endAttemptSpan(ctx, d, a, outcome)
	set := i.metricAttrs(d.EndpointID, AttrOutcome.String(outcome))
	set.n[cAttempts].Add(1)
	i.attemptDur.Record(ctx, a.Duration.Seconds(), set.rec...)
	if d.State == webhook.StateSucceeded {
		if msg := webhook.MessageFromContext(ctx); msg != nil && !msg.CreatedAt.IsZero() {
			end := a.StartedAt.Add(a.Duration)
			if a.StartedAt.IsZero() {
				end = i.now()
			}
			i.latency.Record(ctx, max(0, end.Sub(msg.CreatedAt).Seconds()),
				i.metricAttrs(d.EndpointID, AttrEventType.String(d.EventType)).rec...)
		}
	}
}
