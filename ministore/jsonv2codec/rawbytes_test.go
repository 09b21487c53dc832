// SPDX-License-Identifier: MIT OR Apache-2.0

package jsonv2codec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

// selfMarshaled returns its JSON as it is: a type's MarshalJSON output
// goes through each codec's compaction, not its string encoder.
type selfMarshaled string

func (s selfMarshaled) MarshalJSON() ([]byte, error) { return []byte(s), nil }

func (s *selfMarshaled) UnmarshalJSON(b []byte) error {
	*s = selfMarshaled(b)
	return nil
}

type rawRec struct {
	Raw  json.RawMessage   `json:"raw"`
	Self selfMarshaled     `json:"self"`
	Keys map[string]string `json:"keys"`
}

// TestRawAndKeysSameBytes extends TestSameBytes to the JSON a record
// carries ready-made (json.RawMessage, a MarshalJSON result) and to map
// keys, holding <, >, &, U+2028 and U+2029 raw and escaped: the default
// codec, ministore.JSONCodec and jsonv2codec write the same JSON values
// (the same bytes but for raw U+2028/U+2029 in ready-made JSON), each
// reads what the others wrote, and ready-made JSON that is not valid
// UTF-8 is refused by each alike with ErrInvalidUTF8 (encoding/json
// copies it as it is: it would read back as U+FFFD, and a reader that
// wants UTF-8 lines, as the Rust crates, could not read the journal).
func TestRawAndKeysSameBytes(t *testing.T) {
	all := []struct {
		name  string
		codec ministore.Codec
	}{{"default", nil}, {"JSONCodec", ministore.JSONCodec{}}, {"jsonv2", jsonv2codec.New()}}
	recs := []rawRec{
		{Raw: json.RawMessage(`{"a":"<b>&\u2028` + "\u2028\u2029" + `"}`), Self: `"<&>` + "\u2028" + `\u2029"`, Keys: map[string]string{"<k&>\u2028": "v"}},
		{Raw: json.RawMessage(`[1, "\u003c" , {"x" : null}]`), Self: `{ "y" : [ ] }`, Keys: map[string]string{}},
	}
	var files [][]byte
	var paths []string
	for _, c := range all {
		path := filepath.Join(t.TempDir(), "j.log")
		s, err := ministore.Open[rawRec](path, &ministore.Options{Codec: c.codec})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AppendBatch(recs...); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, bad := range []rawRec{{Raw: json.RawMessage("\"a\xffb\""), Self: "null"}, {Self: "\"\xed\xa0\x80\""}} {
			if _, err := s.Append(bad); !errors.Is(err, ministore.ErrInvalidUTF8) {
				t.Errorf("%s: Append(%q) = %v, want ErrInvalidUTF8", c.name, bad, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files, paths = append(files, b), append(paths, path)
	}
	// The lines agree byte for byte, but for U+2028 and U+2029 written
	// raw in ready-made JSON: encoding/json without HTML escaping copies
	// them as they are (json.Marshal, which escapes HTML, wrote \u2028),
	// json/v2 with v1's options escapes them. Both are the same JSON
	// value, and each codec reads the other's (below).
	generic := func(b []byte) []any {
		var vs []any
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n"))[1:] {
			var v struct {
				Rec any `json:"rec"`
			}
			if err := json.Unmarshal(line, &v); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			vs = append(vs, v.Rec)
		}
		return vs
	}
	for i := 1; i < len(files); i++ {
		a, b := bytes.Split(files[0], []byte("\n")), bytes.Split(files[i], []byte("\n"))
		if !bytes.Equal(a[2], b[2]) || all[i].name == "JSONCodec" && !bytes.Equal(files[0], files[i]) {
			t.Errorf("%s wrote\n%s\n%s wrote\n%s", all[0].name, files[0], all[i].name, files[i])
		}
		if !reflect.DeepEqual(generic(files[0]), generic(files[i])) {
			t.Errorf("%s and %s wrote different values:\n%s\n%s", all[0].name, all[i].name, files[0], files[i])
		}
	}
	for i, path := range paths {
		var want []rawRec
		for r, err := range ministore.RecordsWith[rawRec](path, 1, &ministore.Options{Codec: all[i].codec}) {
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, r.Value)
		}
		for _, c := range all {
			var got []rawRec
			for r, err := range ministore.RecordsWith[rawRec](path, 1, &ministore.Options{Codec: c.codec}) {
				if err != nil {
					t.Fatalf("%s reading %s's journal: %v", c.name, all[i].name, err)
				}
				got = append(got, r.Value)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s read %s's journal as\n%q\nits writer reads\n%q", c.name, all[i].name, got, want)
			}
		}
	}
}
