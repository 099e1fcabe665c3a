package main

import (
	"context"
	"flag"
	"log"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/otelwebhook"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

var otelSample = flag.Float64("otel-sample", 0.1, "fraction of publishes traced in the instrumented rounds (metrics are always on)")

func init() {
	instrumented = func(cfg *webhook.Config) {
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*otelSample))),
			sdktrace.WithBatcher(discardExporter{}),
		)
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		if _, err := otelwebhook.Instrument(cfg, &otelwebhook.Options{TracerProvider: tp, MeterProvider: mp}); err != nil {
			log.Fatal(err)
		}
	}
}

// discardExporter takes finished spans as an exporter would and drops
// them, so the rounds pay for recording and batching spans, not for a
// collector.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }
