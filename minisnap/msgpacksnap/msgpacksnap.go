// SPDX-License-Identifier: MIT OR Apache-2.0

// Package msgpacksnap is a [minisnap.Codec] for MessagePack, using
// github.com/vmihailenco/msgpack/v5, that also reads the snapshots the
// current Rust crate minisnap writes with its MessagePack codec (RmpCodec,
// rmp-serde): a program migrating from the Rust crates plugs it in and its
// first Restore (or ministate.Open) starts from the crate's newest
// snapshot.
//
//	store, err := minisnap.Open(dir, &minisnap.Options{Codec: msgpacksnap.New()})
//	m, err := ministate.Open(dir, journal, registry, &ministate.Options{SnapshotCodec: msgpacksnap.New()})
//
// # Format
//
// The crate's RmpCodec writes DIR/snapshot_<seq, 20 digits>, a file name
// without an extension (the codec's ext() is empty), holding the envelope
// struct {seq, state} encoded by rmp_serde::encode::write. rmp-serde's
// default layout writes a struct as an array of its fields in declaration
// order, so the file is the two-element array [seq, state], and every
// struct inside the state is an array too:
//
//	struct AppState { counter: u64, message: String }   (Rust)
//	snapshot_00000000000000000010:  92 0a 92 2a a5 68 65 6c 6c 6f
//	                                [10, [42, "hello"]]
//
// Integers are written in their smallest form, strings as str, Option as
// nil or the value, a unit variant of an enum as its name, a variant with
// data as a one-entry map {name: data}, Vec<u8> (without serde_bytes) as an
// array of integers. SplitNumbered also accepts the envelope as a map
// {"seq": N, "state": ...} (rmp-serde's named layout).
//
// Decode reads a MessagePack struct written as an array into a Go struct
// field by field, in the Go struct's field order, which must then match
// the Rust struct's, with the same number of fields (fields tagged
// `msgpack:"-"` do not count). It reads a struct written as a map by field
// name: the `msgpack` tag, else the `json` tag, else the Go name. A state
// decoded into an `any` gives []any for arrays and maps for maps.
//
// Go's own snapshots with this codec are snap- directories like any other
// minisnap snapshot (codec name "msgpack", state file snapshot.msgpack,
// with a checksum); Encode writes structs as maps keyed by field name, so
// adding a field to the Go type later does not break them, and integers in
// their smallest form.
//
// # Caveats
//
// The crate's files have no checksum: damage that still parses as one
// envelope with the file name's sequence number restores. What does not
// parse, or holds another sequence number, is a *minisnap.CorruptError
// naming the file and the offset where it stops making sense.
//
// minisnap never writes or deletes the crate's files; delete them yourself
// once Go has snapshots of its own.
package msgpacksnap

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/mini-go/mini/minisnap"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Codec encodes states as MessagePack and reads the Rust crate's
// MessagePack snapshots. Create one with New; it is safe for concurrent
// use.
type Codec struct{}

var _ minisnap.NumberedCodec = (*Codec)(nil)

// New returns a MessagePack codec.
func New() *Codec { return &Codec{} }

// Name returns "msgpack".
func (*Codec) Name() string { return "msgpack" }

// Ext returns ".msgpack".
func (*Codec) Ext() string { return ".msgpack" }

// NumberedExt returns "": the Rust crate names its MessagePack snapshots
// snapshot_<seq, 20 digits>, without an extension.
func (*Codec) NumberedExt() string { return "" }

// Encode writes v as one MessagePack value: structs as maps keyed by the
// `msgpack` tag, else the `json` tag, else the field name.
func (*Codec) Encode(w io.Writer, v any) error {
	enc := msgpack.NewEncoder(w)
	enc.SetCustomStructTag("json")
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	return enc.Encode(v)
}

// Decode reads one MessagePack value from r into v, a non-nil pointer;
// a struct may come as a map (by field name) or as an array (by position,
// as rmp-serde writes it).
func (*Codec) Decode(r io.Reader, v any) error {
	dec := msgpack.NewDecoder(r)
	dec.SetCustomStructTag("json")
	return dec.Decode(v)
}

// ErrEnvelope is the error in a *minisnap.CorruptError for a numbered
// snapshot that parses as MessagePack but is not the crate's envelope.
var ErrEnvelope = errors.New("msgpacksnap: not a snapshot envelope [seq, state]")

// SplitNumbered parses b, the whole content of a snapshot_<seq> file of the
// Rust crate: one MessagePack value, the array [seq, state] (or the map
// {"seq": seq, "state": state}), and nothing after it. It returns the
// sequence number and the bytes of the state, a whole MessagePack value.
// Otherwise it returns an error and the offset in b where b stops making
// sense.
func (*Codec) SplitNumbered(b []byte) (seq uint64, state []byte, off int64, err error) {
	r := bytes.NewReader(b)
	dec := msgpack.NewDecoder(r) // a bytes.Reader is read directly, not buffered
	pos := func() int64 { return int64(len(b) - r.Len()) }
	code, err := dec.PeekCode()
	if err != nil {
		return 0, nil, pos(), unexpectedEOF(err)
	}
	var haveSeq, haveState bool
	value := func(field string) error {
		switch field {
		case "seq":
			if haveSeq {
				return fmt.Errorf("%w: two seq", ErrEnvelope)
			}
			haveSeq = true
			if c, err := dec.PeekCode(); err != nil {
				return err
			} else if !isUint(c) {
				return fmt.Errorf("%w: seq is not an unsigned integer (code %#02x)", ErrEnvelope, c)
			}
			seq, err = dec.DecodeUint64()
			return err
		case "state":
			if haveState {
				return fmt.Errorf("%w: two state", ErrEnvelope)
			}
			haveState = true
			start := pos()
			if err := dec.Skip(); err != nil {
				return err
			}
			state = b[start:pos()]
			return nil
		}
		return dec.Skip() // another field of a named envelope: ignored, as serde does
	}
	switch {
	case msgpcode.IsFixedArray(code) || code == msgpcode.Array16 || code == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return 0, nil, pos(), unexpectedEOF(err)
		}
		if n != 2 {
			return 0, nil, 0, fmt.Errorf("%w: an array of %d elements", ErrEnvelope, n)
		}
		for _, field := range []string{"seq", "state"} {
			at := pos()
			if err := value(field); err != nil {
				return 0, nil, where(err, at, pos()), unexpectedEOF(err)
			}
		}
	case msgpcode.IsFixedMap(code) || code == msgpcode.Map16 || code == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return 0, nil, pos(), unexpectedEOF(err)
		}
		for range n {
			at := pos()
			if c, err := dec.PeekCode(); err != nil {
				return 0, nil, at, unexpectedEOF(err)
			} else if !msgpcode.IsString(c) {
				return 0, nil, at, fmt.Errorf("%w: a map key that is not a string (code %#02x)", ErrEnvelope, c)
			}
			key, err := dec.DecodeString()
			if err != nil {
				return 0, nil, at, unexpectedEOF(err)
			}
			at = pos()
			if err := value(key); err != nil {
				return 0, nil, where(err, at, pos()), unexpectedEOF(err)
			}
		}
		if !haveSeq || !haveState {
			return 0, nil, pos(), fmt.Errorf("%w: a map without seq and state", ErrEnvelope)
		}
	default:
		return 0, nil, 0, fmt.Errorf("%w: starts with code %#02x", ErrEnvelope, code)
	}
	if r.Len() > 0 {
		return 0, nil, pos(), fmt.Errorf("%w: %d bytes after the envelope", ErrEnvelope, r.Len())
	}
	return seq, state, 0, nil
}

// isUint reports whether c starts a MessagePack integer that can hold a
// sequence number: a positive fixint or uint8..uint64 (rmp-serde writes a
// u64 as the smallest of these).
func isUint(c byte) bool {
	return msgpcode.IsFixedNum(c) && c <= msgpcode.PosFixedNumHigh ||
		c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32 || c == msgpcode.Uint64
}

// where is the offset to report for err, met reading the value at start
// with the reader at now: the value's start if it is not the envelope's
// field, else where reading stopped (the end of b, if b is cut short).
func where(err error, start, now int64) int64 {
	if errors.Is(err, ErrEnvelope) {
		return start
	}
	return now
}

// unexpectedEOF turns the io.EOF of a value cut short into
// io.ErrUnexpectedEOF: the file ended inside the envelope.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
