// Command observability delivers webhooks to a flaky local receiver with
// the OpenTelemetry instrumentation on, and serves the hookline.* metrics
// for Prometheus at /metrics through the OpenTelemetry Prometheus
// exporter.
//
//	go run ./examples/observability                  # until interrupted
//	go run ./examples/observability -duration 5s     # briefly, then exit
//	curl -s 127.0.0.1:9464/metrics | grep hookline_
//
// The receiver answers most requests 200 and the rest 500, 429, a
// redirect, or too late (a timeout); one endpoint points at a closed port
// (connection errors) and one answers 410 Gone, so the dispatcher disables
// it. Traces go to a tracer provider that drops them (wire your exporter
// there); the metrics show every outcome.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/otelwebhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OrderPlaced is the event the example publishes.
type OrderPlaced struct {
	OrderID string `json:"order_id"`
	Amount  int    `json:"amount"`
}

// EventType names the event.
func (OrderPlaced) EventType() string { return "order.placed" }

type options struct {
	addr     string        // where /metrics listens
	duration time.Duration // how long to run; 0: until interrupted
	rate     int           // messages published per second
	out      io.Writer     // progress lines
	// ready, when set, is told the metrics address once it listens.
	ready func(addr string)
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:9464", "address of the /metrics endpoint")
	flag.DurationVar(&o.duration, "duration", 0, "run this long, then exit (0: until interrupted)")
	flag.IntVar(&o.rate, "rate", 20, "messages published per second")
	flag.Parse()
	o.out = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	if o.rate <= 0 {
		o.rate = 20
	}

	// Metrics: the OpenTelemetry Prometheus exporter is a metric reader
	// that registers with a Prometheus registry of our own.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())
	tp := sdktrace.NewTracerProvider() // add sdktrace.WithBatcher(yourExporter)
	defer tp.Shutdown(context.Background())

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	metricsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go metricsSrv.Serve(ln)
	defer metricsSrv.Close()
	fmt.Fprintf(o.out, "metrics at http://%s/metrics\n", ln.Addr())
	if o.ready != nil {
		o.ready(ln.Addr().String())
	}

	rcv := httptest.NewServer(http.HandlerFunc(flaky))
	defer rcv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // its port now refuses connections

	cfg := webhook.Config{
		AllowHTTP:            true, // the local receiver is plain http
		AllowPrivateNetworks: true, // ...on loopback
		AttemptTimeout:       300 * time.Millisecond,
		Retry: webhook.RetryPolicy{
			MaxAttempts: 4,
			NewBackOff:  func() backoff.BackOff { return backoff.NewConstantBackOff(500 * time.Millisecond) },
		},
	}
	// The one line that instruments the dispatcher. EndpointLabel puts the
	// endpoint on attempt metrics, for per-endpoint alerts: fine for a few
	// endpoints, leave it out for many.
	inst, err := otelwebhook.Instrument(&cfg, &otelwebhook.Options{
		TracerProvider: tp, MeterProvider: mp,
		EndpointLabel: func(id string) string { return id },
	})
	if err != nil {
		return err
	}
	defer inst.Close()
	d, err := webhook.New(cfg)
	if err != nil {
		return err
	}
	for _, ep := range []*webhook.Endpoint{
		{ID: "ep_flaky", URL: rcv.URL + "/flaky", Description: "answers 200 mostly"},
		{ID: "ep_down", URL: closed.URL + "/down", Description: "nothing listens"},
		{ID: "ep_gone", URL: rcv.URL + "/gone", Description: "answers 410 Gone"},
	} {
		if err := d.CreateEndpoint(ctx, ep); err != nil {
			return err
		}
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	}()

	tick := time.NewTicker(time.Second / time.Duration(o.rate))
	defer tick.Stop()
	report := time.NewTicker(2 * time.Second)
	defer report.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(o.out, "published %d messages\n", n)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		case <-tick.C:
			n++
			ev := OrderPlaced{OrderID: fmt.Sprintf("ord_%d", n), Amount: 100 + n}
			if _, err := d.Publish(ctx, ev, nil); err != nil && ctx.Err() == nil {
				return err
			}
		case <-report.C:
			st, err := d.Stats(ctx, webhook.StatsQuery{})
			if err == nil {
				fmt.Fprintf(o.out, "published %d; deliveries %v\n", n, st.Counts)
			}
		}
	}
}

// flaky answers like a receiver having a bad day.
func flaky(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if r.URL.Path == "/gone" {
		w.WriteHeader(http.StatusGone)
		return
	}
	switch p := rand.IntN(100); {
	case p < 70:
		w.WriteHeader(http.StatusOK)
	case p < 82:
		w.WriteHeader(http.StatusInternalServerError)
	case p < 90:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	case p < 95:
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	default:
		select { // longer than the attempt timeout
		case <-time.After(time.Second):
		case <-r.Context().Done():
		}
	}
}
