// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

// registry is what a *ministate.Registry[S] offers through its exported
// methods.
type registry[S any] interface {
	Encode(m ministate.Mutator[S]) ([]byte, error)
	Decode(data []byte) (ministate.Mutator[S], error)
}

// codec turns mutations into the Data of raft logs and back, in the form
// of a ministate journal record (ministate.RecordCodec): one mutation's
// JSON ({"Kind":...} with a Registry), or a JSON array of them for a
// batch. With Options.Codec it writes and reads the same records with
// that codec instead of encoding/json.
type codec[S any, M ministate.Mutator[S]] struct {
	rc   ministate.RecordCodec[S, M]
	fast ministore.Codec // nil: rc
}

func newCodec[S any, M ministate.Mutator[S]](kinds ministate.Kinds, fast ministore.Codec) (codec[S, M], error) {
	if kinds != nil {
		if _, ok := kinds.(registry[S]); !ok {
			return codec[S, M]{}, fmt.Errorf("miniraft: Options.Registry is a %T, not a *ministate.Registry[%v]", kinds, reflect.TypeFor[S]())
		}
		if fast != nil {
			return codec[S, M]{}, errors.New("miniraft: Options.Codec and Registry are both set (a Registry encodes with encoding/json)")
		}
	}
	rc, err := ministate.NewRecordCodec[S, M](kinds)
	if err != nil {
		return codec[S, M]{}, fmt.Errorf("miniraft: %w", err)
	}
	return codec[S, M]{rc: rc, fast: fast}, nil
}

// newDecoder returns what decode needs to decode records one after the
// other on one goroutine: a Decoder of Options.Codec, or nil.
func (c codec[S, M]) newDecoder() ministore.Decoder {
	if c.fast == nil {
		return nil
	}
	return c.fast.NewDecoder(false) // as ministate decodes mutations: unknown keys ignored
}

// encode returns the log data for ms: a single mutation, or a batch.
func (c codec[S, M]) encode(ms []M) ([]byte, error) {
	if c.fast == nil {
		return c.rc.Encode(ms)
	}
	if len(ms) == 1 {
		// A mutation whose JSON is an array is written as a batch of one,
		// so that a record starting with '[' is always a batch.
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

func (c codec[S, M]) encodeOne(m M) ([]byte, error) {
	p, err := c.fast.Marshal(m)
	switch {
	case err != nil:
		return nil, fmt.Errorf("miniraft: encode mutation: %w", err)
	case len(p) == 0 || string(p) == "null":
		return nil, errors.New("miniraft: mutation encodes as null (a nil pointer?)")
	case jsonline.ReplacedUTF8(p):
		return nil, fmt.Errorf("miniraft: encode mutation: %w in a string: it would be stored as U+FFFD", ministore.ErrInvalidUTF8)
	}
	return p, nil
}

// decode parses log data into its mutations, with dec (from newDecoder)
// if Options.Codec is set.
func (c codec[S, M]) decode(dec ministore.Decoder, p []byte) ([]M, error) {
	if c.fast == nil {
		return c.rc.Decode(p)
	}
	d := bytes.TrimSpace(p)
	if len(d) == 0 || d[0] != '[' {
		m, err := c.decodeOne(dec, d)
		if err != nil {
			return nil, err
		}
		return []M{m}, nil
	}
	elems, err := splitJSONArray(d)
	if err != nil {
		return nil, fmt.Errorf("miniraft: decode batch: %w", err)
	}
	if len(elems) == 0 {
		return nil, errors.New("miniraft: empty batch record")
	}
	ms := make([]M, 0, len(elems))
	for i, e := range elems {
		m, err := c.decodeOne(dec, e)
		if err != nil {
			return nil, fmt.Errorf("batch element %d: %w", i, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func (c codec[S, M]) decodeOne(dec ministore.Decoder, p []byte) (M, error) {
	var m M
	if string(p) == "null" {
		return m, errors.New("miniraft: null mutation")
	}
	if err := dec.Decode(p, &m); err != nil {
		return m, fmt.Errorf("miniraft: decode mutation: %w", err)
	}
	return m, nil
}
