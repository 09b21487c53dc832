// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
)

// indented is a record whose MarshalJSON returns JSON over several lines.
type indented struct{ A string }

func (r indented) MarshalJSON() ([]byte, error) {
	return json.MarshalIndent(struct{ A string }{r.A}, "", "\n\t")
}

// newlineCodec is a Codec whose Marshal returns JSON over several lines.
type newlineCodec struct{ JSONCodec }

func (newlineCodec) Marshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", " ") }

// A record is one line whatever its encoder writes: encoding/json (the
// default codec, whose output is not scanned for newlines) never writes a
// newline byte, not even for a MarshalJSON that returns several lines or a
// string of newlines; another codec's newline is refused.
func TestEncodedRecordIsOneLine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec Codec
		rec   indented
		want  error // nil: stored, and read back equal
	}{
		{"encoding/json, MarshalJSON over lines", nil, indented{"a\nb"}, nil},
		{"encoding/json, newlines in a string", nil, indented{"\n\n\r\n"}, nil},
		{"another codec over lines", newlineCodec{}, indented{"a"}, errNewline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			s := openT[indented](t, path, quietOptions(Options{Codec: tc.codec}, nil))
			seq, err := s.Append(tc.rec)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Append = %d, %v; want %v", seq, err, tc.want)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				return
			}
			n := 0
			for r, err := range Records[indented](path, 1) {
				if err != nil || r.Value != tc.rec {
					t.Fatalf("read %+v, %v; want %+v", r.Value, err, tc.rec)
				}
				n++
			}
			if n != 1 {
				t.Fatalf("read %d records, want 1", n)
			}
		})
	}
}
