// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/mini-go/mini/internal/jsonline"
)

// A Registry names the mutation types of a state S, so that one journal can
// hold several kinds of mutation. Each mutation is logged in serde's enum
// form, the one the Rust crate writes for an enum:
//
//	{"AddService":{"name":"api","addr":"10.0.0.7:8080"}}
//
// and decoded back into the type registered under its kind name. A kind
// whose JSON is not an object works too ({"SetLimit":5} for a named integer
// type), and a unit variant written by serde as a bare string ("Reset")
// decodes to the zero value of the type registered as Reset.
//
// Build a Registry with NewRegistry and Register before opening a Manager,
// and set it as Options.Registry; M is then usually Mutator[S] itself, or an
// interface of your own that the registered types implement:
//
//	reg := ministate.NewRegistry[Catalog]()
//	ministate.Register[AddService](reg, "AddService")
//	ministate.Register[RemoveService](reg, "RemoveService")
//	m, err := ministate.Open[Catalog, ministate.Mutator[Catalog]](dir, "catalog.log",
//		&ministate.Options{Registry: reg})
//	seq, err := m.Apply(AddService{Name: "api"})
//
// A Registry is safe for concurrent use; registering after a Manager
// started using it is allowed but only affects later records.
type Registry[S any] struct {
	mu     sync.RWMutex
	byName map[string]*kind
	byType map[reflect.Type]*kind
}

// kind is one registered mutation type.
type kind struct {
	name   string
	typ    reflect.Type
	prefix []byte                                             // `{"Name":`
	decode func([]byte, func([]byte, any) error) (any, error) // JSON value -> T (as any), with the given unmarshal
	zero   func() any                                         // the zero T, for the unit form
}

// Kinds is the type of Options.Registry. Only *Registry[S] implements it.
type Kinds interface {
	encodeKind(v any, marshal func(any) ([]byte, error)) ([]byte, error)
	decodeKind(data []byte, unmarshal func([]byte, any) error) (any, error)
	check(state, mutation reflect.Type) error
}

// NewRegistry returns an empty Registry for mutations of S.
func NewRegistry[S any]() *Registry[S] {
	return &Registry[S]{byName: map[string]*kind{}, byType: map[reflect.Type]*kind{}}
}

// Register adds the mutation type T to r under the kind name name; with an
// empty name, T's Go type name is used. T may be a pointer type (if its
// Apply method has a pointer receiver): records then decode into a new T.
//
// Register panics if the name or the type is registered already, or if the
// name is not valid UTF-8 text without control characters: like
// http.HandleFunc, it is meant for program setup.
func Register[T Mutator[S], S any](r *Registry[S], name string) {
	typ := reflect.TypeFor[T]()
	if name == "" {
		name = typ.Name()
		if name == "" && typ.Kind() == reflect.Pointer {
			name = typ.Elem().Name()
		}
	}
	if name == "" || !utf8.ValidString(name) || bytes.ContainsFunc([]byte(name), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		panic(fmt.Sprintf("ministate: Register: invalid kind name %q for %v", name, typ))
	}
	key, _ := json.Marshal(name)
	k := &kind{
		name:   name,
		typ:    typ,
		prefix: append(append([]byte{'{'}, key...), ':'),
		decode: func(data []byte, unmarshal func([]byte, any) error) (any, error) {
			var t T
			if err := unmarshal(data, &t); err != nil {
				return nil, err
			}
			return t, nil
		},
		zero: func() any {
			var t T
			if typ.Kind() == reflect.Pointer {
				return reflect.New(typ.Elem()).Interface()
			}
			return t
		},
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byName[name]; ok {
		panic(fmt.Sprintf("ministate: Register: kind %q is registered already (for %v)", name, old.typ))
	}
	if old, ok := r.byType[typ]; ok {
		panic(fmt.Sprintf("ministate: Register: %v is registered already (as %q)", typ, old.name))
	}
	r.byName[name] = k
	r.byType[typ] = k
}

// Kinds returns the registered kind names, sorted.
func (r *Registry[S]) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.byName))
}

// Encode returns the record form of m: {"Kind":<m as JSON>}. It fails with
// an error matching ErrUnknownKind if m's type is not registered.
func (r *Registry[S]) Encode(m Mutator[S]) ([]byte, error) { return r.encodeKind(m, json.Marshal) }

// Decode parses one record written by Encode (or by serde for an enum) and
// returns the mutation, of the type registered under its kind. It fails
// with an error matching ErrUnknownKind for a kind that is not registered,
// and with a descriptive error for anything that is not a one-key object or
// a string.
func (r *Registry[S]) Decode(data []byte) (Mutator[S], error) {
	v, err := r.decodeKind(data, json.Unmarshal)
	if err != nil {
		return nil, err
	}
	return v.(Mutator[S]), nil
}

func (r *Registry[S]) encodeKind(v any, marshal func(any) ([]byte, error)) ([]byte, error) {
	if v == nil {
		return nil, errors.New("ministate: nil mutation")
	}
	r.mu.RLock()
	k := r.byType[reflect.TypeOf(v)]
	r.mu.RUnlock()
	if k == nil {
		return nil, fmt.Errorf("%w: type %T is not registered", ErrUnknownKind, v)
	}
	body, err := marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ministate: encode %s: %w", k.name, err)
	}
	out := make([]byte, 0, len(k.prefix)+len(body)+1)
	out = append(out, k.prefix...)
	out = append(out, body...)
	return append(out, '}'), nil
}

func (r *Registry[S]) decodeKind(data []byte, unmarshal func([]byte, any) error) (any, error) {
	name, value, err := splitEnvelope(data)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	k := r.byName[name]
	r.mu.RUnlock()
	if k == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, name)
	}
	if value == nil {
		return k.zero(), nil
	}
	v, err := k.decode(value, unmarshal)
	if err != nil {
		return nil, fmt.Errorf("ministate: decode kind %s: %w", name, err)
	}
	return v, nil
}

// check verifies that r is for state type state and that every registered
// type can be a mutation of type mutation.
func (r *Registry[S]) check(state, mutation reflect.Type) error {
	if st := reflect.TypeFor[S](); st != state {
		return fmt.Errorf("ministate: the Registry is for state %v, the Manager's state is %v", st, state)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, name := range slices.Sorted(maps.Keys(r.byName)) {
		if k := r.byName[name]; !k.typ.AssignableTo(mutation) {
			return fmt.Errorf("ministate: registered kind %s (%v) is not assignable to the Manager's mutation type %v", name, k.typ, mutation)
		}
	}
	return nil
}

var errEnvelope = errors.New(`want {"Kind":value} or "Kind"`)

// splitEnvelope splits a record {"Kind":value} into the kind's name and the
// value's bytes, or a unit record "Kind" into the name and a nil value. It
// checks the envelope only; the value is checked by json.Unmarshal, which
// rejects anything but exactly one JSON value (so a second key, or bytes
// after the closing brace, fail there).
func splitEnvelope(data []byte) (name string, value []byte, err error) {
	d := jsonline.TrimSpace(data)
	if len(d) == 0 {
		return "", nil, fmt.Errorf("ministate: empty record: %w", errEnvelope)
	}
	if d[0] == '"' {
		if err := json.Unmarshal(d, &name); err != nil {
			return "", nil, fmt.Errorf("ministate: bad record: %w", err)
		}
		return name, nil, nil
	}
	if d[0] != '{' || d[len(d)-1] != '}' {
		return "", nil, fmt.Errorf("ministate: bad record: %w", errEnvelope)
	}
	i := jsonline.SkipSpace(d, 1)
	end := scanString(d, i)
	if end < 0 {
		return "", nil, fmt.Errorf("ministate: bad record: %w", errEnvelope)
	}
	key := d[i:end]
	if plainKey(key) {
		name = string(key[1 : len(key)-1])
	} else if err := json.Unmarshal(key, &name); err != nil {
		return "", nil, fmt.Errorf("ministate: bad record kind: %w", err)
	}
	i = jsonline.SkipSpace(d, end)
	if i >= len(d) || d[i] != ':' {
		return "", nil, fmt.Errorf("ministate: bad record: %w", errEnvelope)
	}
	value = jsonline.TrimSpace(d[i+1 : len(d)-1])
	if len(value) == 0 {
		return "", nil, fmt.Errorf("ministate: bad record: %w", errEnvelope)
	}
	return name, value, nil
}

// scanString returns the index just after the JSON string starting at
// d[i], or -1 if there is none. Escapes are skipped, not checked.
func scanString(d []byte, i int) int {
	if i >= len(d) || d[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(d); j++ {
		switch d[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// plainKey reports whether a quoted key needs no unescaping or checking:
// printable ASCII without backslashes.
func plainKey(key []byte) bool {
	for _, c := range key[1 : len(key)-1] {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}
