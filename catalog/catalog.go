// Package catalog is hookline's event catalog: the list of event types a
// host sends, with the JSON Schema of each generated from its Go type, an
// example, a group, a version and a deprecation note.
//
// A Catalog serves three readers:
//
//   - the dispatcher, as webhook.Config.Events: Publish then refuses an
//     event type the catalog does not list and a RawEvent whose JSON does
//     not match its schema;
//   - the admin handler, as admin.Options.EventTypes (AdminEventTypes) and
//     admin.Options.WebhooksOpenAPI (OpenAPI): the page shows each type's
//     fields and example and sends a type's example as a test event;
//   - receivers, through the OpenAPI 3.1 document OpenAPI builds: one
//     webhook per event type with its payload schema, its example and the
//     Standard Webhooks headers, so a host publishes its webhook docs from
//     its own build.
//
// It is a module of its own (github.com/hookline/webhook/catalog) so the
// schema generator and validator stay out of the core module's graph.
//
// Schemas describe the body an endpoint receives under the default
// envelope (webhook.StandardEnvelope): {"type", "timestamp", "data"}, with
// the event's own schema under data. They are inline (no $ref), so a schema
// reads on its own in any tool; recursive Go types are therefore refused.
package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Info describes an event type beside its schema and example.
type Info struct {
	// Description says when the event is sent. Shown to receivers.
	Description string
	// Group gathers related types in the page and the docs, for example
	// "Invoices". Optional.
	Group string
	// Version names the payload's version, for example "2" or
	// "2026-01-15". Optional.
	Version string
	// Deprecated, when not empty, says the type is deprecated and what to
	// use instead. Optional.
	Deprecated string
}

// EventType is one entry of a Catalog.
type EventType struct {
	Info
	// Name is the event type, for example "invoice.paid".
	Name string
	// Schema is the JSON Schema (draft 2020-12) of the body an endpoint
	// receives: the envelope, with DataSchema under "data".
	Schema json.RawMessage
	// DataSchema is the JSON Schema of the event's own JSON, the envelope's
	// "data".
	DataSchema json.RawMessage
	// Example is a sample of the event's JSON (the envelope's "data"); it
	// matches DataSchema.
	Example json.RawMessage
}

// Catalog is a set of event types. Create it with New and register types
// before handing it to the dispatcher and the admin handler. It is safe for
// concurrent use.
type Catalog struct {
	mu    sync.RWMutex
	types []*entry
	index map[string]*entry
}

type entry struct {
	EventType
	validator *jsonschema.Schema // of DataSchema
}

// New returns an empty catalog.
func New() *Catalog { return &Catalog{index: map[string]*entry{}} }

// ErrRegistration marks a refused registration: a bad or duplicate event
// type, a schema that does not compile, or an example that does not match
// its own schema. It also matches webhook.ErrInvalid.
var ErrRegistration = errors.New("catalog: registration refused")

type regError struct{ msg string }

func (e *regError) Error() string { return "catalog: " + e.msg }
func (e *regError) Is(target error) bool {
	return target == ErrRegistration || target == webhook.ErrInvalid
}

func refuse(format string, args ...any) error { return &regError{msg: fmt.Sprintf(format, args...)} }

// Register adds a typed event: its type is example.EventType(), its schema
// is generated from example's Go type (json and jsonschema struct tags
// apply, see github.com/invopop/jsonschema), and example itself, marshalled
// with encoding/json as Publish would, is the type's example. It returns an
// error matching ErrRegistration when the type is invalid or registered
// already, the Go type cannot be described (a recursive type, a channel,
// a func), or the example does not match the schema (a jsonschema tag's
// enum, pattern or bound the example breaks, a field marked required that
// the example leaves out); the catalog is then unchanged.
func (c *Catalog) Register(example webhook.Event, info Info) error {
	switch ev := example.(type) {
	case nil:
		return refuse("Register: nil event; pass a value of the event's type, filled as an example")
	case webhook.RawEvent, *webhook.RawEvent:
		return refuse("Register: %s is a RawEvent; use RegisterRaw with a schema", ev.EventType())
	}
	if v := reflect.ValueOf(example); v.Kind() == reflect.Pointer && v.IsNil() {
		return refuse("Register: nil %T; pass a value filled as an example", example)
	}
	name := example.EventType()
	data, err := json.Marshal(example)
	if err != nil {
		return refuse("%s: the example cannot be marshalled to JSON: %v", name, err)
	}
	schema, err := schemaOf(reflect.TypeOf(example))
	if err != nil {
		return refuse("%s: %v", name, err)
	}
	return c.add(name, schema, data, info)
}

// RegisterRaw adds an event type published as webhook.RawEvent, with a JSON
// Schema (draft 2020-12) given by hand for its data and an example of its
// data. Errors as Register's.
func (c *Catalog) RegisterRaw(eventType string, schema, example json.RawMessage, info Info) error {
	if len(schema) == 0 || !json.Valid(schema) {
		return refuse("%s: the schema is not valid JSON", eventType)
	}
	if len(example) == 0 {
		return refuse("%s: no example; give a sample of the event's JSON (test events and the docs show it)", eventType)
	}
	if !json.Valid(example) {
		return refuse("%s: the example is not valid JSON", eventType)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, example); err != nil {
		return refuse("%s: the example: %v", eventType, err)
	}
	return c.add(eventType, schema, buf.Bytes(), info)
}

func (c *Catalog) add(name string, dataSchema, example json.RawMessage, info Info) error {
	if err := webhook.ValidateEventType(name); err != nil {
		return refuse("%v", err)
	}
	v, err := compile(name, dataSchema)
	if err != nil {
		return refuse("%s: the schema does not compile: %v", name, err)
	}
	if err := validate(v, example); err != nil {
		return refuse("%s: the example does not match its own schema: %v", name, err)
	}
	env, err := envelopeSchema(name, info, dataSchema)
	if err != nil {
		return refuse("%s: %v", name, err)
	}
	e := &entry{EventType: EventType{Info: info, Name: name, Schema: env, DataSchema: dataSchema, Example: example}, validator: v}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.index[name]; ok {
		return refuse("%s is registered already", name)
	}
	c.index[name] = e
	c.types = append(c.types, e)
	return nil
}

// Types returns the registered types in registration order. The returned
// slices are the catalog's: treat them as read-only.
func (c *Catalog) Types() []EventType {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]EventType, len(c.types))
	for i, e := range c.types {
		out[i] = e.EventType
	}
	return out
}

// Lookup returns one registered type.
func (c *Catalog) Lookup(eventType string) (EventType, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.index[eventType]
	if !ok {
		return EventType{}, false
	}
	return e.EventType, true
}

// HasEventType reports whether eventType is registered. With
// ValidateEventData it makes a Catalog a webhook.EventCatalog.
func (c *Catalog) HasEventType(eventType string) bool {
	_, ok := c.Lookup(eventType)
	return ok
}

// ValidateEventData checks data, the JSON of a RawEvent of eventType,
// against the type's schema. A mismatch is a *webhook.ValidationError
// naming the first failing JSON path (a JSON Pointer such as
// "/items/0/quantity", "" for the whole value) and what was wrong there; an
// unregistered type is one too.
func (c *Catalog) ValidateEventData(eventType string, data json.RawMessage) error {
	c.mu.RLock()
	e, ok := c.index[eventType]
	c.mu.RUnlock()
	if !ok {
		return &webhook.ValidationError{Field: "event type", Reason: fmt.Sprintf("%q is not in the event catalog", eventType)}
	}
	if err := validate(e.validator, data); err != nil {
		return &webhook.ValidationError{Field: "event data", Reason: fmt.Sprintf("does not match the schema of %s: %v", eventType, err)}
	}
	return nil
}

// AdminEventTypes returns the catalog as the admin handler takes it
// (admin.Options.EventTypes): each type with its envelope schema, example,
// group, version and deprecation note.
func (c *Catalog) AdminEventTypes() []admin.EventType {
	ts := c.Types()
	out := make([]admin.EventType, len(ts))
	for i, t := range ts {
		out[i] = admin.EventType{
			Name: t.Name, Description: t.Description, Example: t.Example,
			Group: t.Group, Schema: t.Schema, Version: t.Version, Deprecated: t.Deprecated,
		}
	}
	return out
}

// PathError is a schema mismatch at one place of a JSON value.
type PathError struct {
	// Path is a JSON Pointer to the failing value ("" for the whole value).
	Path string
	// Reason says what was wrong there.
	Reason string
}

func (e *PathError) Error() string {
	p := e.Path
	if p == "" {
		p = "/"
	}
	return fmt.Sprintf("at %s: %s", p, e.Reason)
}

var printer = message.NewPrinter(language.English)

func compile(name string, schema json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, err
	}
	url := "urn:hookline:catalog:" + name
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	comp.UseLoader(noLoader{}) // a hand-given schema must not reach the network or the disk
	if err := comp.AddResource(url, doc); err != nil {
		return nil, err
	}
	return comp.Compile(url)
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: schemas load nothing from outside; inline it", url)
}

// validate returns a *PathError for the first failure of data against v.
func validate(v *jsonschema.Schema, data json.RawMessage) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &PathError{Reason: "not valid JSON: " + err.Error()}
	}
	err = v.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	var p strings.Builder
	for _, tok := range ve.InstanceLocation {
		p.WriteByte('/')
		p.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
	}
	return &PathError{Path: p.String(), Reason: ve.ErrorKind.LocalizedString(printer)}
}
