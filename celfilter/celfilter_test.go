package celfilter_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/celfilter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func input(t *testing.T, data string) *webhook.FilterInput {
	in := &webhook.FilterInput{Type: "transaction.completed", Tenant: "acme", Channels: []string{"eu"},
		Metadata: map[string]string{"region": "eu-west"}}
	require.NoError(t, json.Unmarshal([]byte(data), &in.Data))
	return in
}

func TestMatch(t *testing.T) {
	t.Parallel()
	e := celfilter.Must(nil)
	data := `{"amount": 150, "tier": "gold", "tags": ["a", "b"], "nested": {"ok": true}, "price": 9.5}`
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{`true`, true},
		{`false`, false},
		{`data.amount >= 100`, true},
		{`data.amount >= 200`, false},
		{`data.amount == 150`, true},
		{`data.price < 10`, true},
		{`data.price > 9.6`, false},
		{`data.tier == "gold"`, true},
		{`data.tier in ["silver", "bronze"]`, false},
		{`data.tier.startsWith("go")`, true},
		{`"b" in data.tags`, true},
		{`data.nested.ok`, true},
		{`type == "transaction.completed" && tenant == "acme"`, true},
		{`"eu" in channels`, true},
		{`metadata.region == "eu-west"`, true},
		{`has(data.missing) && data.missing > 1`, false},
		{`!has(data.missing)`, true},
	} {
		f, err := e.Compile(tc.expr)
		require.NoError(t, err, tc.expr)
		got, err := f.Match(input(t, data))
		require.NoError(t, err, tc.expr)
		assert.Equal(t, tc.want, got, tc.expr)
	}
}

func TestMissingFieldIsAnError(t *testing.T) {
	t.Parallel()
	f, err := celfilter.Must(nil).Compile(`data.missing > 1`)
	require.NoError(t, err)
	ok, err := f.Match(input(t, `{"amount": 1}`))
	require.Error(t, err)
	assert.False(t, ok)
	assert.Contains(t, err.Error(), "missing")
	// A string where a number is wanted fails the same way.
	f, err = celfilter.Must(nil).Compile(`data.amount > 1`)
	require.NoError(t, err)
	_, err = f.Match(input(t, `{"amount": "lots"}`))
	require.Error(t, err)
}

func TestCompileErrorsNamePosition(t *testing.T) {
	t.Parallel()
	e := celfilter.Must(nil)
	for _, tc := range []struct{ expr, want string }{
		{`data.amount >=`, ":1:"},
		{`amount > 1`, "undeclared reference to 'amount'"},
		{`type + 1`, "no matching overload"},
		{`"a string"`, "must be a bool"},
		{`data.amount > 1 &&& true`, ":1:"},
	} {
		_, err := e.Compile(tc.expr)
		require.Error(t, err, tc.expr)
		var ve *webhook.ValidationError
		require.True(t, errors.As(err, &ve), tc.expr)
		assert.Equal(t, "filter", ve.Field)
		assert.Contains(t, ve.Reason, tc.want, tc.expr)
	}
}

func TestCostLimit(t *testing.T) {
	t.Parallel()
	e := celfilter.Must(&celfilter.Options{CostLimit: 1000})
	// Quadratic work over a list the event supplies: stopped by the limit.
	f, err := e.Compile(`data.xs.all(x, data.xs.all(y, x + y >= 0))`)
	require.NoError(t, err)
	xs := make([]string, 200)
	for i := range xs {
		xs[i] = "1"
	}
	ok, err := f.Match(input(t, `{"xs": [`+strings.Join(xs, ",")+`]}`))
	require.Error(t, err)
	assert.False(t, ok)
	assert.Contains(t, err.Error(), "cost")
}

func TestTimeoutInterrupts(t *testing.T) {
	t.Parallel()
	// No cost limit to speak of: the wall clock stops it.
	e := celfilter.Must(&celfilter.Options{CostLimit: 1 << 62, Timeout: 20 * time.Millisecond, InterruptCheckFrequency: 10})
	f, err := e.Compile(`data.xs.all(x, data.xs.all(y, data.xs.all(z, x + y + z >= 0)))`)
	require.NoError(t, err)
	xs := make([]string, 400)
	for i := range xs {
		xs[i] = "1"
	}
	start := time.Now()
	ok, err := f.Match(input(t, `{"xs": [`+strings.Join(xs, ",")+`]}`))
	require.Error(t, err)
	assert.False(t, ok)
	assert.Less(t, time.Since(start), 5*time.Second)
}
