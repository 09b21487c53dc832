// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/jsonline"
)

// A log is stored as one ministore record, a compact JSON object:
//
//	{"index":7,"term":2,"type":0,"json":{"Inc":{"by":1}},"at":1767323045123456789}
//	{"index":8,"term":2,"type":2,"data":"AQIDBA==","ext":"eA=="}
//	null
//
// index and term are raft's; type is the raft.LogType number; data is the
// log's Data in base64, or json holds it verbatim when it is compact JSON
// that encoding/json leaves unchanged (so the mutations of a Manager are
// readable in the journal); ext is Extensions in base64; at is AppendedAt
// in Unix nanoseconds. Empty fields are left out. null is a hole: an index
// with no log, which journals written before the front bound can hold.

// holeRecord is the record of an index without a log (read, never written).
var holeRecord = jsonline.Trusted("null")

// logRecord is the decoded form of a log record.
type logRecord struct {
	Index uint64          `json:"index"`
	Term  uint64          `json:"term"`
	Type  raft.LogType    `json:"type"`
	Data  []byte          `json:"data"`
	JSON  json.RawMessage `json:"json"`
	Ext   []byte          `json:"ext"`
	At    int64           `json:"at"`
}

// appendLog appends the record of l to b.
func appendLog(b []byte, l *raft.Log) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, l.Index, 10)
	b = append(b, `,"term":`...)
	b = strconv.AppendUint(b, l.Term, 10)
	b = append(b, `,"type":`...)
	b = strconv.AppendUint(b, uint64(l.Type), 10)
	if len(l.Data) > 0 {
		if embeddable(l.Data) {
			b = append(b, `,"json":`...)
			b = append(b, l.Data...)
		} else {
			b = append(b, `,"data":"`...)
			b = base64.StdEncoding.AppendEncode(b, l.Data)
			b = append(b, '"')
		}
	}
	if len(l.Extensions) > 0 {
		b = append(b, `,"ext":"`...)
		b = base64.StdEncoding.AppendEncode(b, l.Extensions)
		b = append(b, '"')
	}
	if !l.AppendedAt.IsZero() {
		b = append(b, `,"at":`...)
		b = strconv.AppendInt(b, l.AppendedAt.UnixNano(), 10)
	}
	return append(b, '}')
}

// decodeLog parses the record of sequence number seq into out. It reports
// false for a hole.
func decodeLog(seq uint64, p []byte, out *raft.Log) (bool, error) {
	if string(p) == string(holeRecord) {
		return false, nil
	}
	var r logRecord
	if err := json.Unmarshal(p, &r); err != nil {
		return false, fmt.Errorf("%w: log record %d: %w", ErrCorrupt, seq, err)
	}
	if r.Index != seq {
		return false, fmt.Errorf("%w: log record %d holds index %d", ErrCorrupt, seq, r.Index)
	}
	*out = raft.Log{Index: r.Index, Term: r.Term, Type: r.Type, Data: r.Data, Extensions: r.Ext}
	if r.JSON != nil {
		out.Data = r.JSON
	}
	if r.At != 0 {
		out.AppendedAt = time.Unix(0, r.At)
	}
	return true, nil
}

// jsonString follows a JSON text byte by byte: whether the byte is in a
// string, and whether it follows a backslash there.
type jsonString struct{ in, escaped bool }

// step takes the next byte c and reports whether it belongs to a string,
// its quotes included.
func (s *jsonString) step(c byte) bool {
	switch {
	case s.escaped:
		s.escaped = false
	case s.in:
		s.escaped = c == '\\'
		s.in = c != '"'
	case c == '"':
		s.in = true
	default:
		return false
	}
	return true
}

// embeddable reports whether data can be stored verbatim as the "json"
// field: valid JSON, valid UTF-8, and unchanged by encoding/json's
// compaction and HTML escaping (which ministore applies to every record):
// no whitespace outside strings, no '<', '>' or '&', no U+2028 or U+2029.
func embeddable(data []byte) bool {
	// Most binary data (protobuf, msgpack, gob) fails these quick checks
	// before it costs a full validation.
	if !jsonStart[data[0]] || !jsonEnd[data[len(data)-1]] || !utf8.Valid(data) {
		return false
	}
	var str jsonString
	for i, c := range data {
		switch {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9):
			return false
		case str.step(c):
		case jsonline.IsSpace(c):
			return false
		}
	}
	return json.Valid(data)
}

// jsonStart and jsonEnd are the bytes a JSON value can start and end with.
var jsonStart, jsonEnd = jsonBytes("{[\"-0123456789tfn"), jsonBytes("}]\"0123456789el")

func jsonBytes(chars string) (set [256]bool) {
	for i := range len(chars) {
		set[chars[i]] = true
	}
	return set
}
