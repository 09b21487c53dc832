// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestEmbeddable(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{
		{`{"Inc":{"by":1}}`, true},
		{`[1,2,3]`, true},
		{`"text"`, true},
		{`-12.5e3`, true},
		{`true`, true},
		{`null`, true},
		{`data`, false},               // not JSON: the quick check rejects it
		{`{"a":1} `, false},           // trailing space
		{`{"a": 1}`, false},           // space outside a string
		{`{"a":"x y"}`, true},         // space inside a string
		{`{"a":"<b>"}`, false},        // encoding/json would escape it
		{`{"a":"\u2028"}`, true},      // escaped, so unchanged
		{"{\"a\":\"\u2028\"}", false}, // raw U+2028
		{"{\"a\":\"\xff\"}", false},   // not UTF-8
		{`{"a":1`, false},             // starts and ends like JSON, is not
		{"\x08\x96\x01", false},       // protobuf
		{"\x82\xa1a\x01", false},      // msgpack
	} {
		if got := embeddable([]byte(tc.data)); got != tc.want {
			t.Errorf("embeddable(%q) = %v, want %v", tc.data, got, tc.want)
		}
	}
}

func TestDecodeLogErrors(t *testing.T) {
	for _, tc := range []struct {
		name, rec string
	}{
		{"not JSON", `{"index":1`},
		{"wrong index", `{"index":2,"term":1,"type":0}`},
		{"bad base64", `{"index":1,"term":1,"type":0,"data":"!!"}`},
		{"wrong type", `{"index":1,"term":"x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out raft.Log
			if _, err := decodeLog(1, []byte(tc.rec), &out); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeLog(%s) = %v, want ErrCorrupt", tc.rec, err)
			}
		})
	}
}

// FuzzLogCodec checks that every log survives its record unchanged, that
// the record is one line of valid JSON, and that decodeLog never panics on
// arbitrary bytes.
func FuzzLogCodec(f *testing.F) {
	f.Add(uint64(1), uint64(1), uint8(0), []byte(`{"Inc":{"by":1}}`), []byte(nil), int64(0))
	f.Add(uint64(7), uint64(2), uint8(2), []byte{1, 2, 3, 4}, []byte("x"), int64(1767323045123456789))
	f.Add(uint64(1<<63), uint64(0), uint8(5), []byte("data"), []byte{}, int64(-1))
	f.Add(uint64(3), uint64(9), uint8(1), []byte("{\"a\":\"\n\"}"), []byte(nil), int64(5))
	f.Add(uint64(4), uint64(1), uint8(0), []byte("null"), []byte(nil), int64(0))
	f.Fuzz(func(t *testing.T, index, term uint64, typ uint8, data, ext []byte, at int64) {
		if index == 0 {
			index = 1
		}
		in := raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data, Extensions: ext}
		if at != 0 {
			in.AppendedAt = time.Unix(0, at)
		}
		rec := appendLog(nil, &in)
		if !json.Valid(rec) || bytes.IndexByte(rec, '\n') >= 0 {
			t.Fatalf("record of %+v is not one line of JSON: %s", in, rec)
		}
		var out raft.Log
		ok, err := decodeLog(index, rec, &out)
		if err != nil || !ok {
			t.Fatalf("decodeLog(%s) = %v, %v", rec, ok, err)
		}
		if out.Index != in.Index || out.Term != in.Term || out.Type != in.Type ||
			!bytes.Equal(out.Data, in.Data) || !bytes.Equal(out.Extensions, in.Extensions) ||
			!out.AppendedAt.Equal(in.AppendedAt) {
			t.Fatalf("round trip of %+v gave %+v (record %s)", in, out, rec)
		}
		// The same bytes as a record of their own: an error or a log, never a panic.
		decodeLog(index, data, &out)
	})
}
