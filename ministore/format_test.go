// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"encoding/json"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestParseHex32(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"00000000", 0, true},
		{"ffffffff", 0xffffffff, true},
		{"0123abcd", 0x0123abcd, true},
		{"89efcd45", 0x89efcd45, true},
		{"0123ABCD", 0, false}, // the format writes lower case only
		{"0123abc", 0, false},
		{"0123abcde", 0, false},
		{"0123abcg", 0, false},
		{"0123abc\x00", 0, false},
		{"0123abc\xff", 0, false},
		{"0123abc/", 0, false}, // '0'-1
		{"0123abc:", 0, false}, // '9'+1
		{"0123abc`", 0, false}, // 'a'-1
		{"", 0, false},
	} {
		got, ok := parseHex32([]byte(tc.in))
		if got != tc.want && ok || ok != tc.ok {
			t.Errorf("parseHex32(%q) = %#x, %v; want %#x, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// Against strconv on random strings over the bytes that matter.
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := "0123456789abcdefABCDEFg/:`\x00\xff"
	for range 100_000 {
		var b [8]byte
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		s := string(b[:])
		want, err := strconv.ParseUint(s, 16, 32)
		wantOK := err == nil && s == strings.ToLower(s)
		got, ok := parseHex32(b[:])
		if ok != wantOK || ok && uint64(got) != want {
			t.Fatalf("parseHex32(%q) = %#x, %v; strconv gives %#x, %v", s, got, ok, want, wantOK)
		}
	}
}

// Raw records read by Records are copies carved from shared blocks: each
// must be its own, so that appending to one never changes the next.
func TestRecordsRawCopiesAreSeparate(t *testing.T) {
	path := t.TempDir() + "/j.log"
	s := openT[json.RawMessage](t, path, nil)
	for i := range 1000 {
		if _, err := s.Append(json.RawMessage(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	var recs []json.RawMessage
	for r, err := range Records[json.RawMessage](path, 1) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r.Value)
	}
	for i := range recs {
		recs[i] = append(recs[i], 'x')
	}
	for i, r := range recs {
		if want := strconv.Itoa(i) + "x"; string(r) != want {
			t.Fatalf("record %d = %q, want %q", i+1, r, want)
		}
	}
}

func TestCountNonZeroBytes(t *testing.T) {
	for _, size := range []int{0, 1, 4095, 4096, 4097, 3*4096 + 17} {
		b := make([]byte, size)
		if got := countNonZeroBytes(b); got != 0 {
			t.Fatalf("%d zeros: %d non-zero", size, got)
		}
		want := 0
		for i := 0; i < size; i += 1 + i%977 {
			b[i] = byte(1 + i%255)
			want++
		}
		if got := countNonZeroBytes(b); got != want {
			t.Fatalf("size %d: %d non-zero, want %d", size, got, want)
		}
	}
}

// appendHeader appends the header line for a segment starting at base,
// with no schema field.
func appendHeader(dst []byte, format Format, base uint64) []byte {
	return appendSchemaHeader(dst, format, base, "")
}

// appendLine appends one record line in format f.
func appendLine(dst []byte, f Format, seq, synced uint64, payload []byte) []byte {
	if f == FormatPlain {
		dst = append(dst, payload...)
		return append(dst, '\n')
	}
	start := len(dst)
	dst = appendLinePrefix(dst, seq, synced)
	dst = append(dst, payload...)
	return appendLineSuffix(dst, crc32.Checksum(dst[start:], castagnoli))
}
