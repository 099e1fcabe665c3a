package otelwebhook_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/otelwebhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type orderPlaced struct {
	OrderID string `json:"order_id"`
}

func (orderPlaced) EventType() string { return "order.placed" }

// telemetry is an in-memory span recorder and a manual metric reader.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	opts   *otelwebhook.Options
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	rd := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rd))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return &telemetry{spans: sr, reader: rd, opts: &otelwebhook.Options{TracerProvider: tp, MeterProvider: mp}}
}

// metrics collects and indexes the metrics by name.
func (tm *telemetry) metrics(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tm.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// sum adds the points of a sum metric whose attributes include want.
func sum(t *testing.T, ms map[string]metricdata.Aggregation, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	s, ok := ms[name].(metricdata.Sum[int64])
	require.True(t, ok, "%s is an int64 sum (got %T)", name, ms[name])
	var n int64
	for _, p := range s.DataPoints {
		if hasAll(p.Attributes, want) {
			n += p.Value
		}
	}
	return n
}

// histCount adds the counts of a histogram's points whose attributes include want.
func histCount(t *testing.T, ms map[string]metricdata.Aggregation, name string, want ...attribute.KeyValue) uint64 {
	t.Helper()
	h, ok := ms[name].(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a float64 histogram (got %T)", name, ms[name])
	var n uint64
	for _, p := range h.DataPoints {
		if hasAll(p.Attributes, want) {
			n += p.Count
		}
	}
	return n
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

func fastRetry(n int) webhook.RetryPolicy {
	return webhook.RetryPolicy{
		MaxAttempts: n,
		NewBackOff:  func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) },
	}
}

func baseConfig(st webhook.Store) webhook.Config {
	return webhook.Config{
		Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Retry: fastRetry(5),
		AttemptTimeout: 5 * time.Second, PollInterval: 20 * time.Millisecond,
	}
}

// start instruments cfg with tm, creates and starts the dispatcher, and
// shuts both down at cleanup.
func start(t *testing.T, cfg webhook.Config, tm *telemetry) (*webhook.Dispatcher, *otelwebhook.Instrumentation) {
	t.Helper()
	inst, err := otelwebhook.Instrument(&cfg, tm.opts)
	require.NoError(t, err)
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, d.Shutdown(ctx))
		assert.NoError(t, inst.Close())
	})
	return d, inst
}

func waitState(t *testing.T, d *webhook.Dispatcher, msgID string, state webhook.DeliveryState) *webhook.Delivery {
	t.Helper()
	var got *webhook.Delivery
	require.Eventually(t, func() bool {
		ds, _, err := d.ListDeliveries(context.Background(), webhook.DeliveryQuery{MessageID: msgID})
		if err != nil || len(ds) != 1 {
			return false
		}
		got = ds[0]
		return got.State == state
	}, 10*time.Second, 2*time.Millisecond, "the delivery of %s never reached %s", msgID, state)
	return got
}

func spansOfKind(spans []sdktrace.ReadOnlySpan, k trace.SpanKind) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == k {
			out = append(out, s)
		}
	}
	return out
}

func attrOf(s sdktrace.ReadOnlySpan, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// waitSpans waits until the recorder holds n ended spans of kind k.
func waitSpans(t *testing.T, sr *tracetest.SpanRecorder, k trace.SpanKind, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	var got []sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		got = spansOfKind(sr.Ended(), k)
		return len(got) >= n
	}, 5*time.Second, 2*time.Millisecond, "expected %d spans of kind %s", n, k)
	require.Len(t, got, n)
	return got
}

func TestFailTwiceThenSucceed(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	st := webhook.NewMemoryStore()
	t.Cleanup(func() { st.Close() })
	d, _ := start(t, baseConfig(st), tm)
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.Statuses(500, 429)))
	ep := &webhook.Endpoint{URL: rcv.URL + "/hooks", Tenant: "acme"}
	require.NoError(t, d.CreateEndpoint(context.Background(), ep))

	msg, err := d.Publish(context.Background(), orderPlaced{OrderID: "o1"}, &webhook.PublishOpts{Tenant: "acme"})
	require.NoError(t, err)
	del := waitState(t, d, msg.ID, webhook.StateSucceeded)
	assert.Equal(t, 3, del.Attempts)

	pubs := waitSpans(t, tm.spans, trace.SpanKindProducer, 1)
	pub := pubs[0]
	assert.Equal(t, "publish order.placed", pub.Name())
	assert.Equal(t, "order.placed", attrOf(pub, "messaging.destination.name").AsString())
	assert.Equal(t, "acme", attrOf(pub, otelwebhook.AttrTenant).AsString())
	assert.Equal(t, int64(1), attrOf(pub, otelwebhook.AttrFanOut).AsInt64())
	assert.Equal(t, msg.ID, attrOf(pub, "messaging.message.id").AsString())
	assert.Equal(t, "hookline", attrOf(pub, "messaging.system").AsString())

	stored, err := d.GetMessage(context.Background(), msg.ID)
	require.NoError(t, err)
	assert.Contains(t, stored.Metadata["traceparent"], pub.SpanContext().TraceID().String(), "the publish's trace context is stored with the message")

	atts := waitSpans(t, tm.spans, trace.SpanKindClient, 3)
	wantStatus := []int64{500, 429, 200}
	wantErrType := []string{"500", "429", ""}
	wantOutcome := []string{"http_5xx", "http_4xx", "success"}
	byNumber := map[int64]sdktrace.ReadOnlySpan{}
	for _, s := range atts {
		byNumber[attrOf(s, otelwebhook.AttrAttemptNumber).AsInt64()] = s
	}
	require.Len(t, byNumber, 3)
	for n := int64(1); n <= 3; n++ {
		s := byNumber[n]
		require.NotNil(t, s, "attempt %d", n)
		assert.Equal(t, "POST", s.Name())
		assert.False(t, s.Parent().IsValid(), "an attempt span is a root, not a child of the publish")
		assert.NotEqual(t, pub.SpanContext().TraceID(), s.SpanContext().TraceID(), "each attempt has a trace of its own")
		require.Len(t, s.Links(), 1, "attempt %d is linked to the publish", n)
		assert.Equal(t, pub.SpanContext().SpanID(), s.Links()[0].SpanContext.SpanID())
		assert.Equal(t, pub.SpanContext().TraceID(), s.Links()[0].SpanContext.TraceID())
		assert.Equal(t, wantStatus[n-1], attrOf(s, "http.response.status_code").AsInt64(), "attempt %d", n)
		assert.Equal(t, wantErrType[n-1], attrOf(s, "error.type").AsString(), "attempt %d", n)
		assert.Equal(t, "POST", attrOf(s, "http.request.method").AsString())
		assert.Equal(t, "127.0.0.1", attrOf(s, "server.address").AsString())
		assert.Equal(t, rcvPort(t, rcv.URL), attrOf(s, "server.port").AsInt64())
		assert.Equal(t, del.ID, attrOf(s, otelwebhook.AttrDeliveryID).AsString())
		assert.Equal(t, ep.ID, attrOf(s, otelwebhook.AttrEndpointID).AsString())
		assert.Equal(t, msg.ID, attrOf(s, otelwebhook.AttrMessageID).AsString())
		if n < 3 {
			assert.Equal(t, codes.Error, s.Status().Code)
		} else {
			assert.Equal(t, codes.Unset, s.Status().Code)
		}
	}
	assert.Empty(t, rcv.Deliveries()[0].Header.Get("traceparent"), "no traceparent sent unless asked")

	ms := tm.metrics(t)
	assert.Equal(t, int64(1), sum(t, ms, "hookline.messages.published", otelwebhook.AttrPublishResult.String("stored"), otelwebhook.AttrEventType.String("order.placed")))
	assert.Equal(t, int64(1), sum(t, ms, "hookline.deliveries.created"))
	assert.Equal(t, int64(3), sum(t, ms, "hookline.attempts"))
	for _, o := range wantOutcome {
		assert.Equal(t, int64(1), sum(t, ms, "hookline.attempts", otelwebhook.AttrOutcome.String(o)), o)
	}
	assert.Equal(t, uint64(3), histCount(t, ms, "hookline.attempt.duration"))
	assert.Equal(t, uint64(1), histCount(t, ms, "hookline.attempt.duration", otelwebhook.AttrOutcome.String("success")))
	assert.Equal(t, uint64(1), histCount(t, ms, "hookline.delivery.latency", otelwebhook.AttrEventType.String("order.placed")))
	assert.NotContains(t, ms, "hookline.deliveries.failed", "nothing failed for good")
	assert.Equal(t, int64(0), sum(t, ms, "hookline.deliveries.pending"))
	assert.Equal(t, int64(0), sum(t, ms, "hookline.deliveries.retrying"))
}

func rcvPort(t *testing.T, u string) int64 {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	p, err := strconv.Atoi(req.URL.Port())
	require.NoError(t, err)
	return int64(p)
}

// A message published through one dispatcher and delivered by another
// (two instances on one store) keeps the link to its publish span.
func TestLinkAcrossDispatchers(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	t.Cleanup(func() { st.Close() })

	pubTel := newTelemetry(t)
	pubCfg := baseConfig(st)
	_, err := otelwebhook.Instrument(&pubCfg, pubTel.opts)
	require.NoError(t, err)
	publisher, err := webhook.New(pubCfg) // never started: it only publishes
	require.NoError(t, err)

	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.Statuses(503)))
	require.NoError(t, publisher.CreateEndpoint(context.Background(), &webhook.Endpoint{URL: rcv.URL}))
	msg, err := publisher.Publish(context.Background(), orderPlaced{OrderID: "o2"}, nil)
	require.NoError(t, err)
	pub := waitSpans(t, pubTel.spans, trace.SpanKindProducer, 1)[0]

	workTel := newTelemetry(t)
	worker, _ := start(t, baseConfig(st), workTel)
	waitState(t, worker, msg.ID, webhook.StateSucceeded)

	atts := waitSpans(t, workTel.spans, trace.SpanKindClient, 2)
	for _, s := range atts {
		require.Len(t, s.Links(), 1)
		assert.Equal(t, pub.SpanContext().TraceID(), s.Links()[0].SpanContext.TraceID())
		assert.Equal(t, pub.SpanContext().SpanID(), s.Links()[0].SpanContext.SpanID())
	}
	assert.Empty(t, spansOfKind(workTel.spans.Ended(), trace.SpanKindProducer), "the worker published nothing")
	assert.Empty(t, spansOfKind(pubTel.spans.Ended(), trace.SpanKindClient), "the publisher attempted nothing")
	ms := workTel.metrics(t)
	assert.Equal(t, int64(1), sum(t, ms, "hookline.attempts", otelwebhook.AttrOutcome.String("http_5xx")))
	assert.Equal(t, uint64(1), histCount(t, ms, "hookline.delivery.latency"))
}

func TestFailedForGoodDisabledAndGauges(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	st := webhook.NewMemoryStore()
	t.Cleanup(func() { st.Close() })
	cfg := baseConfig(st)
	cfg.Retry = fastRetry(2)
	labels := map[string]string{}
	tm.opts.EndpointLabel = func(id string) string { return labels[id] }
	d, _ := start(t, cfg, tm)
	ctx := context.Background()

	failing := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.Always(500)))
	ep1 := &webhook.Endpoint{URL: failing.URL, EventTypes: []string{"order.placed"}}
	require.NoError(t, d.CreateEndpoint(ctx, ep1))
	labels[ep1.ID] = "failing"
	msg, err := d.Publish(ctx, orderPlaced{OrderID: "o3"}, nil)
	require.NoError(t, err)
	waitState(t, d, msg.ID, webhook.StateFailed)

	gone := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.Always(http.StatusGone)))
	ep2 := &webhook.Endpoint{URL: gone.URL, EventTypes: []string{"gone.test"}}
	require.NoError(t, d.CreateEndpoint(ctx, ep2))
	msg2, err := d.Publish(ctx, webhook.RawEvent{Type: "gone.test", Data: []byte(`{}`)}, nil)
	require.NoError(t, err)
	waitState(t, d, msg2.ID, webhook.StateFailed)

	require.Eventually(t, func() bool {
		ms := tm.metrics(t)
		_, a := ms["hookline.deliveries.failed"]
		_, b := ms["hookline.endpoints.disabled"]
		return a && b && sum(t, ms, "hookline.deliveries.failed") == 2
	}, 5*time.Second, 5*time.Millisecond)
	ms := tm.metrics(t)
	assert.Equal(t, int64(1), sum(t, ms, "hookline.deliveries.failed", otelwebhook.AttrEndpoint.String("failing"), otelwebhook.AttrEventType.String("order.placed")))
	assert.Equal(t, int64(1), sum(t, ms, "hookline.endpoints.disabled"))
	assert.Equal(t, int64(2), sum(t, ms, "hookline.attempts", otelwebhook.AttrEndpoint.String("failing"), otelwebhook.AttrOutcome.String("http_5xx")))
	assert.Equal(t, int64(1), sum(t, ms, "hookline.attempts", otelwebhook.AttrOutcome.String("http_4xx")))

	// The gauges, read from a store whose deliveries no worker takes.
	idle := webhook.NewMemoryStore()
	t.Cleanup(func() { idle.Close() })
	gt := newTelemetry(t)
	clock := time.Now()
	gt.opts.Now = func() time.Time { return clock }
	gcfg := baseConfig(idle)
	inst, err := otelwebhook.Instrument(&gcfg, gt.opts)
	require.NoError(t, err)
	t.Cleanup(func() { inst.Close() })
	gd, err := webhook.New(gcfg)
	require.NoError(t, err)
	require.NoError(t, gd.CreateEndpoint(ctx, &webhook.Endpoint{URL: failing.URL}))
	for range 3 {
		_, err := gd.Publish(ctx, orderPlaced{}, nil)
		require.NoError(t, err)
	}
	clock = clock.Add(90 * time.Second)
	gms := gt.metrics(t)
	assert.Equal(t, int64(3), sum(t, gms, "hookline.deliveries.pending"))
	assert.Equal(t, int64(0), sum(t, gms, "hookline.deliveries.retrying"))
	age, ok := gms["hookline.deliveries.oldest_due_age"].(metricdata.Gauge[float64])
	require.True(t, ok)
	require.Len(t, age.DataPoints, 1)
	assert.InDelta(t, 90, age.DataPoints[0].Value, 5, "the oldest delivery has been due for about 90 s")
}

func TestInjectTraceparent(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	tm.opts.InjectTraceparent = true
	st := webhook.NewMemoryStore()
	t.Cleanup(func() { st.Close() })
	d, _ := start(t, baseConfig(st), tm)
	rcv := webhooktest.NewReceiver(t)
	require.NoError(t, d.CreateEndpoint(context.Background(), &webhook.Endpoint{URL: rcv.URL}))
	msg, err := d.Publish(context.Background(), orderPlaced{}, nil)
	require.NoError(t, err)
	got := rcv.WaitForMessage(t, msg.ID, 5*time.Second)
	att := waitSpans(t, tm.spans, trace.SpanKindClient, 1)[0]
	tp := got[0].Header.Get("traceparent")
	assert.Equal(t, "00-"+att.SpanContext().TraceID().String()+"-"+att.SpanContext().SpanID().String()+"-01", tp,
		"the receiver sees the attempt span's context")
}

func TestFullMetadataDoesNotFailPublish(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	cfg := baseConfig(webhook.NewMemoryStore())
	inst, err := otelwebhook.Instrument(&cfg, tm.opts)
	require.NoError(t, err)
	t.Cleanup(func() { inst.Close() })
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	full := map[string]string{}
	for i := range webhook.MaxMetadata {
		full["k"+strconv.Itoa(i)] = "v"
	}
	msg, err := d.Publish(context.Background(), orderPlaced{}, &webhook.PublishOpts{Metadata: full})
	require.NoError(t, err)
	assert.Len(t, msg.Metadata, webhook.MaxMetadata)
	assert.NotContains(t, msg.Metadata, "traceparent", "no room: the trace context is left out")
	assert.Len(t, spansOfKind(tm.spans.Ended(), trace.SpanKindProducer), 1, "the publish is traced all the same")
}

func TestSendTestSpanEndsOnClose(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	tm.opts.InjectTraceparent = true // live spans, started before the request
	cfg := baseConfig(webhook.NewMemoryStore())
	inst, err := otelwebhook.Instrument(&cfg, tm.opts)
	require.NoError(t, err)
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	rcv := webhooktest.NewReceiver(t)
	ep := &webhook.Endpoint{URL: rcv.URL}
	require.NoError(t, d.CreateEndpoint(context.Background(), ep))
	_, err = d.SendTest(context.Background(), ep.ID)
	require.NoError(t, err)
	assert.Empty(t, spansOfKind(tm.spans.Ended(), trace.SpanKindClient), "a test send reports no outcome to the hooks")
	require.NoError(t, inst.Close())
	assert.Len(t, spansOfKind(tm.spans.Ended(), trace.SpanKindClient), 1, "Close ends the live spans of attempts without an outcome")
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a    webhook.Attempt
		want string
	}{
		{webhook.Attempt{StatusCode: 204}, otelwebhook.OutcomeSuccess},
		{webhook.Attempt{StatusCode: 301, Error: "HTTP 301: redirect to \"x\" not followed"}, otelwebhook.OutcomeRedirect},
		{webhook.Attempt{StatusCode: 404, Error: "HTTP 404"}, otelwebhook.OutcomeHTTP4xx},
		{webhook.Attempt{StatusCode: 503, Error: "HTTP 503"}, otelwebhook.OutcomeHTTP5xx},
		{webhook.Attempt{Error: "timeout: no complete answer within 15s"}, otelwebhook.OutcomeTimeout},
		{webhook.Attempt{Error: "dial tcp 10.0.0.1:443: i/o timeout"}, otelwebhook.OutcomeTimeout},
		{webhook.Attempt{Error: webhook.ErrAddressNotAllowed.Error()}, otelwebhook.OutcomeRefusedByGuard},
		{webhook.Attempt{Error: "dial tcp 127.0.0.1:1: connect: connection refused"}, otelwebhook.OutcomeConnectionError},
	} {
		assert.Equal(t, tc.want, otelwebhook.Outcome(&tc.a), "%+v", tc.a)
	}
}

// The guard's refusal, end to end: the default client refuses loopback.
func TestOutcomeRefusedByGuard(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	cfg := baseConfig(webhook.NewMemoryStore())
	cfg.AllowPrivateNetworks = false
	cfg.Retry = fastRetry(1)
	d, _ := start(t, cfg, tm)
	// Created through the store: the dispatcher itself refuses such a URL.
	ep := &webhook.Endpoint{ID: "ep_guard", URL: "http://127.0.0.1:9/h", Secret: webhook.NewSecret(), CreatedAt: time.Now(), UpdatedAt: time.Now()}
	require.NoError(t, cfg.Store.CreateEndpoint(context.Background(), ep))
	msg, err := d.Publish(context.Background(), orderPlaced{}, nil)
	require.NoError(t, err)
	waitState(t, d, msg.ID, webhook.StateFailed)
	s := waitSpans(t, tm.spans, trace.SpanKindClient, 1)[0]
	assert.Equal(t, otelwebhook.OutcomeRefusedByGuard, attrOf(s, "error.type").AsString())
}

// The publish span's tracestate travels with the message to the link; one
// too long for a metadata entry is left out without failing the publish.
func TestTraceStateTravels(t *testing.T) {
	t.Parallel()
	long := ""
	for i := range 6 {
		long += "v" + strconv.Itoa(i) + "=" + strings.Repeat("x", 200) + ","
	}
	for _, tc := range []struct {
		name, state, want string
	}{
		{"short", "vendor=abc", "vendor=abc"},
		{"too long", strings.TrimSuffix(long, ","), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tm := newTelemetry(t)
			st := webhook.NewMemoryStore()
			t.Cleanup(func() { st.Close() })
			d, _ := start(t, baseConfig(st), tm)
			rcv := webhooktest.NewReceiver(t)
			require.NoError(t, d.CreateEndpoint(context.Background(), &webhook.Endpoint{URL: rcv.URL}))

			ts, err := trace.ParseTraceState(tc.state)
			require.NoError(t, err)
			parent := trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true,
			})
			ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
			msg, err := d.Publish(ctx, orderPlaced{}, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, msg.Metadata["tracestate"])
			waitState(t, d, msg.ID, webhook.StateSucceeded)

			pub := waitSpans(t, tm.spans, trace.SpanKindProducer, 1)[0]
			assert.Equal(t, parent.TraceID(), pub.SpanContext().TraceID(), "the publish span is a child of the publisher's span")
			att := waitSpans(t, tm.spans, trace.SpanKindClient, 1)[0]
			require.Len(t, att.Links(), 1)
			assert.Equal(t, pub.SpanContext().SpanID(), att.Links()[0].SpanContext.SpanID())
			assert.Equal(t, tc.want, att.Links()[0].SpanContext.TraceState().String())
		})
	}
}

// dropKind samples every span but those of one kind.
type dropKind trace.SpanKind

func (k dropKind) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if p.Kind == trace.SpanKind(k) {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop}
	}
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
}
func (k dropKind) Description() string { return "drop " + trace.SpanKind(k).String() }

// sampledBy returns telemetry whose tracer provider samples with s, the
// store behind it with one endpoint, and a message published there
// without instrumentation (so without trace context).
func sampledBy(t *testing.T, s sdktrace.Sampler) (*telemetry, webhook.Store, *webhook.Message) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr), sdktrace.WithSampler(s))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	st := webhook.NewMemoryStore()
	t.Cleanup(func() { st.Close() })
	rcv := webhooktest.NewReceiver(t)
	plain, err := webhook.New(baseConfig(st))
	require.NoError(t, err)
	require.NoError(t, plain.CreateEndpoint(context.Background(), &webhook.Endpoint{URL: rcv.URL}))
	bare, err := plain.Publish(context.Background(), orderPlaced{OrderID: "bare"}, nil)
	require.NoError(t, err)
	return &telemetry{spans: sr, opts: &otelwebhook.Options{TracerProvider: tp}}, st, bare
}

// TestUnsampledPublish: a publish the sampler drops stores no trace
// context, and its attempts are still put to the sampler, as spans of
// their own without a link; so is a message published without
// instrumentation.
func TestUnsampledPublish(t *testing.T) {
	t.Parallel()
	tm, st, bare := sampledBy(t, dropKind(trace.SpanKindProducer))
	d, _ := start(t, baseConfig(st), tm)
	unsampled, err := d.Publish(context.Background(), orderPlaced{OrderID: "unsampled"}, nil)
	require.NoError(t, err)
	stored, err := d.GetMessage(context.Background(), unsampled.ID)
	require.NoError(t, err)
	assert.Empty(t, stored.Metadata, "an unsampled publish stores no trace context")

	waitState(t, d, bare.ID, webhook.StateSucceeded)
	waitState(t, d, unsampled.ID, webhook.StateSucceeded)
	require.NoError(t, d.Shutdown(context.Background())) // every hook has run
	atts := spansOfKind(tm.spans.Ended(), trace.SpanKindClient)
	require.Len(t, atts, 2, "both attempts were put to the sampler, which samples client spans")
	var ids []string
	for _, s := range atts {
		ids = append(ids, attrOf(s, otelwebhook.AttrMessageID).AsString())
		assert.Empty(t, s.Links(), "nothing to link to")
	}
	assert.ElementsMatch(t, []string{bare.ID, unsampled.ID}, ids)
}

// followLinks is the sampler docs/OBSERVABILITY.md gives hosts that want
// every attempt of a sampled publish: it samples a span linked to a
// sampled span and defers to the wrapped sampler otherwise.
type followLinks struct{ sdktrace.Sampler }

func (s followLinks) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	for _, l := range p.Links {
		if l.SpanContext.IsSampled() {
			return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample,
				Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
		}
	}
	return s.Sampler.ShouldSample(p)
}

// TestSamplerSeesTheLink: the link is there when the sampler decides, so
// a sampler (followLinks, over one that drops every attempt span) can
// follow the publish's decision.
func TestSamplerSeesTheLink(t *testing.T) {
	t.Parallel()
	tm, st, bare := sampledBy(t, followLinks{dropKind(trace.SpanKindClient)})
	d, _ := start(t, baseConfig(st), tm)
	traced, err := d.Publish(context.Background(), orderPlaced{OrderID: "traced"}, nil)
	require.NoError(t, err)
	waitState(t, d, bare.ID, webhook.StateSucceeded)
	waitState(t, d, traced.ID, webhook.StateSucceeded)
	require.NoError(t, d.Shutdown(context.Background()))
	atts := spansOfKind(tm.spans.Ended(), trace.SpanKindClient)
	require.Len(t, atts, 1, "only the attempt linked to a sampled publish")
	assert.Equal(t, traced.ID, attrOf(atts[0], otelwebhook.AttrMessageID).AsString())
}

// TestCounterOverflowAndClose: past the cap on attribute sets, counts go to
// one set marked otel.metric.overflow, none lost; counters are monotonic
// cumulative sums; after Close nothing is observed any more.
func TestCounterOverflowAndClose(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	opts := *tm.opts
	opts.EndpointLabel = func(id string) string { return id } // one set per endpoint: many
	inst, err := otelwebhook.New(&opts)
	require.NoError(t, err)
	h := inst.Hooks()
	const n = 5000 // past the cap of 4096 sets
	for k := range n {
		d := &webhook.Delivery{ID: "dlv_" + strconv.Itoa(k), EndpointID: "ep_" + strconv.Itoa(k), EventType: "order.placed", State: webhook.StatePending, Attempts: 1}
		h.AfterAttempt(context.Background(), d, &webhook.Attempt{Number: 1, StatusCode: 500, StartedAt: time.Now(), Duration: time.Millisecond})
	}
	ms := tm.metrics(t)
	s, ok := ms["hookline.attempts"].(metricdata.Sum[int64])
	require.True(t, ok)
	assert.True(t, s.IsMonotonic)
	assert.Equal(t, metricdata.CumulativeTemporality, s.Temporality)
	assert.Equal(t, int64(n), sum(t, ms, "hookline.attempts"), "no attempt lost")
	over := sum(t, ms, "hookline.attempts", attribute.Bool("otel.metric.overflow", true))
	assert.Positive(t, over)
	assert.Less(t, over, int64(n))
	assert.Equal(t, uint64(n), histCount(t, ms, "hookline.attempt.duration"))

	require.NoError(t, inst.Close())
	_, ok = tm.metrics(t)["hookline.attempts"]
	assert.False(t, ok, "no observation after Close")
}

// TestAttemptIsRootWhenStartHadASpan: a span in the context given to
// Start reaches the workers' context; attempt spans still start traces of
// their own.
func TestAttemptIsRootWhenStartHadASpan(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	cfg := baseConfig(webhook.NewMemoryStore())
	inst, err := otelwebhook.Instrument(&cfg, tm.opts)
	require.NoError(t, err)
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	startCtx, startSpan := tm.opts.TracerProvider.Tracer("test").Start(context.Background(), "app start")
	require.NoError(t, d.Start(startCtx))
	startSpan.End()
	t.Cleanup(func() {
		assert.NoError(t, d.Shutdown(context.Background()))
		assert.NoError(t, inst.Close())
	})
	rcv := webhooktest.NewReceiver(t)
	require.NoError(t, d.CreateEndpoint(context.Background(), &webhook.Endpoint{URL: rcv.URL}))
	msg, err := d.Publish(context.Background(), orderPlaced{}, nil)
	require.NoError(t, err)
	waitState(t, d, msg.ID, webhook.StateSucceeded)
	att := waitSpans(t, tm.spans, trace.SpanKindClient, 1)[0]
	assert.False(t, att.Parent().IsValid(), "not a child of the span Start's context held")
	assert.NotEqual(t, startSpan.SpanContext().TraceID(), att.SpanContext().TraceID())
}
