// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.log")
	writeJournal(t, path, 10, &Options{MaxSegmentBytes: 230})
	info, err := Inspect(path, nil)
	if err != nil || info.Problem != nil {
		t.Fatalf("Inspect: %v, %v", err, info.Problem)
	}
	if len(info.Segments) != 3 || info.Records != 10 || info.FirstSeq != 1 || info.LastSeq != 10 {
		t.Fatalf("info %+v", info)
	}
	var bytes int64
	for i, s := range info.Segments {
		st, _ := os.Stat(s.Path)
		bytes += st.Size()
		if s.Format != FormatV1 || s.Version != "1" || s.Bytes != st.Size() || s.End != st.Size() {
			t.Fatalf("segment %d: %+v (size %d)", i, s, st.Size())
		}
	}
	if info.Bytes != bytes || info.Segments[1].FirstSeq != 5 || info.Segments[2].Records != 2 {
		t.Fatalf("info %+v", info)
	}

	// A torn tail is a problem for Inspect (which verifies), with its place.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-4], 0o644)
	info, err = Inspect(path, nil)
	if err != nil || !errors.Is(info.Problem, ErrTornTail) || errors.Is(info.Problem, ErrCorrupt) {
		t.Fatalf("torn: %v, %v", err, info.Problem)
	}
	if info.Records != 9 || info.LastSeq != 9 {
		t.Fatalf("torn: counts %+v", info)
	}
	tornBytes := info.Bytes

	// Rust files, and a missing journal.
	info, err = Inspect(filepath.Join(fixtures, "journal-rotated", "rot.log"), nil)
	if err != nil || info.Problem != nil || info.Records != 7 || info.Segments[0].Version != "0.1.4" ||
		info.Segments[0].Format != FormatPlain {
		t.Fatalf("rust journal: %+v, %v", info, err)
	}
	for _, tc := range []struct {
		path        string
		first, last uint64
	}{
		{path, 1, 9}, // the torn tail does not count
		{filepath.Join(fixtures, "journal-rotated", "rot.log"), 1, 7},
		{filepath.Join(dir, "none.log"), 0, 0},
	} {
		first, last, err := Bounds(tc.path)
		if err != nil || first != tc.first || last != tc.last {
			t.Fatalf("Bounds(%s) = %d, %d, %v; want %d, %d", tc.path, first, last, err, tc.first, tc.last)
		}
	}
	var calls int
	var lastRead, lastTotal int64
	if _, err := Inspect(path, func(read, total int64) { calls++; lastRead, lastTotal = read, total }); err != nil {
		t.Fatal(err)
	}
	if calls == 0 || lastRead != lastTotal || lastTotal != tornBytes {
		t.Fatalf("progress: %d calls, last %d of %d, journal %d bytes", calls, lastRead, lastTotal, tornBytes)
	}
	info, err = Inspect(filepath.Join(dir, "none.log"), nil)
	if err != nil || info.Records != 0 || len(info.Segments) != 0 {
		t.Fatalf("missing journal: %+v, %v", info, err)
	}
}
