// SPDX-License-Identifier: MIT OR Apache-2.0

package jsonline

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestReplacedUTF8(t *testing.T) {
	tests := []struct {
		json string
		want bool
	}{
		{`"plain"`, false},
		{`"\ufffd"`, true},
		{`{"k":"a\ufffdb"}`, true},
		{`"\\ufffd"`, false},               // an escaped backslash, then text
		{`"\\\ufffd"`, true},               // an escaped backslash, then the escape
		{`"\\\\ufffd"`, false},             // two escaped backslashes, then text
		{`"\\u \ufffd"`, true},             // the escape after an unrelated one
		{`"\\ufffd\ufffd"`, true},          // text, then the escape
		{"\"\ufffd\"", false},              // the rune itself
		{`"\uFFFD"`, false},                // Marshal never writes upper case
		{"\"\xff\"", true},                 // a byte that is not UTF-8, as a MarshalJSON method may return it
		{"{\"k\":\"\xed\xa0\x80\"}", true}, // a surrogate half encoded: not UTF-8
		{"[\"\xc3\"]", true},               // a sequence cut short
		{"\"\u2028\u00e9\"", false},        // valid multi-byte runes
	}
	for _, tt := range tests {
		if got := ReplacedUTF8([]byte(tt.json)); got != tt.want {
			t.Errorf("ReplacedUTF8(%s) = %v, want %v", tt.json, got, tt.want)
		}
	}
}

// What Marshal writes for a string holds the escape exactly when the
// string is not valid UTF-8.
func FuzzReplacedUTF8(f *testing.F) {
	f.Add("ok")
	f.Add("\xff")
	f.Add(`\ufffd`)
	f.Add("\\\xff\ufffd")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.Marshal(map[string]string{s: s})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ReplacedUTF8(b), !utf8.ValidString(s); got != want {
			t.Fatalf("ReplacedUTF8(%s) = %v for a string with valid UTF-8 %v", b, got, !want)
		}
	})
}

// BenchmarkReplacedUTF8 is the check Append adds to json.Marshal, on a
// ~100-byte record.
func BenchmarkReplacedUTF8(b *testing.B) {
	p := []byte(`{"op":"put","key":"user/000000000042","value":"the quick brown fox jumps over the lazy dog","n":42}`)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if ReplacedUTF8(p) {
			b.Fatal("found")
		}
	}
}

func TestTrimSpace(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{" \t\r\n", ""},
		{` {"a": 1} ` + "\n", `{"a": 1}`},
		{"\u00a0[1]\v", "\u00a0[1]\v"}, // only JSON's four whitespace bytes
	} {
		if got := TrimSpace([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("TrimSpace(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if i := SkipSpace([]byte("[ \n1]"), 1); i != 3 {
		t.Errorf("SkipSpace = %d, want 3", i)
	}
}
