// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/mini-go/mini/internal/jsonline"
)

// An encBuf is a reusable buffer that Append encodes records into with
// encoding/json, so that a record's JSON is not copied again after it is
// encoded: the journal's write takes it from here.
type encBuf struct {
	b   bytes.Buffer
	enc *json.Encoder // writes into b
	// spans are where the payloads encoded into b lie, for settle.
	spans []span
}

type span struct{ i, from, to int }

var encBufs = sync.Pool{New: func() any {
	e := new(encBuf)
	e.enc = json.NewEncoder(&e.b)
	// <, > and & are written as themselves, not as \u003c, \u003e and
	// \u0026: the same JSON to any reader (older versions of mini, the
	// Rust crate, which writes them so too), and about a fifth less CPU
	// to encode a string (BenchmarkEncodeBig).
	e.enc.SetEscapeHTML(false)
	return e
}}

// maxPooledBuf is the largest buffer put back into the pool: one that a
// bigger record made grow is left to the garbage collector, so that a
// burst of big records does not keep their memory.
const maxPooledBuf = 4 << 20

func getEncBuf() *encBuf { return encBufs.Get().(*encBuf) }

// putEncBuf puts e back into the pool, once nothing refers to what it holds.
func putEncBuf(e *encBuf) {
	if e.b.Cap() > maxPooledBuf {
		return
	}
	e.b.Reset()
	e.spans = e.spans[:0]
	encBufs.Put(e)
}

// settle points the payloads encoded into e at its final contents: a
// payload encoded before e grew points into the old array.
func (e *encBuf) settle(payloads [][]byte) {
	b := e.b.Bytes()
	for _, s := range e.spans {
		payloads[s.i] = b[s.from:s.to]
	}
}

// encode returns the JSON of rec, by codec (nil: encoding/json, into buf,
// as the payload numbered i there; see settle).
func encode[R any](codec Codec, rec R, buf *encBuf, i int) ([]byte, error) {
	switch raw := any(rec).(type) {
	case jsonline.Trusted:
		// Built by one of mini's own packages, valid by construction.
		return raw, nil
	case jsonline.Borrowed:
		return raw, nil
	}
	if raw, ok := any(rec).(json.RawMessage); ok {
		// Already JSON: check it instead of encoding it again.
		if raw == nil {
			return []byte("null"), nil
		}
		if !json.Valid(raw) {
			return nil, errors.New("ministore: encode record: json.RawMessage is not valid JSON")
		}
		if !utf8.Valid(raw) {
			// json.Valid takes any byte in a string.
			return nil, fmt.Errorf("%w in a string of the json.RawMessage: it would read back as U+FFFD", ErrInvalidUTF8)
		}
		if bytes.IndexByte(raw, '\n') >= 0 {
			return nil, errNewline
		}
		return raw, nil
	}
	var p []byte
	var err error
	if codec == nil {
		// json.Encoder writes what json.Marshal returns (but for the HTML
		// characters, unescaped), and a newline.
		from := buf.b.Len()
		if err = buf.enc.Encode(rec); err == nil {
			to := buf.b.Len() - 1
			p = buf.b.Bytes()[from:to]
			buf.spans = append(buf.spans, span{i, from, to})
		}
	} else {
		p, err = codec.Marshal(rec)
	}
	if errors.Is(err, ErrInvalidUTF8) || err == nil && jsonline.ReplacedUTF8(p) {
		return nil, fmt.Errorf("%w in a string of the record: it would be stored as U+FFFD", ErrInvalidUTF8)
	}
	if err != nil {
		return nil, fmt.Errorf("ministore: encode record: %w", err)
	}
	// encoding/json never writes a newline byte: it escapes the ones in
	// strings, and compacts what a MarshalJSON method returns (which
	// drops the newlines between tokens and refuses any in a string).
	// Another codec's output is checked: a record must be one line.
	if codec != nil && bytes.IndexByte(p, '\n') >= 0 {
		return nil, errNewline
	}
	return p, nil
}
