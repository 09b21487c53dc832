// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/ministore"
)

// codec turns mutations into journal records and back. A record is one
// mutation's JSON (or {"Kind":...} with a Registry), or, for a batch, a
// JSON array of them. A single mutation whose JSON is itself an array is
// written as a batch of one, so a record starting with '[' is always a
// batch.
type codec[S any, M Mutator[S]] struct {
	kinds Kinds           // nil: plain JSON
	jc    ministore.Codec // the JSON codec of the mutations (Options.JournalCodec); nil: encoding/json
}

var null = []byte("null")

func newCodec[S any, M Mutator[S]](kinds Kinds, jc ministore.Codec) (codec[S, M], error) {
	if _, ok := jc.(ministore.JSONCodec); ok {
		jc = nil // encoding/json, through its own fast paths
	}
	mt := reflect.TypeFor[M]()
	if kinds == nil {
		if mt.Kind() == reflect.Interface {
			return codec[S, M]{}, fmt.Errorf("ministate: the mutation type %v is an interface: set Options.Registry so records can be decoded", mt)
		}
		return codec[S, M]{jc: jc}, nil
	}
	if err := kinds.check(reflect.TypeFor[S](), mt); err != nil {
		return codec[S, M]{}, err
	}
	return codec[S, M]{kinds: kinds, jc: jc}, nil
}

// marshal returns the JSON of v with the codec.
func (c codec[S, M]) marshal(v any) ([]byte, error) {
	if c.jc == nil {
		return json.Marshal(v)
	}
	return c.jc.Marshal(v)
}

// newDecoder returns a lenient decoder (as json.Unmarshal) for one
// goroutine to decode many records with.
func (c codec[S, M]) newDecoder() ministore.Decoder {
	if c.jc == nil {
		return &jsonline.Decoder{}
	}
	return c.jc.NewDecoder(false)
}

// unmarshal decodes p into v with dec, or, when dec is nil, on its own.
func (c codec[S, M]) unmarshal(dec ministore.Decoder, p []byte, v any) error {
	switch {
	case dec != nil:
		return dec.Decode(p, v)
	case c.jc == nil:
		return json.Unmarshal(p, v)
	}
	return c.jc.NewDecoder(false).Decode(p, v)
}

// encodeOne returns the JSON of one mutation.
func (c codec[S, M]) encodeOne(m M) ([]byte, error) {
	var (
		p   []byte
		err error
	)
	if c.kinds != nil {
		p, err = c.kinds.encodeKind(any(m), c.marshal)
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

// encode returns the record for ms: a single mutation, or a batch.
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

// decode parses a record into its mutations.
func (c codec[S, M]) decode(p []byte, dst []M) ([]M, error) { return c.decodeWith(nil, p, dst) }

// decodeWith is decode with dec, if not nil (from newDecoder): a reused
// decoder costs less than one per record when one goroutine decodes many
// records (recovery), and decodes the same.
func (c codec[S, M]) decodeWith(dec ministore.Decoder, p []byte, dst []M) ([]M, error) {
	n := len(dst)
	d := trimSpace(p)
	if len(d) == 0 || d[0] != '[' {
		// Decoded in place, into a zeroed slot of dst: a mutation
		// decoded into a variable of its own would be moved to the heap
		// (it is passed to the decoder as an interface) and then copied.
		var zero M
		dst = append(dst, zero)
		if err := c.decodeInto(dec, d, &dst[n]); err != nil {
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
		if err := c.decodeInto(dec, e, &dst[len(dst)-1]); err != nil {
			return dst[:n], fmt.Errorf("batch element %d: %w", i, err)
		}
	}
	return dst, nil
}

// decodeInto decodes one mutation's JSON p into *m, which holds M's zero
// value.
func (c codec[S, M]) decodeInto(dec ministore.Decoder, p []byte, m *M) error {
	if bytes.Equal(trimSpace(p), null) {
		return errors.New("ministate: null mutation")
	}
	if c.kinds == nil {
		if err := c.unmarshal(dec, p, m); err != nil {
			return fmt.Errorf("ministate: decode mutation: %w", err)
		}
		return nil
	}
	v, err := c.kinds.decodeKind(p, func(data []byte, v any) error { return c.unmarshal(dec, data, v) })
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

// validates reports whether any of ms is a Validator.
func validates[S any, M Mutator[S]](ms []M) bool {
	for _, m := range ms {
		if _, ok := any(m).(Validator[S]); ok {
			return true
		}
	}
	return false
}

// A RecordCodec turns mutations into ministate's journal records and back:
// one mutation's JSON ({"Kind":{...}} with a Registry), or a JSON array of
// them for a batch (see the package documentation, # Format). It is for
// programs that carry these records somewhere other than a Manager's
// journal, such as miniraft's raft log.
type RecordCodec[S any, M Mutator[S]] struct{ c codec[S, M] }

// NewRecordCodec returns a RecordCodec. kinds is a *Registry[S], or nil
// for mutations stored as their own JSON (M must then be a concrete type).
func NewRecordCodec[S any, M Mutator[S]](kinds Kinds) (RecordCodec[S, M], error) {
	c, err := newCodec[S, M](kinds, nil)
	return RecordCodec[S, M]{c}, err
}

// NewRecordCodecWith is NewRecordCodec with the mutations' JSON through
// jc, as Options.JournalCodec does it (nil: encoding/json). The records
// are the same JSON whichever codec wrote them.
func NewRecordCodecWith[S any, M Mutator[S]](kinds Kinds, jc ministore.Codec) (RecordCodec[S, M], error) {
	c, err := newCodec[S, M](kinds, jc)
	return RecordCodec[S, M]{c}, err
}

// NewDecoder returns a decoder for DecodeWith, for one goroutine at a
// time.
func (r RecordCodec[S, M]) NewDecoder() ministore.Decoder { return r.c.newDecoder() }

// DecodeWith is Decode with dec, from NewDecoder: a goroutine that decodes
// many records spends less with one reused decoder than Decode does.
func (r RecordCodec[S, M]) DecodeWith(dec ministore.Decoder, record []byte) ([]M, error) {
	return r.c.decodeWith(dec, record, nil)
}

// Encode returns the record for ms: a single mutation, or a batch.
func (r RecordCodec[S, M]) Encode(ms []M) ([]byte, error) { return r.c.encode(ms) }

// Decode parses a record into its mutations.
func (r RecordCodec[S, M]) Decode(record []byte) ([]M, error) { return r.c.decode(record, nil) }
