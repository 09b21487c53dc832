// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"encoding/json"
	"errors"
)

// A Codec turns records into JSON and back: the journal's format is JSON
// lines whichever codec wrote them, so a journal written with one codec
// reads with any other. Set one in Options.Codec; the default, JSONCodec,
// is encoding/json. The subpackage jsonv2codec is a faster one, on
// github.com/go-json-experiment/json.
//
// A Codec must keep the rules ministore keeps with encoding/json, so that
// the codecs refuse and report the same things:
//   - Marshal returns one JSON value, without a newline, and fails with an
//     error matching ErrInvalidUTF8 for a string that is not valid UTF-8
//     (or, as encoding/json does, writes the escape \ufffd for each bad
//     byte, which ministore then refuses with ErrInvalidUTF8);
//   - a strict Decoder (the default: Options.AllowUnknownFields unset)
//     fails on an object key that no field of the record type takes;
//   - decoding accepts what encoding/json accepts: duplicate keys (the last
//     wins), keys matched to fields without regard to case, and invalid
//     UTF-8 in a stored string (decoded as U+FFFD).
//
// A Codec is used by many goroutines at once; a Decoder by one at a time.
type Codec interface {
	// Marshal returns the JSON of v.
	Marshal(v any) ([]byte, error)
	// NewDecoder returns a Decoder; strict refuses unknown object keys.
	NewDecoder(strict bool) Decoder
}

// A Decoder decodes the JSON of one record after another into values. It
// may keep state between calls (buffers), so it is used by one goroutine
// at a time.
type Decoder interface {
	// Decode decodes data, one JSON value, into v, a non-nil pointer. It
	// must not keep data after it returns.
	Decode(data []byte, v any) error
}

// JSONCodec is the default Codec: encoding/json. Its Decoder reuses one
// json.Decoder for every record.
type JSONCodec struct{}

var _ Codec = JSONCodec{}

// Marshal returns json.Marshal(v), but with <, > and & written as
// themselves, as Append writes them with the default codec (see encBufs).
func (JSONCodec) Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes()[:b.Len()-1], nil // without Encode's newline
}

// NewDecoder returns a Decoder with one reused json.Decoder, which
// refuses unknown fields (Decoder.DisallowUnknownFields) when strict.
func (JSONCodec) NewDecoder(strict bool) Decoder { return &recordDecoder{Strict: strict} }

// decoding is how records are decoded: by which codec, how strictly.
type decoding struct {
	codec  Codec // nil: JSONCodec
	strict bool
}

func (d decoding) newDecoder() Decoder {
	if d.codec == nil {
		return &recordDecoder{Strict: d.strict}
	}
	return d.codec.NewDecoder(d.strict)
}

// decodingOf is the decoding that o asks for.
func decodingOf(o *Options) decoding {
	return decoding{codec: o.Codec, strict: !o.AllowUnknownFields}
}

// errNewline is the error for an encoded record with a newline in it.
var errNewline = errors.New("ministore: encoded record contains a newline")
