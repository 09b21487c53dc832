// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/internal/jsonline"
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

// TestHTMLCharactersBothWays: Append writes <, > and & as themselves (not
// as \u003c, \u003e and \u0026, as json.Marshal does), with the default
// codec and with JSONCodec; the records read back the same, and so do
// records that an older version wrote escaped.
func TestHTMLCharactersBothWays(t *testing.T) {
	want := kv{K: `<a href="x">&amp;</a> \u003c`, V: 1}
	escaped, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		write func(path string) error
		bytes string // in the file
	}{
		{"default codec", func(path string) error { return appendOne(path, want, nil) }, `"k":"<a href=\"x\">&amp;</a> \\u003c"`},
		{"JSONCodec", func(path string) error { return appendOne(path, want, &Options{Codec: JSONCodec{}}) }, `"k":"<a href=\"x\">&amp;</a> \\u003c"`},
		{"escaped, as older versions wrote", func(path string) error {
			return appendOne(path, jsonline.Trusted(escaped), nil)
		}, `"k":"\u003ca href=\"x\"\u003e\u0026amp;\u003c/a\u003e \\u003c"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			if err := tc.write(path); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tc.bytes) {
				t.Fatalf("the journal holds\n%s\nwant %s in it", b, tc.bytes)
			}
			for _, c := range []Codec{nil, JSONCodec{}} {
				var got []kv
				for r, err := range RecordsWith[kv](path, 1, &Options{Codec: c}) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, r.Value)
				}
				if len(got) != 1 || got[0] != want {
					t.Fatalf("read %+v (codec %T), want %+v", got, c, want)
				}
			}
		})
	}
}

func appendOne[R any](path string, rec R, o *Options) error {
	s, err := Open[R](path, o)
	if err != nil {
		return err
	}
	if _, err := s.Append(rec); err != nil {
		s.Close()
		return err
	}
	return s.Close()
}
