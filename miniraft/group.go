// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/mini-go/mini/internal/jsonline"
)

// A group log holds the calls of several concurrent Applies on the leader
// (see grouper): raft replicates, stores and commits it as one log, and
// every node applies its calls in order, each with its own request ID and
// its own result, exactly as if each were a log of its own at the same
// index. Its Extensions say how many calls it holds, and their request
// IDs if any has one:
//
//	{"group":3}
//	{"group":3,"rids":["a1","","c9"]}
//
// and its Data is a JSON array of the calls' records, each the Data a log
// of its own would hold (one mutation, or a JSON array for ApplyBatch):
//
//	[{"Inc":{"by":1}},[{"Inc":{"by":2}},{"Dec":{"by":1}}],{"Inc":{"by":5}}]
//
// A log with a single call keeps the plain form (Data the record,
// Extensions {"rid":...} or nothing), so that one client alone writes
// logs that every version of this package reads.

// maxGroupCalls bounds the calls of a group log: a log that says it holds
// more is refused.
const maxGroupCalls = 1 << 16

// logExt is the Extensions of a log: a request ID, or a group.
type logExt struct {
	RID   string   `json:"rid,omitempty"`
	Group int      `json:"group,omitempty"`
	RIDs  []string `json:"rids,omitempty"`
}

// encodeGroupExt returns the Extensions of a group of the calls with the
// request IDs rids ("" for none).
func encodeGroupExt(rids []string) []byte {
	b := append([]byte(`{"group":`), strconv.Itoa(len(rids))...)
	for _, r := range rids {
		if r != "" {
			js, _ := json.Marshal(rids) // strings always encode
			b = append(append(b, `,"rids":`...), js...)
			break
		}
	}
	return append(b, '}')
}

// appendGroupData appends the Data of a group of the records recs.
func appendGroupData(b []byte, recs [][]byte) []byte {
	b = append(b, '[')
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, ']')
}

// errGroup is wrapped by the error of a group log that does not decode.
var errGroup = errors.New("group log does not decode")

// parseExt decodes a log's Extensions. A group's holds n > 0 calls, and
// rids, if not nil, has n entries.
func parseExt(ext []byte) (rid string, n int, rids []string, err error) {
	if len(ext) == 0 {
		return "", 0, nil, nil
	}
	var e logExt
	if json.Unmarshal(ext, &e) != nil {
		return "", 0, nil, nil // not ours: a log without a request ID
	}
	switch {
	case e.Group == 0 && e.RIDs == nil:
		return e.RID, 0, nil, nil
	case e.Group <= 0 || e.Group > maxGroupCalls || e.RID != "" || (e.RIDs != nil && len(e.RIDs) != e.Group):
		return "", 0, nil, fmt.Errorf("%w: extensions %.100q", errGroup, ext)
	}
	return "", e.Group, e.RIDs, nil
}

// splitJSONArray returns the elements of the JSON array p. It finds
// their bounds only (strings, escapes and nesting); each element is
// validated when it is decoded.
func splitJSONArray(p []byte) ([][]byte, error) {
	i := jsonline.SkipSpace(p, 0)
	if i == len(p) || p[i] != '[' {
		return nil, errors.New("not a JSON array")
	}
	var out [][]byte
	i++
	for {
		i = jsonline.SkipSpace(p, i)
		start := i
		depth, str := 0, jsonString{}
	scan:
		for ; i < len(p); i++ {
			c := p[i]
			switch {
			case str.step(c):
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				if depth > 0 {
					depth--
				} else if c == ']' {
					break scan
				} else {
					return nil, fmt.Errorf("unexpected '}' at offset %d", i)
				}
			case c == ',' && depth == 0:
				break scan
			}
		}
		if i == len(p) {
			return nil, errors.New("unterminated array")
		}
		elem := jsonline.TrimSpace(p[start:i])
		switch {
		case len(elem) == 0 && p[i] == ']' && len(out) == 0:
			// []
		case len(elem) == 0:
			return nil, fmt.Errorf("empty element %d", len(out))
		default:
			out = append(out, elem)
		}
		if p[i] == ']' {
			if jsonline.SkipSpace(p, i+1) != len(p) {
				return nil, errors.New("data after the array")
			}
			return out, nil
		}
		i++ // the comma
	}
}

// splitGroup returns the n records of a group log's data.
func splitGroup(p []byte, n int) ([][]byte, error) {
	recs, err := splitJSONArray(p)
	if err == nil && len(recs) != n {
		err = fmt.Errorf("%d records for %d calls", len(recs), n)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errGroup, err)
	}
	return recs, nil
}
