// SPDX-License-Identifier: MIT OR Apache-2.0

// Package jsonline holds the record type that mini's own packages append to
// a ministore journal when they build the record's JSON themselves.
package jsonline

import (
	"bytes"
	"unicode/utf8"
)

// Trusted is one JSON value on one line that its producer built to be
// valid JSON without a newline. ministore writes it as it is: where a
// json.RawMessage from a caller is checked with json.Valid before it is
// appended, a Trusted record, whose producer already guarantees both, is
// not checked again. Reading a journal gives the same bytes as a
// json.RawMessage would.
type Trusted []byte

// Borrowed is Trusted for a reader that does not keep what it reads:
// ministore writes it as it is, as a Trusted, and its readers (Store.All,
// Records) yield each record's bytes as they were read, without a copy,
// valid only until the iteration moves on. ministate's recovery, which
// copies each record into its decoding pipeline anyway, reads its
// journal so. Get returns a copy of its own, as for any type.
type Borrowed []byte

// escapedRuneError is how encoding/json's Marshal writes each byte of
// invalid UTF-8 in a string. A genuine U+FFFD it writes as the rune itself.
var escapedRuneError = []byte(`\ufffd`)

// ReplacedUTF8 reports whether p, JSON written by encoding/json's Marshal,
// holds a string that does not decode to the value that was marshaled:
// the escape \ufffd, which Marshal writes for invalid UTF-8 in a string,
// or bytes that are not UTF-8 at all, which Marshal copies as they are
// from the JSON a MarshalJSON method returns or a json.RawMessage holds
// (and which decode as U+FFFD, or not at all in a reader that wants
// UTF-8 lines, as the Rust crates do). In a run of backslashes the pairs
// are escaped backslashes; an odd run ends with one that starts an escape
// (`\\ufffd` is a backslash and the text "ufffd"). JSON without a
// backslash costs one bytes.IndexByte and one utf8.Valid.
func ReplacedUTF8(p []byte) bool {
	if !utf8.Valid(p) {
		return true
	}
	for {
		i := bytes.IndexByte(p, '\\')
		if i < 0 {
			return false
		}
		j := i + 1
		for j < len(p) && p[j] == '\\' {
			j++
		}
		if (j-i)%2 == 1 && bytes.HasPrefix(p[j-1:], escapedRuneError) {
			return true
		}
		p = p[j:]
	}
}

// IsSpace reports whether c is JSON whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte of d at or after i that is
// not JSON whitespace (len(d) if none).
func SkipSpace(d []byte, i int) int {
	for i < len(d) && IsSpace(d[i]) {
		i++
	}
	return i
}

// TrimSpace returns d without the JSON whitespace around it.
func TrimSpace(d []byte) []byte {
	i, j := 0, len(d)
	for i < j && IsSpace(d[i]) {
		i++
	}
	for j > i && IsSpace(d[j-1]) {
		j--
	}
	return d[i:j]
}
