package main

import (
	"context"
	"encoding/json"
	"log"
	"runtime"
	"strconv"
	"strings"
	"time"

	webhook "github.com/hookline/webhook"
)

// memoryRun publishes events x 10 endpoints with no worker running and
// reports the heap growth per pending delivery, after GC.
func memoryRun(o options) memory {
	ctx := context.Background()
	st := webhook.NewMemoryStore()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st})
	if err != nil {
		log.Fatal(err)
	}
	for i := range 10 {
		if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "https://receiver" + strconv.Itoa(i) + ".example/hook"}); err != nil {
			log.Fatal(err)
		}
	}
	ev := newSample(1)
	ev.Padding = strings.Repeat("x", 900-len(mustJSON(ev))-len(`,"padding":""`))
	payload := len(mustJSON(ev))
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range o.pending {
		ev.CustomerID = "cus_" + strconv.Itoa(100000+i)
		if _, err := d.Publish(ctx, ev, nil); err != nil {
			log.Fatal(err)
		}
	}
	after := heap()
	pending := o.pending * 10
	runtime.KeepAlive(d)
	return memory{Events: o.pending, Endpoints: 10, PendingDeliveries: pending, PayloadBytes: payload,
		HeapBytes: after - before, BytesPerDelivery: float64(after-before) / float64(pending)}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// scalingRun measures claim+record per delivery at 1k, 100k and 1M
// pending in the memory store.
func scalingRun() []scaling {
	var out []scaling
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		out = append(out, claimCost(n))
		runtime.GC()
	}
	for i := range out {
		out[i].VsSmallest = out[i].NsPerDelivery / out[0].NsPerDelivery
	}
	return out
}

func claimCost(n int) scaling {
	ctx := context.Background()
	s := webhook.NewMemoryStore()
	defer s.Close()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const eps = 10
	for i := range eps {
		_ = s.CreateEndpoint(ctx, &webhook.Endpoint{ID: "ep_" + strconv.Itoa(i), URL: "https://example.com"})
	}
	payload := []byte(`{"type":"a.b","timestamp":"2030-01-01T00:00:00Z","data":{}}`)
	for i := 0; i < n; i += eps {
		msg := &webhook.Message{ID: "msg_" + strconv.Itoa(i), Type: "a.b", Payload: payload, CreatedAt: base}
		ds := make([]*webhook.Delivery, eps)
		for j := range ds {
			ds[j] = &webhook.Delivery{ID: "dlv_" + strconv.Itoa(i+j), MessageID: msg.ID, EndpointID: "ep_" + strconv.Itoa(j),
				State: webhook.StatePending, NextAttemptAt: base.Add(time.Duration(i+j) * time.Nanosecond), CreatedAt: base}
		}
		if err := s.InsertMessage(ctx, msg, ds); err != nil {
			log.Fatal(err)
		}
	}
	now := base.Add(time.Hour)
	next := base.Add(time.Duration(n) * time.Nanosecond)
	const batch, total = 64, 300_000
	recs := make([]webhook.Record, 0, batch)
	claimed := 0
	start := time.Now()
	for claimed < total {
		cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "bench", Now: now, Limit: batch, Lease: time.Minute})
		if err != nil || len(cs) == 0 {
			log.Fatalf("claim: %v (%d)", err, len(cs))
		}
		recs = recs[:0]
		for _, c := range cs {
			next = next.Add(time.Nanosecond)
			recs = append(recs, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: now, State: webhook.StatePending, NextAttemptAt: next})
		}
		if _, err := s.Record(ctx, recs); err != nil {
			log.Fatal(err)
		}
		claimed += len(cs)
	}
	return scaling{Pending: n, NsPerDelivery: float64(time.Since(start).Nanoseconds()) / float64(claimed)}
}
