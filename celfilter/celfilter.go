// Package celfilter is a webhook.FilterEngine for CEL, the Common
// Expression Language (github.com/google/cel-go): what Kubernetes
// validation rules and Envoy use. CEL is not Turing-complete (no loops
// beyond bounded macros, no recursion) and every evaluation here runs
// under a cost limit, so a filter typed in by a portal user cannot hang a
// publish.
//
// Wire it into the dispatcher:
//
//	d, err := webhook.New(webhook.Config{Filter: celfilter.Must(nil)})
//
// An expression sees these variables and must be a bool:
//
//	type      string               the event type, "reward.issued"
//	tenant    string               the message's tenant
//	channels  list(string)         PublishOpts.Channels
//	metadata  map(string, string)  PublishOpts.Metadata
//	data      dyn                  the event's JSON: maps, lists, strings,
//	                               doubles, bools, null
//
// for example `type == "transaction.completed" && data.amount >= 100` or
// `data.tier in ["gold", "platinum"]`. JSON numbers are doubles; comparing
// them with integer literals works (data.amount >= 100). A field the event
// lacks is an evaluation error, which the dispatcher treats as "no
// delivery": guard optional fields with has(data.field).
package celfilter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	webhook "github.com/hookline/webhook"
)

// Options tune the engine. The zero value takes the defaults.
type Options struct {
	// CostLimit bounds the cost of one evaluation, in CEL's cost units
	// (about one per operation, string and list work by size); an
	// evaluation that reaches it fails (no delivery). Defaults to 10,000.
	CostLimit uint64
	// Timeout is a wall-clock backstop to the cost limit: an evaluation
	// still running after it is interrupted (checked every
	// InterruptCheckFrequency comprehension iterations) and fails. Defaults
	// to 100 ms; negative turns it off.
	Timeout time.Duration
	// InterruptCheckFrequency is how often, in comprehension iterations,
	// an evaluation checks its Timeout. Defaults to 100.
	InterruptCheckFrequency uint
}

// Engine compiles CEL filters. It is safe for concurrent use.
type Engine struct {
	env  *cel.Env
	opts Options
}

var _ webhook.FilterEngine = (*Engine)(nil)

// New returns an Engine; opts may be nil.
func New(opts *Options) (*Engine, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.CostLimit == 0 {
		o.CostLimit = 10000
	}
	if o.Timeout == 0 {
		o.Timeout = 100 * time.Millisecond
	}
	if o.InterruptCheckFrequency == 0 {
		o.InterruptCheckFrequency = 100
	}
	env, err := cel.NewEnv(
		cel.Variable("type", cel.StringType),
		cel.Variable("tenant", cel.StringType),
		cel.Variable("channels", cel.ListType(cel.StringType)),
		cel.Variable("metadata", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("data", cel.DynType),
		cel.CrossTypeNumericComparisons(true),
	)
	if err != nil {
		return nil, fmt.Errorf("celfilter: building the environment: %w", err)
	}
	return &Engine{env: env, opts: o}, nil
}

// Must is New that panics on error, for Config literals.
func Must(opts *Options) *Engine {
	e, err := New(opts)
	if err != nil {
		panic(err)
	}
	return e
}

// Compile parses and type-checks expr. A mistake is a
// *webhook.ValidationError whose reason gives its line and column, for
// example "ERROR: <input>:1:6: undeclared reference to 'amount'".
func (e *Engine) Compile(expr string) (webhook.Filter, error) {
	ast, iss := e.env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, &webhook.ValidationError{Field: "filter", Reason: iss.Err().Error()}
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, &webhook.ValidationError{Field: "filter", Reason: fmt.Sprintf("the expression is a %s; it must be a bool", t)}
	}
	prg, err := e.env.Program(ast,
		cel.CostLimit(e.opts.CostLimit),
		cel.InterruptCheckFrequency(e.opts.InterruptCheckFrequency),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, &webhook.ValidationError{Field: "filter", Reason: err.Error()}
	}
	return &filter{prg: prg, timeout: e.opts.Timeout}, nil
}

type filter struct {
	prg     cel.Program
	timeout time.Duration
}

var errNotBool = errors.New("celfilter: the expression did not give a bool")

// Match evaluates the filter over in.
func (f *filter) Match(in *webhook.FilterInput) (bool, error) {
	channels := in.Channels
	if channels == nil {
		channels = []string{}
	}
	md := in.Metadata
	if md == nil {
		md = map[string]string{}
	}
	vars := map[string]any{"type": in.Type, "tenant": in.Tenant, "channels": channels, "metadata": md, "data": in.Data}
	var out ref.Val
	var err error
	if f.timeout > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
		out, _, err = f.prg.ContextEval(ctx, vars)
		cancel()
	} else {
		out, _, err = f.prg.Eval(vars)
	}
	if err != nil {
		return false, fmt.Errorf("celfilter: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, errNotBool
	}
	return b, nil
}
