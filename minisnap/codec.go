// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"bufio"
	"encoding/json"
	"io"
)

// A Codec turns a state into bytes and back. Implementations must be safe
// for concurrent use; the ones in this module are stateless.
//
// The subpackages cborcodec (compact binary, github.com/fxamacker/cbor),
// msgpacksnap (MessagePack, github.com/vmihailenco/msgpack, reading the Rust
// crate's MessagePack snapshots too) and zstdcodec (compression around any
// Codec, github.com/klauspost/compress) provide more; the core package
// depends on the standard library only.
type Codec interface {
	// Name identifies the encoding in a snapshot's metadata, e.g. "json".
	// Restore refuses a snapshot whose codec name differs from its own
	// (except "json", which is always understood). Printable ASCII, no
	// spaces.
	Name() string
	// Ext is the state file's extension, including the dot: the state is
	// stored as "snapshot"+Ext, e.g. "snapshot.json".
	Ext() string
	// Encode writes v to w.
	Encode(w io.Writer, v any) error
	// Decode reads a value written by Encode from r and stores it in v,
	// a non-nil pointer. It need not read r to its end.
	Decode(r io.Reader, v any) error
}

// A NumberedCodec is a Codec that also reads the snapshots the current
// Rust crate minisnap writes with its own codec in the same encoding: one
// file per snapshot, DIR/snapshot_<seq, 20 digits> + NumberedExt(), holding
// the crate's envelope of the sequence number and the state. With one in
// Options.Codec, a Store lists and restores these files as it does the
// crate's JSON ones (which it reads with any codec). The subpackage
// msgpacksnap is one, for the crate's MessagePack codec (rmp-serde).
type NumberedCodec interface {
	Codec
	// NumberedExt is the extension the crate gives these files, including
	// the dot, or "" for none (the crate's MessagePack codec has none). It
	// must not be ".json".
	NumberedExt() string
	// SplitNumbered returns the sequence number and the encoded state (for
	// Decode) that b, a numbered snapshot's whole content, holds. If b is
	// not such an envelope it returns an error and the offset in b where b
	// stops making sense; the Store reports them as a *CorruptError.
	SplitNumbered(b []byte) (seq uint64, state []byte, off int64, err error)
}

// JSONCodec encodes states with encoding/json. It is the default codec.
//
// The zero value writes the same form as the Rust crate: pretty JSON with a
// two-space indent and no trailing newline, readable with cat and jq.
type JSONCodec struct {
	// Compact drops the indentation: smaller files, faster to write, and
	// still readable by jq. Decoding is the same either way.
	Compact bool
}

// Name returns "json".
func (JSONCodec) Name() string { return "json" }

// Ext returns ".json".
func (JSONCodec) Ext() string { return ".json" }

// Encode writes v as JSON. encoding/json marshals a whole value before
// writing it, so the encoded bytes are held in memory once.
func (c JSONCodec) Encode(w io.Writer, v any) error {
	var (
		b   []byte
		err error
	)
	if c.Compact {
		b, err = json.Marshal(v)
	} else {
		b, err = json.MarshalIndent(v, "", "  ")
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Decode reads one JSON value from r into v.
func (JSONCodec) Decode(r io.Reader, v any) error {
	// The Store hands over its snapshots through a bufio.Reader one byte
	// larger than the state, up to 1 MiB: such a state is decoded where it
	// lies in the buffer, whole and verified, instead of through a
	// json.Decoder, which copies it into a buffer of its own grown in
	// steps (garbage twice the state's size, for every Open). Whatever
	// json.Unmarshal refuses (data after the value, say) is decoded again
	// by the json.Decoder, which says what is wrong or reads the value
	// before it, as always.
	if br, ok := r.(*bufio.Reader); ok {
		if b, err := br.Peek(br.Size()); err == io.EOF && json.Unmarshal(b, v) == nil {
			_, err := br.Discard(len(b))
			return err
		}
	}
	return json.NewDecoder(r).Decode(v)
}
