package miniraft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/mini-go/mini/ministate"
)

// registry is what a *ministate.Registry[S] offers through its exported
// methods.
type registry[S any] interface {
	Encode(m ministate.Mutator[S]) ([]byte, error)
	Decode(data []byte) (ministate.Mutator[S], error)
}

// codec turns mutations into the Data of raft logs and back, in the form
// of a ministate journal record: one mutation's JSON ({"Kind":...} with a
// Registry), or a JSON array of them for a batch. A single mutation whose
// JSON is an array is written as a batch of one.
type codec[S any, M ministate.Mutator[S]] struct {
	reg registry[S] // nil: plain JSON
}

var null = []byte("null")

func newCodec[S any, M ministate.Mutator[S]](kinds ministate.Kinds) (codec[S, M], error) {
	mt := reflect.TypeFor[M]()
	if kinds == nil {
		if mt.Kind() == reflect.Interface {
			return codec[S, M]{}, fmt.Errorf("miniraft: the mutation type %v is an interface: set Options.Registry so logs can be decoded", mt)
		}
		return codec[S, M]{}, nil
	}
	reg, ok := kinds.(registry[S])
	if !ok {
		return codec[S, M]{}, fmt.Errorf("miniraft: Options.Registry is a %T, not a *ministate.Registry[%v]", kinds, reflect.TypeFor[S]())
	}
	return codec[S, M]{reg: reg}, nil
}

func (c codec[S, M]) encodeOne(m M) ([]byte, error) {
	var (
		p   []byte
		err error
	)
	if c.reg != nil {
		p, err = c.reg.Encode(m)
	} else if p, err = json.Marshal(m); err != nil {
		err = fmt.Errorf("miniraft: encode mutation: %w", err)
	}
	if err != nil {
		return nil, err
	}
	if bytes.Equal(p, null) {
		return nil, errors.New("miniraft: mutation encodes as null (a nil pointer?)")
	}
	return p, nil
}

// encode returns the log data for ms: a single mutation, or a batch.
func (c codec[S, M]) encode(ms []M) ([]byte, error) {
	if len(ms) == 1 {
		p, err := c.encodeOne(ms[0])
		if err != nil || p[0] != '[' {
			return p, err
		}
	}
	out := []byte{'['}
	for i, m := range ms {
		p, err := c.encodeOne(m)
		if err != nil {
			return nil, fmt.Errorf("batch element %d: %w", i, err)
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, p...)
	}
	return append(out, ']'), nil
}

// decode parses log data into its mutations.
func (c codec[S, M]) decode(p []byte) ([]M, error) {
	p = bytes.TrimSpace(p)
	if len(p) == 0 || p[0] != '[' {
		m, err := c.decodeOne(p)
		if err != nil {
			return nil, err
		}
		return []M{m}, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(p, &elems); err != nil {
		return nil, fmt.Errorf("miniraft: decode batch: %w", err)
	}
	if len(elems) == 0 {
		return nil, errors.New("miniraft: empty batch")
	}
	out := make([]M, 0, len(elems))
	for i, e := range elems {
		m, err := c.decodeOne(e)
		if err != nil {
			return nil, fmt.Errorf("batch element %d: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func (c codec[S, M]) decodeOne(p []byte) (M, error) {
	var m M
	if bytes.Equal(bytes.TrimSpace(p), null) {
		return m, errors.New("miniraft: null mutation")
	}
	if c.reg == nil {
		if err := json.Unmarshal(p, &m); err != nil {
			return m, fmt.Errorf("miniraft: decode mutation: %w", err)
		}
		return m, nil
	}
	v, err := c.reg.Decode(p)
	if err != nil {
		return m, err
	}
	m, ok := v.(M)
	if !ok {
		return m, fmt.Errorf("miniraft: kind decoded as %T, which is not a %v", v, reflect.TypeFor[M]())
	}
	return m, nil
}
