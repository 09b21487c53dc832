// SPDX-License-Identifier: MIT OR Apache-2.0

// Package recordcodec turns mutations into ministate's journal records and
// back (docs/FORMAT.md): one mutation's JSON ({"Kind":...} with a
// ministate.Registry), or, for a batch, a JSON array of them. A single
// mutation whose JSON is itself an array is written as a batch of one, so
// a record starting with '[' is always a batch. ministate's journals and
// miniraft's raft logs hold these records.
package recordcodec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/ministore"
)

// Kinds names the mutation types of a state in records, as
// ministate.Registry does.
type Kinds interface {
	// EncodeKind returns {"Kind":<v's JSON by marshal>}.
	EncodeKind(v any, marshal func(any) ([]byte, error)) ([]byte, error)
	// DecodeKind decodes one record written by EncodeKind with unmarshal.
	DecodeKind(data []byte, unmarshal func([]byte, any) error) (any, error)
	// Check verifies that the kinds are for state type state and that
	// every kind is a mutation of type mutation.
	Check(state, mutation reflect.Type) error
}

// KindsOf returns the Kinds of a ministate.Kinds (an Options.Registry), nil
// for nil. ministate sets it when it is initialised: the methods of a
// ministate.Kinds are unexported, so that only ministate's Registry
// implements it, and only ministate can reach them.
var KindsOf func(kinds any) Kinds

// A Codec turns mutations of type M, for a state S, into records and back.
type Codec[S, M any] struct {
	kinds Kinds           // nil: plain JSON
	jc    ministore.Codec // the JSON codec of the mutations; nil: encoding/json
}

var null = []byte("null")

// New returns a Codec. kinds nil stores mutations as their own JSON (M
// must then be a concrete type). jc is the mutations' JSON codec (nil:
// encoding/json); the records are the same JSON whichever codec wrote
// them.
func New[S, M any](kinds Kinds, jc ministore.Codec) (Codec[S, M], error) {
	if _, ok := jc.(ministore.JSONCodec); ok {
		jc = nil // encoding/json, through its own fast paths
	}
	mt := reflect.TypeFor[M]()
	if kinds == nil {
		if mt.Kind() == reflect.Interface {
			return Codec[S, M]{}, fmt.Errorf("ministate: the mutation type %v is an interface: set Options.Registry so records can be decoded", mt)
		}
		return Codec[S, M]{jc: jc}, nil
	}
	if err := kinds.Check(reflect.TypeFor[S](), mt); err != nil {
		return Codec[S, M]{}, err
	}
	return Codec[S, M]{kinds: kinds, jc: jc}, nil
}

// marshal returns the JSON of v with the codec.
func (c Codec[S, M]) marshal(v any) ([]byte, error) {
	if c.jc == nil {
		return json.Marshal(v)
	}
	return c.jc.Marshal(v)
}

// NewDecoder returns a lenient decoder (as json.Unmarshal) for one
// goroutine to decode many records with (DecodeWith, DecodeInto).
func (c Codec[S, M]) NewDecoder() ministore.Decoder {
	if c.jc == nil {
		return &jsonline.Decoder{}
	}
	return c.jc.NewDecoder(false)
}

// unmarshal decodes p into v with dec, or, when dec is nil, on its own.
func (c Codec[S, M]) unmarshal(dec ministore.Decoder, p []byte, v any) error {
	switch {
	case dec != nil:
		return dec.Decode(p, v)
	case c.jc == nil:
		return json.Unmarshal(p, v)
	}
	return c.jc.NewDecoder(false).Decode(p, v)
}

// encodeOne returns the JSON of one mutation.
func (c Codec[S, M]) encodeOne(m M) ([]byte, error) {
	var (
		p   []byte
		err error
	)
	if c.kinds != nil {
		p, err = c.kinds.EncodeKind(any(m), c.marshal)
	} else {
		p, err = c.marshal(m)
		if err != nil {
			err = fmt.Errorf("ministate: encode mutation: %w", err)
		}
	}
	if err != nil {
		return nil, err
	}
	if jsonline.ReplacedUTF8(p) {
		return nil, fmt.Errorf("ministate: encode mutation: %w in a string: it would be stored as U+FFFD", ministore.ErrInvalidUTF8)
	}
	if bytes.Equal(p, null) {
		return nil, errors.New("ministate: mutation encodes as null (a nil pointer?)")
	}
	return p, nil
}

// Encode returns the record for ms: a single mutation, or a batch.
func (c Codec[S, M]) Encode(ms []M) ([]byte, error) {
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

// Decode parses a record into its mutations, appended to dst.
func (c Codec[S, M]) Decode(p []byte, dst []M) ([]M, error) { return c.DecodeWith(nil, p, dst) }

// DecodeWith is Decode with dec, if not nil (from NewDecoder): a reused
// decoder costs less than one per record when one goroutine decodes many
// records (recovery), and decodes the same.
func (c Codec[S, M]) DecodeWith(dec ministore.Decoder, p []byte, dst []M) ([]M, error) {
	n := len(dst)
	d := jsonline.TrimSpace(p)
	if len(d) == 0 || d[0] != '[' {
		// Decoded in place, into a zeroed slot of dst: a mutation
		// decoded into a variable of its own would be moved to the heap
		// (it is passed to the decoder as an interface) and then copied.
		var zero M
		dst = append(dst, zero)
		if err := c.DecodeInto(dec, d, &dst[n]); err != nil {
			return dst[:n], err
		}
		return dst, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(d, &elems); err != nil {
		return dst, fmt.Errorf("ministate: decode batch: %w", err)
	}
	if len(elems) == 0 {
		return dst, errors.New("ministate: empty batch record")
	}
	for i, e := range elems {
		var zero M
		dst = append(dst, zero)
		if err := c.DecodeInto(dec, e, &dst[len(dst)-1]); err != nil {
			return dst[:n], fmt.Errorf("batch element %d: %w", i, err)
		}
	}
	return dst, nil
}

// DecodeInto decodes one mutation's JSON p (a record that is not a batch)
// into *m, which holds M's zero value, with dec if not nil.
func (c Codec[S, M]) DecodeInto(dec ministore.Decoder, p []byte, m *M) error {
	if bytes.Equal(jsonline.TrimSpace(p), null) {
		return errors.New("ministate: null mutation")
	}
	if c.kinds == nil {
		if err := c.unmarshal(dec, p, m); err != nil {
			return fmt.Errorf("ministate: decode mutation: %w", err)
		}
		return nil
	}
	v, err := c.kinds.DecodeKind(p, func(data []byte, v any) error { return c.unmarshal(dec, data, v) })
	if err != nil {
		return err
	}
	mv, ok := v.(M)
	if !ok {
		return fmt.Errorf("ministate: kind decoded as %T, which is not a %v", v, reflect.TypeFor[M]())
	}
	*m = mv
	return nil
}
