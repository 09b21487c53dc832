// SPDX-License-Identifier: MIT OR Apache-2.0

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
	dec.SetMapDecoder(decodeAnyMap)
	return dec.Decode(v)
}

// decodeAnyMap decodes a map into an any: a map[string]any when every key
// is a string, else a map[any]any (a Rust HashMap<u32, _>, say), where the
// library's default would fail on the first key that is not a string.
func decodeAnyMap(d *msgpack.Decoder) (any, error) {
	m, err := d.DecodeUntypedMap()
	if err != nil || m == nil {
		return m, err
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		ks, ok := k.(string)
		if !ok {
			return m, nil
		}
		out[ks] = v
	}
	return out, nil
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
