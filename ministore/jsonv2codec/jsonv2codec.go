// SPDX-License-Identifier: MIT OR Apache-2.0

// Package jsonv2codec is a [ministore.Codec] on
// github.com/go-json-experiment/json, the upstream of encoding/json/v2:
// the same JSON lines as the default codec (encoding/json), several times
// faster to decode.
//
//	store, err := ministore.Open[Rec](path, &ministore.Options{Codec: jsonv2codec.New()})
//
// It marshals and unmarshals with encoding/json's semantics (the v1
// options of go-json-experiment: the same field names, tags, omitempty,
// nil slices and maps as null, durations as nanoseconds), and writes <, >
// and & as themselves, as the default codec does, so that both write the
// same bytes and a journal written with either codec reads with the other
// to the same values. Like the default codec it refuses a string that is
// not valid UTF-8 on Marshal (an error matching ministore.ErrInvalidUTF8),
// refuses unknown object keys when strict, and accepts on decode what
// encoding/json accepts.
package jsonv2codec

import (
	"errors"
	"fmt"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/mini-go/mini/ministore"
)

// Codec encodes records with go-json-experiment/json. Create one with
// New; it is safe for concurrent use.
type Codec struct {
	enc, strict, lenient json.Options
}

var _ ministore.Codec = (*Codec)(nil)

// New returns the codec.
func New() *Codec {
	v1 := jsonv1.DefaultOptionsV1()
	return &Codec{
		// encoding/json writes each byte of invalid UTF-8 as \ufffd,
		// which ministore refuses; here the encoder refuses it itself,
		// with an error that unwraps (the legacy one does not).
		enc: json.JoinOptions(v1, jsontext.AllowInvalidUTF8(false), jsontext.EscapeForHTML(false),
			jsonv1.ReportErrorsWithLegacySemantics(false)),
		strict:  json.JoinOptions(v1, json.RejectUnknownMembers(true)),
		lenient: v1,
	}
}

// errInvalidUTF8 is the library's own error for invalid UTF-8, found by
// marshaling some: it is not exported.
var errInvalidUTF8 = func() error {
	_, err := json.Marshal("\xff", jsontext.AllowInvalidUTF8(false))
	for err != nil {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
	panic("jsonv2codec: invalid UTF-8 marshaled without an error")
}()

// Marshal returns the JSON of v. A string that is not valid UTF-8 is an
// error matching ministore.ErrInvalidUTF8.
func (c *Codec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v, c.enc)
	if err != nil && errors.Is(err, errInvalidUTF8) {
		return nil, fmt.Errorf("%w: %w", ministore.ErrInvalidUTF8, err)
	}
	return b, err
}

// NewDecoder returns a Decoder; strict refuses unknown object keys.
func (c *Codec) NewDecoder(strict bool) ministore.Decoder {
	if strict {
		return decoder{c.strict}
	}
	return decoder{c.lenient}
}

type decoder struct{ opts json.Options }

// Decode decodes data, one JSON value, into v.
func (d decoder) Decode(data []byte, v any) error {
	return json.Unmarshal(data, v, d.opts)
}
