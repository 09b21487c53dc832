// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/jsonline"
)

type kv struct {
	K string `json:"k"`
	V int    `json:"v"`
}

func openT[R any](t testing.TB, path string, opts *Options) *Store[R] {
	t.Helper()
	s, err := Open[R](path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendN(t testing.TB, s *Store[kv], from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		seq, err := s.Append(kv{K: fmt.Sprint("k", i), V: i})
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if seq != uint64(i) {
			t.Fatalf("Append %d got seq %d", i, seq)
		}
	}
}

// appendBatch appends n records with key k and V from, from+1, ... in one
// batch.
func appendBatch(t testing.TB, s *Store[kv], k string, from, n int) {
	t.Helper()
	batch := make([]kv, n)
	for i := range batch {
		batch[i] = kv{K: k, V: from + i}
	}
	if _, _, err := s.AppendBatch(batch...); err != nil {
		t.Fatal(err)
	}
}

// values replays path and returns the V of every record, checking that the
// sequence numbers are consecutive.
func values(t testing.TB, path string) []int {
	t.Helper()
	var out []int
	var prev uint64
	for rec, err := range Records[kv](path, 0) {
		if err != nil {
			t.Fatalf("Records(%s): %v", path, err)
		}
		if prev != 0 && rec.Seq != prev+1 {
			t.Fatalf("seq %d after %d", rec.Seq, prev)
		}
		prev = rec.Seq
		out = append(out, rec.Value.V)
	}
	return out
}

// seqRange returns from, from+1, ..., to.
func seqRange[T int | uint64](from, to T) []T {
	var out []T
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestAppendReopenReplay(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"default", Options{}},
		{"small segments", Options{MaxSegmentBytes: 256}},
		{"no prealloc", Options{NoPreallocate: true, MaxSegmentBytes: 1000}},
		{"plain", Options{Format: FormatPlain, MaxSegmentBytes: 100}},
		{"sync never", Options{Sync: SyncNever, MaxSegmentBytes: 500}},
		{"sync interval", Options{Sync: SyncInterval, SyncInterval: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "dir", "j.log")
			opts := tc.opts
			s := openT[kv](t, path, &opts)
			if !reflect.DeepEqual(opts, tc.opts) {
				t.Fatal("Open changed the caller's options")
			}
			if s.FirstSeq() != 0 || s.LastSeq() != 0 {
				t.Fatalf("empty journal: first %d last %d", s.FirstSeq(), s.LastSeq())
			}
			appendN(t, s, 1, 30)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := values(t, path); !slices.Equal(got, seqRange(1, 30)) {
				t.Fatalf("replay after close: %v", got)
			}
			s = openT[kv](t, path, &opts)
			if s.TornTail() != nil {
				t.Fatalf("clean journal reported torn: %v", s.TornTail())
			}
			if s.FirstSeq() != 1 || s.LastSeq() != 30 {
				t.Fatalf("reopened: first %d last %d", s.FirstSeq(), s.LastSeq())
			}
			appendN(t, s, 31, 10)
			for _, seq := range []uint64{1, 2, 17, 30, 31, 40} {
				r, err := s.Get(seq)
				if err != nil || r.V != int(seq) {
					t.Fatalf("Get(%d) = %v, %v", seq, r, err)
				}
			}
			for _, seq := range []uint64{0, 41, 1000} {
				if _, err := s.Get(seq); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get(%d) err = %v, want ErrNotFound", seq, err)
				}
			}
			var got []int
			for rec, err := range s.All(25) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rec.Value.V)
			}
			if !slices.Equal(got, seqRange(25, 40)) {
				t.Fatalf("All(25) = %v", got)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			all, err := Replay[kv](path)
			if err != nil || len(all) != 40 || all[39].V != 40 {
				t.Fatalf("Replay: %d records, %v", len(all), err)
			}
			// A cleanly closed file holds text only: no preallocated zeros.
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.Index(b, 0); i >= 0 {
				t.Fatalf("closed active file has a zero byte at %d", i)
			}
		})
	}
}

func TestReplayMissingAndEmpty(t *testing.T) {
	dir := t.TempDir()
	got, err := Replay[kv](filepath.Join(dir, "nothing", "here.log"))
	if err != nil || len(got) != 0 {
		t.Fatalf("missing journal: %v, %v", got, err)
	}
	path := filepath.Join(dir, "empty.log")
	s := openT[kv](t, path, nil)
	s.Close()
	got, err = Replay[kv](path)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty journal: %v, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zero.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = Replay[kv](filepath.Join(dir, "zero.log"))
	if err != nil || len(got) != 0 {
		t.Fatalf("zero-byte journal: %v, %v", got, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open[kv](dir, nil); !errors.Is(err, ErrIsDir) {
		t.Fatalf("Open(dir) = %v, want ErrIsDir", err)
	}
	path := filepath.Join(dir, "j.log")
	s := openT[kv](t, path, nil)
	if _, err := Open[kv](path, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if _, err := Repair(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("Repair of an open journal = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := s.Append(kv{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := s.Get(1); !errors.Is(err, ErrClosed) && !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Close = %v", err)
	}
	if err := s.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close = %v", err)
	}
	if err := s.TruncateFront(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("TruncateFront after Close = %v", err)
	}
	s2 := openT[kv](t, path, nil) // the lock was released
	s2.Close()
	for _, o := range []Options{{MaxSegmentBytes: -1}, {Sync: 9}, {Format: 7}} {
		if _, err := Open[kv](filepath.Join(dir, "x.log"), &o); err == nil {
			t.Fatalf("Open with %+v succeeded", o)
		}
	}
	if _, err := Open[chan int](filepath.Join(dir, "c.log"), nil); err != nil {
		t.Fatal(err)
	}
}

func TestAppendUnencodable(t *testing.T) {
	s := openT[any](t, filepath.Join(t.TempDir(), "j.log"), nil)
	if _, err := s.Append(make(chan int)); err == nil {
		t.Fatal("Append of a channel succeeded")
	}
	if seq, err := s.Append("fine"); err != nil || seq != 1 {
		t.Fatalf("Append after a failed encode: %d, %v", seq, err)
	}
}

// Raw record types come back as they went in, through every read path:
// []byte follows encoding/json (a base64 string on disk), json.RawMessage
// and jsonline.Trusted are the line's JSON itself.
func TestRawRecordTypesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	t.Run("bytes", func(t *testing.T) {
		roundTrip(t, filepath.Join(dir, "bytes.log"), [][]byte{[]byte("hi"), {0, 1, 2, 0xff}, {}}, `"aGk="`)
	})
	t.Run("RawMessage", func(t *testing.T) {
		roundTrip(t, filepath.Join(dir, "raw.log"), []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`[1,"x"]`), json.RawMessage(`null`)}, `{"a":1}`)
	})
	t.Run("Trusted", func(t *testing.T) {
		roundTrip(t, filepath.Join(dir, "trusted.log"), []jsonline.Trusted{jsonline.Trusted(`{"a":1}`), jsonline.Trusted(`"s"`), jsonline.Trusted(`7`)}, `{"a":1}`)
	})
}

func roundTrip[R any](t *testing.T, path string, recs []R, firstOnDisk string) {
	t.Helper()
	s := openT[R](t, path, nil)
	if _, _, err := s.AppendBatch(recs...); err != nil {
		t.Fatal(err)
	}
	for i, want := range recs {
		got, err := s.Get(uint64(i + 1))
		if err != nil || !reflect.DeepEqual(normal(got), normal(want)) {
			t.Fatalf("Get(%d) = %v, %v; want %v", i+1, got, err, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var got []R
	for r, err := range Records[R](path, 1) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Value)
	}
	if len(got) != len(recs) {
		t.Fatalf("Records gave %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if !reflect.DeepEqual(normal(got[i]), normal(recs[i])) {
			t.Fatalf("Records: record %d = %v, want %v", i+1, got[i], recs[i])
		}
	}
	raw, err := Replay[json.RawMessage](path)
	if err != nil || string(raw[0]) != firstOnDisk {
		t.Fatalf("first record on disk = %s, %v; want %s", raw[0], err, firstOnDisk)
	}
}

// normal makes empty and nil byte slices equal.
func normal(v any) any {
	if b, ok := v.([]byte); ok && len(b) == 0 {
		return []byte{}
	}
	return v
}

func TestDecodeError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[any](t, path, nil)
	s.Append(map[string]any{"k": "x", "v": "not a number"})
	s.Close()
	_, err := Replay[kv](path)
	if err == nil || !regexpMatch(`decode record 1`, err.Error()) {
		t.Fatalf("Replay of an undecodable record = %v", err)
	}
}

func TestAppendBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, &Options{MaxSegmentBytes: 200})
	first, last, err := s.AppendBatch(kv{V: 1}, kv{V: 2}, kv{V: 3})
	if err != nil || first != 1 || last != 3 {
		t.Fatalf("AppendBatch = %d, %d, %v", first, last, err)
	}
	first, last, err = s.AppendBatch(kv{V: 4}, kv{V: 5})
	if err != nil || first != 4 || last != 5 {
		t.Fatalf("AppendBatch = %d, %d, %v", first, last, err)
	}
	if _, _, err := s.AppendBatch(); err == nil {
		t.Fatal("empty batch accepted")
	}
	s.Close()
	if got := values(t, path); !slices.Equal(got, seqRange(1, 5)) {
		t.Fatalf("replay %v", got)
	}
}

func TestConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, &Options{MaxSegmentBytes: 4096})
	const writers, each = 16, 50
	var wg sync.WaitGroup
	seqs := make([][]uint64, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				seq, err := s.Append(kv{K: fmt.Sprint(w), V: i})
				if err != nil {
					t.Error(err)
					return
				}
				seqs[w] = append(seqs[w], seq)
				if i%10 == 0 {
					if r, err := s.Get(seq); err != nil || r.V != i {
						t.Errorf("Get(%d) = %v, %v", seq, r, err)
					}
				}
			}
		})
	}
	wg.Wait()
	var all []uint64
	for _, ss := range seqs {
		if !slices.IsSorted(ss) {
			t.Fatal("one goroutine's sequence numbers are out of order")
		}
		all = append(all, ss...)
	}
	slices.Sort(all)
	for i, seq := range all {
		if seq != uint64(i+1) {
			t.Fatalf("sequence numbers not 1..%d: %v", writers*each, all[:i+1])
		}
	}
	s.Close()
	// Each writer's records appear in its own order.
	last := map[string]int{}
	for rec, err := range Records[kv](path, 1) {
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := last[rec.Value.K]; ok && rec.Value.V != v+1 {
			t.Fatalf("writer %s: %d after %d", rec.Value.K, rec.Value.V, v)
		}
		last[rec.Value.K] = rec.Value.V
	}
}

func TestRotationAndRetention(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.log")
	s := openT[kv](t, path, &Options{MaxSegmentBytes: 150, MaxSegments: 3})
	appendN(t, s, 1, 40)
	files, _ := listSegments(s.w.fs, path)
	if len(files) != 4 { // three sealed and the active file
		t.Fatalf("%d files, want 4: %v", len(files), files)
	}
	segs := s.Segments()
	if len(segs) != 4 || segs[3].Path != path || segs[0].Path != files[0].path {
		t.Fatalf("Segments %+v", segs)
	}
	for i := 1; i < len(segs); i++ {
		if segs[i].FirstSeq != segs[i-1].FirstSeq+segs[i-1].Records {
			t.Fatalf("segment %d starts at %d after %+v", i, segs[i].FirstSeq, segs[i-1])
		}
	}
	if last := segs[3]; last.FirstSeq+last.Records-1 != 40 {
		t.Fatalf("active segment %+v does not end at 40", last)
	}
	first := s.FirstSeq()
	if first <= 1 {
		t.Fatalf("retention kept everything: first %d", first)
	}
	s.Close()
	got := values(t, path)
	if !slices.Equal(got, seqRange(int(first), 40)) {
		t.Fatalf("replay %v", got)
	}
	// Numbering goes past 999.
	if segmentName(path, 1000, 3) != path+".1000" || segmentName(path, 7, 3) != path+".007" || segmentName(path, 7, 6) != path+".000007" {
		t.Fatal(segmentName(path, 1000, 3))
	}
}

func TestDefaultKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, &Options{MaxSegmentBytes: 100})
	appendN(t, s, 1, 50)
	s.Close()
	if got := values(t, path); !slices.Equal(got, seqRange(1, 50)) {
		t.Fatalf("replay %v", got)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		front, back uint64 // 0: skip
		want        []int
		nextSeq     uint64
	}{
		{name: "front inside first segment", front: 3, want: seqRange(3, 30), nextSeq: 31},
		{name: "front at a segment boundary", front: 11, want: seqRange(11, 30), nextSeq: 31},
		{name: "front inside active", front: 29, want: seqRange(29, 30), nextSeq: 31},
		{name: "front at the end", front: 31, want: nil, nextSeq: 31},
		{name: "front beyond the end", front: 100, want: nil, nextSeq: 100},
		{name: "back inside active", back: 29, want: seqRange(1, 29), nextSeq: 30},
		{name: "back inside sealed", back: 5, want: seqRange(1, 5), nextSeq: 6},
		{name: "back to nothing", back: 0 + 1<<63, want: nil, nextSeq: 1},
		{name: "back past the end", back: 30, want: seqRange(1, 30), nextSeq: 31},
		{name: "both", front: 4, back: 20, want: seqRange(4, 20), nextSeq: 21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			s := openT[kv](t, path, &Options{MaxSegmentBytes: 300})
			appendN(t, s, 1, 30)
			if tc.front != 0 {
				if err := s.TruncateFront(tc.front); err != nil {
					t.Fatal(err)
				}
			}
			if tc.back != 0 {
				back := tc.back
				if back == 1<<63 {
					back = 0
				}
				if err := s.TruncateBack(back); err != nil {
					t.Fatal(err)
				}
			}
			check := func(stage string) {
				t.Helper()
				if got := values(t, path); !slices.Equal(got, tc.want) {
					t.Fatalf("%s: replay %v, want %v", stage, got, tc.want)
				}
			}
			check("after truncation")
			if len(tc.want) > 0 {
				if s.FirstSeq() != uint64(tc.want[0]) || s.LastSeq() != uint64(tc.want[len(tc.want)-1]) {
					t.Fatalf("first %d last %d", s.FirstSeq(), s.LastSeq())
				}
				for _, v := range tc.want {
					if r, err := s.Get(uint64(v)); err != nil || r.V != v {
						t.Fatalf("Get(%d) = %v, %v", v, r, err)
					}
				}
			} else if s.FirstSeq() != 0 || s.LastSeq() != 0 {
				t.Fatalf("empty: first %d last %d", s.FirstSeq(), s.LastSeq())
			}
			if s.NextSeq() != tc.nextSeq {
				t.Fatalf("NextSeq %d, want %d", s.NextSeq(), tc.nextSeq)
			}
			seq, err := s.Append(kv{V: int(tc.nextSeq)})
			if err != nil || seq != tc.nextSeq {
				t.Fatalf("next Append = %d, %v; want %d", seq, err, tc.nextSeq)
			}
			s.Close()
			tc.want = append(tc.want, int(tc.nextSeq))
			check("after reopen")
			s = openT[kv](t, path, nil)
			if s.LastSeq() != tc.nextSeq {
				t.Fatalf("reopened LastSeq %d", s.LastSeq())
			}
		})
	}
	t.Run("back below first renumbers", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "j.log")
		s := openT[kv](t, path, nil)
		appendN(t, s, 1, 10)
		if err := s.TruncateFront(5); err != nil {
			t.Fatal(err)
		}
		if err := s.TruncateBack(2); err != nil {
			t.Fatal(err)
		}
		if s.FirstSeq() != 0 || s.LastSeq() != 0 || s.NextSeq() != 3 {
			t.Fatalf("first %d last %d next %d", s.FirstSeq(), s.LastSeq(), s.NextSeq())
		}
		// An empty journal renumbers backwards too, and forwards with TruncateFront.
		if err := s.TruncateFront(50); err != nil {
			t.Fatal(err)
		}
		if err := s.TruncateBack(60); err != nil || s.NextSeq() != 50 {
			t.Fatalf("TruncateBack past the end of an empty journal: %v, next %d", err, s.NextSeq())
		}
		if err := s.TruncateBack(19); err != nil || s.NextSeq() != 20 {
			t.Fatalf("TruncateBack(19) of an empty journal: %v, next %d", err, s.NextSeq())
		}
		if seq, err := s.Append(kv{V: 20}); err != nil || seq != 20 {
			t.Fatalf("Append = %d, %v", seq, err)
		}
		s.Close()
		s = openT[kv](t, path, nil)
		if s.FirstSeq() != 20 || s.LastSeq() != 20 {
			t.Fatalf("reopened: first %d last %d", s.FirstSeq(), s.LastSeq())
		}
	})
}

func TestSyncModes(t *testing.T) {
	for _, mode := range []SyncMode{SyncInterval, SyncNever} {
		path := filepath.Join(t.TempDir(), "j.log")
		s := openT[kv](t, path, &Options{Sync: mode, SyncInterval: time.Millisecond})
		appendN(t, s, 1, 5)
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		s.w.mu.Lock()
		durable := s.w.durable
		s.w.mu.Unlock()
		if durable != 5 {
			t.Fatalf("mode %d: durable %d after Sync", mode, durable)
		}
	}
}

func TestRecordsJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[json.RawMessage](t, path, nil)
	s.Append(json.RawMessage(`{"a": [1, 2,  3]}`))
	s.Close()
	b, _ := os.ReadFile(path)
	lines := splitLines(b)
	var env struct {
		Seq  uint64          `json:"seq"`
		Sync uint64          `json:"sync"`
		Rec  json.RawMessage `json:"rec"`
		CRC  string          `json:"crc"`
	}
	if err := json.Unmarshal(lines[1], &env); err != nil {
		t.Fatalf("a record line is not one JSON object: %v: %s", err, lines[1])
	}
	// json.RawMessage is stored as given (it is checked, not re-encoded).
	if env.Seq != 1 || string(env.Rec) != `{"a": [1, 2,  3]}` || len(env.CRC) != 8 {
		t.Fatalf("line %s", lines[1])
	}
	s = openT[json.RawMessage](t, path, nil)
	for _, bad := range []string{`{"a":`, "", "{\"a\":\n1}"} {
		if _, err := s.Append(json.RawMessage(bad)); err == nil {
			t.Fatalf("Append(%q) succeeded", bad)
		}
	}
	if seq, err := s.Append(nil); err != nil || seq != 2 {
		t.Fatalf("Append(nil) = %d, %v", seq, err)
	}
	if r, err := s.Get(2); err != nil || string(r) != "null" {
		t.Fatalf("Get(2) = %s, %v", r, err)
	}
}

// All seeks with the index to where it starts; it must yield exactly what a
// scan from the start of the files yields, from any record.
func TestAllSeeks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, &Options{MaxSegmentBytes: 2000})
	appendN(t, s, 1, 200)
	s.Get(5) // builds the index of the first sealed segment
	for _, from := range []uint64{1, 2, 5, 33, 34, 35, 100, 199, 200, 201} {
		var got, want []int
		for r, err := range s.All(from) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Value.V)
		}
		for r, err := range Records[kv](path, from) {
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, r.Value.V)
		}
		if !slices.Equal(got, want) || (from <= 200 && (len(got) == 0 || got[0] != int(from))) {
			t.Fatalf("All(%d) = %v, want %v", from, got, want)
		}
		if h := s.w.locate(from); from == 199 && h == nil {
			t.Fatal("the active segment's index does not locate record 199")
		}
	}
	// Damage after the seek point is still found, with the right line.
	seg := s.w.segs[0].path
	b, _ := os.ReadFile(seg)
	off := lineOffset(b, 21) // record 20
	b[off+15] ^= 1
	os.WriteFile(seg, b, 0o644)
	var jerr *JournalError
	for _, err := range s.All(10) {
		if err != nil && !errors.As(err, &jerr) {
			t.Fatal(err)
		}
	}
	if jerr == nil || jerr.Line != 21 || jerr.Offset != off || jerr.Path != seg {
		t.Fatalf("damage after a seek reported as %v", jerr)
	}
}
