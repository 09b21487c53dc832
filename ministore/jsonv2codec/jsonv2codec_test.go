// SPDX-License-Identifier: MIT OR Apache-2.0

package jsonv2codec_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

// rec has the field kinds where encoding/json and json/v2 differ by
// default: nil slices and maps, omitempty, durations, HTML characters,
// byte slices, times, embedded pointers and case-insensitive names.
type rec struct {
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Attrs map[string]int    `json:"attrs"`
	N     int               `json:"n,omitempty"`
	Wait  time.Duration     `json:"wait"`
	Blob  []byte            `json:"blob"`
	At    time.Time         `json:"at"`
	Opt   *int              `json:"opt"`
	Any   any               `json:"any"`
	Raw   map[string]string `json:"raw,omitempty"`
}

// narrow is rec without most fields: reading rec's records into it meets
// unknown fields.
type narrow struct {
	Name string `json:"name"`
}

var codecs = []struct {
	name  string
	codec ministore.Codec
}{
	{"encoding/json", nil},
	{"jsonv2", jsonv2codec.New()},
}

func sample() []rec {
	seven := 7
	return []rec{
		{},
		{Name: "<a&b>", Tags: []string{}, Attrs: map[string]int{}},
		{Name: "ünïcødé \u2028 \U0001F600", Tags: []string{"x", ""}, Attrs: map[string]int{"k": 1},
			N: 3, Wait: 1500 * time.Millisecond, Blob: []byte{0, 1, 2, 255},
			At: time.Date(2026, 11, 27, 16, 0, 0, 123456789, time.UTC), Opt: &seven,
			Any: map[string]any{"f": 1.5, "l": []any{"s", true, nil}}, Raw: map[string]string{"a": "b"}},
	}
}

func write(t *testing.T, path string, codec ministore.Codec, recs []rec) {
	t.Helper()
	s, err := ministore.Open[rec](path, &ministore.Options{Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AppendBatch(recs...); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCrossCodec writes records with each codec and reads them with each,
// through Records, Get and All: the values are the same.
func TestCrossCodec(t *testing.T) {
	want := sample()
	for _, w := range codecs {
		for _, r := range codecs {
			t.Run(w.name+"->"+r.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "j.log")
				write(t, path, w.codec, want)
				var got []rec
				for rec, err := range ministore.RecordsWith[rec](path, 1, &ministore.Options{Codec: r.codec}) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, rec.Value)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("Records read\n%+v\nwant\n%+v", got, want)
				}
				s, err := ministore.Open[rec](path, &ministore.Options{Codec: r.codec})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				for i := range want {
					v, err := s.Get(uint64(i + 1))
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(v, want[i]) {
						t.Fatalf("Get(%d) = %+v, want %+v", i+1, v, want[i])
					}
				}
			})
		}
	}
}

// TestSameBytes: both codecs write the same lines for the sample records,
// so a journal does not tell which codec wrote it.
func TestSameBytes(t *testing.T) {
	var files [][]byte
	for _, c := range codecs {
		path := filepath.Join(t.TempDir(), "j.log")
		write(t, path, c.codec, sample())
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	if string(files[0]) != string(files[1]) {
		t.Fatalf("encoding/json wrote\n%s\njsonv2 wrote\n%s", files[0], files[1])
	}
}

// TestSameRules: the codecs refuse the same things, with the same errors:
// invalid UTF-8 on Append, unknown fields when strict, and they accept
// unknown fields when AllowUnknownFields is set.
func TestSameRules(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			s, err := ministore.Open[rec](path, &ministore.Options{Codec: c.codec})
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range []rec{{Name: "a\xffb"}, {Tags: []string{"\xc3"}}, {Attrs: map[string]int{"\xed\xa0\x80": 1}}} {
				if _, err := s.Append(bad); !errors.Is(err, ministore.ErrInvalidUTF8) {
					t.Errorf("Append(%q): %v, want ErrInvalidUTF8", bad.Name, err)
				}
			}
			if _, err := s.Append(sample()[2]); err != nil {
				t.Fatal(err)
			}
			if got := s.LastSeq(); got != 1 {
				t.Fatalf("LastSeq %d after refused appends, want 1", got)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// Each codec reads the journal into narrow: unknown fields.
			for _, r := range codecs {
				for rec, err := range ministore.RecordsWith[narrow](path, 1, &ministore.Options{Codec: r.codec}) {
					var de *ministore.DecodeError
					if !errors.As(err, &de) || !errors.Is(err, ministore.ErrDecode) || de.Seq != 1 || de.Line != 2 {
						t.Errorf("read by %s: %v (%+v), want a *DecodeError for seq 1, line 2", r.name, err, rec)
					}
				}
				opts := &ministore.Options{Codec: r.codec, AllowUnknownFields: true}
				for rec, err := range ministore.RecordsWith[narrow](path, 1, opts) {
					if err != nil || rec.Value.Name != sample()[2].Name {
						t.Errorf("lenient read by %s: %+v, %v", r.name, rec, err)
					}
				}
			}
		})
	}
}

// FuzzDecodeAgrees decodes arbitrary bytes as a record with both codecs,
// strictly and not: they accept and refuse the same payloads, and what
// they accept decodes to the same value.
func FuzzDecodeAgrees(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x"}`, `{"name":"x","zz":1}`, `{"NAME":"y"}`,
		`{"name":"a","name":"b"}`, `{"tags":null}`, `{"n":"1"}`, `{"wait":1e3}`, `{"name":"\xff"}`,
		`{"blob":"AAEC"}`, `{"at":"2026-11-27T16:00:00Z"}`, `[1]`, `null`, `{"attrs":{"a":1}} x`, ` {"n":2} `} {
		f.Add([]byte(s))
	}
	v1, v2 := ministore.JSONCodec{}, jsonv2codec.New()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, strict := range []bool{true, false} {
			var a, b rec
			ea := v1.NewDecoder(strict).Decode(data, &a)
			eb := v2.NewDecoder(strict).Decode(data, &b)
			if (ea == nil) != (eb == nil) {
				t.Fatalf("strict %v, %q: encoding/json: %v; jsonv2: %v", strict, data, ea, eb)
			}
			if ea == nil && !reflect.DeepEqual(a, b) {
				t.Fatalf("strict %v, %q: encoding/json gave %+v, jsonv2 %+v", strict, data, a, b)
			}
		}
	})
}

func Example() {
	type event struct {
		Kind string `json:"kind"`
		N    int    `json:"n"`
	}
	path := filepath.Join(os.TempDir(), "jsonv2codec-example", "events.log")
	os.RemoveAll(filepath.Dir(path))
	defer os.RemoveAll(filepath.Dir(path))
	s, err := ministore.Open[event](path, &ministore.Options{Codec: jsonv2codec.New()})
	if err != nil {
		panic(err)
	}
	s.Append(event{Kind: "created", N: 1})
	s.Append(event{Kind: "renamed", N: 2})
	s.Close()
	// The journal is the same JSON lines: the default codec reads it.
	for r, err := range ministore.Records[event](path, 1) {
		if err != nil {
			panic(err)
		}
		fmt.Println(r.Seq, r.Value.Kind, r.Value.N)
	}
	// Output:
	// 1 created 1
	// 2 renamed 2
}

// benchRec encodes to about 100 bytes, as ministore's own benchmarks.
type benchRec struct {
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value string `json:"value"`
	N     int    `json:"n"`
}

// BenchmarkReplay reads a journal of 200,000 ~100-byte records with
// Records, decoding each into a struct, with each codec in one run; the
// journal is written once, by encoding/json. The raw sub-benchmark reads the
// same journal as json.RawMessage (framing and CRC checked, nothing decoded):
// it is the reference the typed rates are compared with, as ratios in one run.
func BenchmarkReplay(b *testing.B) {
	const n = 200_000
	path := filepath.Join(b.TempDir(), "j.log")
	s, err := ministore.Open[benchRec](path, &ministore.Options{Sync: ministore.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]benchRec, 1000)
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			batch[j] = benchRec{Op: "put", Key: "user/000000000042", Value: "the quick brown fox jumps over the lazy dog", N: i + j}
		}
		if _, _, err := s.AppendBatch(batch...); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Run("raw", func(b *testing.B) {
		count := 0
		for b.Loop() {
			for _, err := range ministore.Records[json.RawMessage](path, 1) {
				if err != nil {
					b.Fatal(err)
				}
				count++
			}
		}
		b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(0, "ns/op")
	})
	for _, c := range codecs {
		b.Run(filepath.Base(c.name), func(b *testing.B) {
			opts := &ministore.Options{Codec: c.codec}
			count := 0
			for b.Loop() {
				for _, err := range ministore.RecordsWith[benchRec](path, 1, opts) {
					if err != nil {
						b.Fatal(err)
					}
					count++
				}
			}
			b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkMarshal encodes a ~100-byte record with each codec.
func BenchmarkMarshal(b *testing.B) {
	r := benchRec{Op: "put", Key: "user/000000000042", Value: "the quick brown fox jumps over the lazy dog", N: 42}
	for _, c := range codecs {
		codec := c.codec
		if codec == nil {
			codec = ministore.JSONCodec{}
		}
		b.Run(filepath.Base(c.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := codec.Marshal(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
