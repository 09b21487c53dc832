// Package jsonline holds the record type that mini's own packages append to
// a ministore journal when they build the record's JSON themselves.
package jsonline

import "bytes"

// Trusted is one JSON value on one line that its producer built to be
// valid JSON without a newline. ministore writes it as it is: where a
// json.RawMessage from a caller is checked with json.Valid before it is
// appended, a Trusted record, whose producer already guarantees both, is
// not checked again. Reading a journal gives the same bytes as a
// json.RawMessage would.
type Trusted []byte

// escapedRuneError is how encoding/json's Marshal writes each byte of
// invalid UTF-8 in a string. A genuine U+FFFD it writes as the rune itself.
var escapedRuneError = []byte(`\ufffd`)

// ReplacedUTF8 reports whether p, JSON written by encoding/json's Marshal,
// holds the escape \ufffd: Marshal writes it for invalid UTF-8 in a string,
// so p does not decode to the value that was marshaled. An escape is one
// when an even number of backslashes stands before it (`\\ufffd` is an
// escaped backslash and the text "ufffd"). The cost is one bytes.Index
// over p for JSON without the escape.
func ReplacedUTF8(p []byte) bool {
	for {
		i := bytes.Index(p, escapedRuneError)
		if i < 0 {
			return false
		}
		n := 0
		for j := i - 1; j >= 0 && p[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return true
		}
		p = p[i+len(escapedRuneError):]
	}
}
