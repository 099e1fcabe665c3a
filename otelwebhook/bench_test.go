package otelwebhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/otelwebhook"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkThroughput delivers b.N messages to one loopback receiver that
// answers 204, with the instrumentation off and on side by side:
//
//   - off: no instrumentation;
//   - metrics: metrics on, tracing through a no-op tracer provider;
//   - sampled10: metrics, and traces with 10% of the root spans sampled
//     (a common production setting);
//   - all: metrics, and every span sampled.
//
// Spans go through a batch span processor to an exporter that drops them;
// metrics are aggregated by a reader collected once at the end (a scrape).
// Each reports deliveries/s and the process's CPU time per delivery (the
// receiver's included), which is steadier than throughput on a shared
// machine:
//
//	go test -run '^$' -bench Throughput -benchtime 20000x -count 3 ./otelwebhook
func BenchmarkThroughput(b *testing.B) {
	for _, mode := range []string{"off", "metrics", "sampled10", "all"} {
		b.Run(mode, func(b *testing.B) { benchThroughput(b, mode) })
	}
}

// tracerProvider returns the tracer provider of a benchmark mode: a no-op
// one for "metrics", else the SDK's with a batcher to an exporter that
// drops spans, sampling 10% ("sampled10") or every span ("all"). It is
// shut down when the benchmark ends.
func tracerProvider(b *testing.B, mode string) trace.TracerProvider {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(tracetest.NewNoopExporter())}
	switch mode {
	case "sampled10":
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))))
	case "all":
	default:
		return noop.NewTracerProvider()
	}
	p := sdktrace.NewTracerProvider(opts...)
	b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func benchThroughput(b *testing.B, mode string) {
	var got atomic.Int64
	done := make(chan struct{}, 1)
	target := int64(b.N)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if got.Add(1) == target {
			done <- struct{}{}
		}
	}))
	defer srv.Close()

	st := webhook.NewMemoryStore()
	defer st.Close()
	cfg := webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true, MaxInFlightPerEndpoint: 64}
	var inst *otelwebhook.Instrumentation
	var reader *sdkmetric.ManualReader
	if mode != "off" {
		tp := tracerProvider(b, mode)
		reader = sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer func() { _ = mp.Shutdown(context.Background()) }()
		var err error
		inst, err = otelwebhook.Instrument(&cfg, &otelwebhook.Options{TracerProvider: tp, MeterProvider: mp})
		if err != nil {
			b.Fatal(err)
		}
		defer inst.Close()
	}
	d, err := webhook.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: srv.URL}); err != nil {
		b.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	}()
	ev := webhook.RawEvent{Type: "order.placed", Data: []byte(`{"order_id":"o1","amount":1200}`)}

	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for range b.N {
		if _, err := d.Publish(ctx, ev, nil); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("delivered %d of %d", got.Load(), b.N)
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "deliveries/s")
	if cpu > 0 {
		// CPU time of the whole process (the receiver's included) per
		// delivery: steadier than throughput on a shared machine.
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/delivery")
	}
	if reader != nil { // the collection a scrape would make, outside the timing
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHooks is the instrumentation's own cost per delivery of one
// attempt: the publish and attempt hooks called directly, as the
// dispatcher calls them, without the HTTP and store work around them.
// Compare its ns/op with BenchmarkThroughput/off's CPU per delivery.
func BenchmarkHooks(b *testing.B) {
	for _, mode := range []string{"metrics", "sampled10", "all"} {
		b.Run(mode, func(b *testing.B) {
			tp := tracerProvider(b, mode)
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			defer func() { _ = mp.Shutdown(context.Background()) }()
			inst, err := otelwebhook.New(&otelwebhook.Options{TracerProvider: tp, MeterProvider: mp})
			if err != nil {
				b.Fatal(err)
			}
			h := inst.Hooks()
			req, _ := http.NewRequest(http.MethodPost, "https://hooks.example.com/in", nil)
			ctx := context.Background()
			actx := hookContext(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				msg := &webhook.Message{ID: "msg_1", Type: "order.placed", Metadata: map[string]string{}, CreatedAt: time.Now()}
				pctx := h.BeforePublish(ctx, msg)
				h.AfterPublish(pctx, msg, 1, nil)
				d := &webhook.Delivery{ID: "dlv_1", MessageID: msg.ID, EndpointID: "ep_1", EventType: msg.Type, State: webhook.StatePending}
				if h.BeforeAttempt != nil { // with InjectTraceparent only
					h.BeforeAttempt(actx, req, d)
				}
				d.State, d.Attempts = webhook.StateSucceeded, 1
				h.AfterAttempt(actx, d, &webhook.Attempt{Number: 1, StatusCode: 204, StartedAt: time.Now(), Duration: time.Millisecond})
			}
		})
	}
}

// hookContext returns the context an AfterAttempt hook gets from a real
// dispatcher, carrying a message whose metadata holds a traceparent (so
// the attempt span has its link to make).
func hookContext(b *testing.B) context.Context {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	got := make(chan context.Context, 1)
	d, err := webhook.New(webhook.Config{
		AllowHTTP: true, AllowPrivateNetworks: true,
		Hooks: webhook.Hooks{
			BeforePublish: func(ctx context.Context, m *webhook.Message) context.Context {
				m.Metadata["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
				return ctx
			},
			AfterAttempt: func(ctx context.Context, _ *webhook.Delivery, _ *webhook.Attempt) { got <- ctx },
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: srv.URL}); err != nil {
		b.Fatal(err)
	}
	if _, err := d.Publish(ctx, webhook.RawEvent{Type: "order.placed", Data: []byte(`{}`)}, nil); err != nil {
		b.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer d.Shutdown(ctx)
	select {
	case c := <-got:
		return c
	case <-time.After(10 * time.Second):
		b.Fatal("no attempt")
		return nil
	}
}
