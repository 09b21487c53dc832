// SPDX-License-Identifier: MIT OR Apache-2.0

package jsonline

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// A Decoder decodes one record's JSON after another with a single
// json.Decoder: json.Unmarshal allocates its decoding state on every call,
// a Decoder keeps it, and only a Decoder can refuse unknown fields. The
// zero value is lenient; set Strict before the first Decode. A Decoder is
// for one goroutine at a time.
type Decoder struct {
	// Strict refuses object keys that v has no field for.
	Strict bool
	src    bytes.Reader
	dec    *json.Decoder
	fed    int64 // bytes given to dec so far
}

// Decode decodes payload, which must be exactly one JSON value (with
// optional whitespace around it), into v.
func (d *Decoder) Decode(payload []byte, v any) error {
	if d.dec == nil {
		d.dec = json.NewDecoder(&d.src)
		if d.Strict {
			d.dec.DisallowUnknownFields()
		}
		d.fed = 0
	}
	d.src.Reset(payload)
	d.fed += int64(len(payload))
	err := d.dec.Decode(v)
	if err == nil && d.dec.InputOffset() != d.fed && !onlySpace(d) {
		err = errors.New("invalid data after the record's JSON value")
	}
	if err != nil {
		d.dec = nil // start afresh: the Decoder may hold the bad input
	}
	return err
}

// onlySpace reports whether what d's Decoder has not consumed is JSON
// whitespace. A record's payload is one JSON value, so this is reached
// only for whitespace around it, or for damage that a checksum covers.
func onlySpace(d *Decoder) bool {
	rest, _ := io.ReadAll(io.MultiReader(d.dec.Buffered(), &d.src))
	return SkipSpace(rest, 0) == len(rest)
}
