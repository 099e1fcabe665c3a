package catalog

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/invopop/jsonschema"
)

var (
	timeType          = reflect.TypeFor[time.Time]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// schemaOf generates the JSON Schema of t's JSON, inline. Fields that
// encoding/json writes as null (a nil pointer, slice or map without
// omitempty) are nullable in it, so real events match their schema and not
// only the example does.
func schemaOf(t reflect.Type) (json.RawMessage, error) {
	if err := checkType(t, map[reflect.Type]bool{}); err != nil {
		return nil, err
	}
	r := &jsonschema.Reflector{
		DoNotReference:            true, // inline: one schema reads on its own
		ExpandedStruct:            true,
		Anonymous:                 true, // no generated $id
		AllowAdditionalProperties: true, // a field added later must not break receivers' validation
	}
	s := r.ReflectFromType(t)
	s.Version = ""
	nullable(t, s)
	return json.Marshal(s)
}

// custom reports whether t writes its own JSON, so its Go shape says
// nothing about it.
func custom(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	for _, u := range []reflect.Type{t, reflect.PointerTo(t)} {
		if u.Implements(jsonMarshalerType) || u.Implements(textMarshalerType) {
			return true
		}
	}
	return false
}

// checkType refuses what has no JSON Schema here: recursive types (the
// schemas are inline), channels, funcs and complex numbers.
func checkType(t reflect.Type, path map[reflect.Type]bool) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if custom(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("%s has no JSON form: encoding/json cannot marshal it", t)
	case reflect.Slice, reflect.Array, reflect.Map:
		return checkType(t.Elem(), path)
	case reflect.Struct:
		if path[t] {
			return fmt.Errorf("%s is recursive: catalog schemas are inline, so give a recursive value a json.RawMessage field or a MarshalJSON of its own", t)
		}
		path[t] = true
		defer delete(path, t)
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous || f.Tag.Get("json") == "-" {
				continue
			}
			if err := checkType(f.Type, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// canBeNil reports whether encoding/json may write a value of t as null.
func canBeNil(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		return true
	}
	return false
}

func orNull(s *jsonschema.Schema) *jsonschema.Schema {
	if s == nil || s.Type == "null" || len(s.OneOf) > 0 || len(s.AnyOf) > 0 {
		return s
	}
	if s.Type == "" && s.Ref == "" && s.Properties == nil && s.Items == nil && s.Enum == nil && s.Const == nil {
		return s // {} or true: null matches already
	}
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{s, {Type: "null"}}}
}

// nullable walks t as encoding/json does and makes nullable the parts of s
// that may be null.
func nullable(t reflect.Type, s *jsonschema.Schema) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s == nil || custom(t) {
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return // []byte: a base64 string
		}
		nullable(t.Elem(), s.Items)
		if canBeNil(t.Elem()) {
			s.Items = orNull(s.Items)
		}
	case reflect.Map:
		nullable(t.Elem(), s.AdditionalProperties)
		if canBeNil(t.Elem()) {
			s.AdditionalProperties = orNull(s.AdditionalProperties)
		}
		if s.PatternProperties != nil {
			for k, p := range s.PatternProperties {
				nullable(t.Elem(), p)
				if canBeNil(t.Elem()) {
					s.PatternProperties[k] = orNull(p)
				}
			}
		}
	case reflect.Struct:
		if s.Properties == nil {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if !f.IsExported() && !f.Anonymous || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					nullable(et, s) // promoted fields live in s itself
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			p, ok := s.Properties.Get(name)
			if !ok {
				continue
			}
			nullable(ft, p)
			omit := false
			for _, o := range strings.Split(opts, ",") {
				omit = omit || o == "omitempty" || o == "omitzero"
			}
			if !omit && canBeNil(ft) && !strings.Contains(f.Tag.Get("jsonschema"), "nullable") {
				s.Properties.Set(name, orNull(p))
			}
		}
	}
}

// envelopeSchema is the schema of the body an endpoint receives under
// webhook.StandardEnvelope, data inline.
func envelopeSchema(name string, info Info, data json.RawMessage) (json.RawMessage, error) {
	env := struct {
		Schema      string         `json:"$schema"`
		Title       string         `json:"title"`
		Description string         `json:"description,omitempty"`
		Deprecated  bool           `json:"deprecated,omitempty"`
		Type        string         `json:"type"`
		Required    []string       `json:"required"`
		Properties  map[string]any `json:"properties"`
	}{
		Schema: "https://json-schema.org/draft/2020-12/schema", Title: name, Description: info.Description,
		Deprecated: info.Deprecated != "", Type: "object", Required: []string{"type", "timestamp", "data"},
		Properties: map[string]any{
			"type":      map[string]any{"const": name, "description": "The event type."},
			"timestamp": map[string]any{"type": "string", "format": "date-time", "description": "When the event was published (RFC 3339)."},
			"data":      json.RawMessage(data),
		},
	}
	return json.Marshal(env)
}
