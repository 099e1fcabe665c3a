package celfilter_test

import (
	"encoding/json"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/celfilter"
)

// FuzzFilter: a portal user's expression and a publisher's payload are
// both hostile. Compile never panics; a compiled filter never panics on
// any JSON and ends quickly (the cost limit), true, false or an error.
func FuzzFilter(f *testing.F) {
	for _, s := range [][2]string{
		{`data.amount >= 100`, `{"amount": 150}`},
		{`data.tier == "gold"`, `{"tier": 7}`},
		{`has(data.a) && data.a.b.c`, `{"a": {"b": {"c": true}}}`},
		{`data.xs.all(x, data.xs.all(y, x + y >= 0))`, `{"xs": [1, 2, 3, 4, 5, 6, 7, 8, 9]}`},
		{`data.s.matches("^(a+)+$")`, `{"s": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"}`},
		{`size(data) > 0 && "eu" in channels`, `[]`},
		{`metadata["k"] == tenant`, `null`},
		{`data.amount >=`, `{}`},
		{`1 / 0 == 1`, `{}`},
	} {
		f.Add(s[0], s[1])
	}
	e := celfilter.Must(nil)
	f.Fuzz(func(t *testing.T, expr, data string) {
		flt, err := e.Compile(expr)
		if err != nil {
			return
		}
		in := &webhook.FilterInput{Type: "a.b", Tenant: "t", Channels: []string{"eu"}, Metadata: map[string]string{"k": "t"}}
		if json.Unmarshal([]byte(data), &in.Data) != nil {
			return
		}
		start := time.Now()
		_, _ = flt.Match(in)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%q over %q took %s: the cost limit did not hold", expr, data, d)
		}
	})
}
