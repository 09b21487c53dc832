// SPDX-License-Identifier: MIT OR Apache-2.0

// Package cborcodec is a [minisnap.Codec] that stores states as CBOR
// (RFC 8949), using github.com/fxamacker/cbor/v2: smaller and faster to
// encode and decode than JSON, but not readable with cat or jq.
//
//	store, err := minisnap.Open(dir, &minisnap.Options{Codec: cborcodec.New()})
//
// States are mapped to CBOR the way encoding/json maps them to JSON: struct
// fields by their `cbor` tag, else their `json` tag, else their name.
// Times are encoded as RFC 3339 text with nanoseconds, so they round-trip
// exactly.
package cborcodec

import (
	"io"
	"math"

	"github.com/fxamacker/cbor/v2"
	"github.com/mini-go/mini/minisnap"
)

// Codec encodes states as CBOR. Create one with New; it is safe for
// concurrent use.
type Codec struct {
	enc cbor.EncMode
	dec cbor.DecMode
}

var _ minisnap.Codec = (*Codec)(nil)

// New returns a CBOR codec. Its decoder accepts arrays and maps of up to
// math.MaxInt32 elements (the library's default limit of 131072 would
// refuse a large state), nested up to 1024 levels deep.
func New() *Codec {
	enc, err := cbor.EncOptions{
		Time: cbor.TimeRFC3339Nano,
	}.EncMode()
	if err != nil {
		panic(err) // the options are constant and valid
	}
	dec, err := cbor.DecOptions{
		MaxArrayElements: math.MaxInt32,
		MaxMapPairs:      math.MaxInt32,
		MaxNestedLevels:  1024,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return &Codec{enc: enc, dec: dec}
}

// Name returns "cbor".
func (*Codec) Name() string { return "cbor" }

// Ext returns ".cbor".
func (*Codec) Ext() string { return ".cbor" }

// Encode writes v as one CBOR data item.
func (c *Codec) Encode(w io.Writer, v any) error {
	return c.enc.NewEncoder(w).Encode(v)
}

// Decode reads one CBOR data item from r into v, a non-nil pointer.
func (c *Codec) Decode(r io.Reader, v any) error {
	return c.dec.NewDecoder(r).Decode(v)
}
