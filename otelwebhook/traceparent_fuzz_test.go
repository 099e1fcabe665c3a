package otelwebhook

import (
	"context"
	"testing"

	webhook "github.com/hookline/webhook"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// FuzzTraceparent checks the traceparent written into message metadata
// against the OpenTelemetry W3C propagator: for any span context the
// propagator reads from an input, traceparent writes what the propagator
// would inject, and publishLink reads it back unchanged.
func FuzzTraceparent(f *testing.F) {
	// Seeds: the W3C Trace Context examples and a few broken ones.
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", "")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "")
	f.Add("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", "")
	f.Fuzz(func(t *testing.T, tp, ts string) {
		md := map[string]string{MetadataTraceParent: tp, MetadataTraceState: ts}
		sc, ok := publishLink(&webhook.Message{Metadata: md}) // must not panic on anything
		want := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(md)))
		if ok != want.IsValid() || (ok && !sc.Equal(want)) {
			t.Fatalf("publishLink(%q, %q) = %v, %v; the propagator reads %v", tp, ts, sc, ok, want)
		}
		if !ok {
			return
		}
		out := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), out)
		if got := traceparent(sc); got != out[MetadataTraceParent] {
			t.Fatalf("traceparent(%v) = %q, the propagator writes %q", sc, got, out[MetadataTraceParent])
		}
		again, ok := publishLink(&webhook.Message{Metadata: map[string]string{MetadataTraceParent: traceparent(sc), MetadataTraceState: sc.TraceState().String()}})
		if !ok || !again.Equal(sc) {
			t.Fatalf("round trip of %v through %q gave %v", sc, traceparent(sc), again)
		}
	})
}
