// Package jsonline holds the record type that mini's own packages append to
// a ministore journal when they build the record's JSON themselves.
package jsonline

// Trusted is one JSON value on one line that its producer built to be
// valid JSON without a newline. ministore writes it as it is: where a
// json.RawMessage from a caller is checked with json.Valid before it is
// appended, a Trusted record, whose producer already guarantees both, is
// not checked again. Reading a journal gives the same bytes as a
// json.RawMessage would.
type Trusted []byte
