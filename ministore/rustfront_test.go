// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// errMissingInitialState is the current Rust crate's refusal of a file
// whose first line is not a journal header.
var errMissingInitialState = errors.New("MissingInitialState")

// rustCurrentReplay reads the journal at path (on the OS file system) as
// the current Rust crate's MiniStore::replay does: every file NAME.<ext>
// whose ext is all digits and parses as a u32 (so NAME.001 and
// NAME.000001 alike, and NAME.000 as segment 0), by number, then a
// non-empty NAME; each must start with "// MINISTORE JOURNAL v"; every
// other line is a record, numbered by its position. It returns the
// records' lines, or errMissingInitialState, and the files it read.
func rustCurrentReplay(t *testing.T, path string) (records, files []string, err error) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	type seg struct {
		n    uint64
		path string
	}
	var segs []seg
	for _, e := range entries {
		ext, ok := strings.CutPrefix(e.Name(), filepath.Base(path)+".")
		if !ok || ext == "" || strings.Trim(ext, "0123456789") != "" {
			continue
		}
		n, perr := strconv.ParseUint(ext, 10, 32)
		if perr != nil {
			continue
		}
		segs = append(segs, seg{n, filepath.Join(filepath.Dir(path), e.Name())})
	}
	slices.SortStableFunc(segs, func(a, b seg) int { return int(a.n) - int(b.n) })
	for _, s := range segs {
		files = append(files, s.path)
	}
	if info, serr := os.Stat(path); serr == nil && info.Size() > 0 {
		files = append(files, path)
	}
	for _, f := range files {
		b, rerr := os.ReadFile(f)
		if rerr != nil {
			t.Fatal(rerr)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		if !sc.Scan() || !strings.HasPrefix(sc.Text(), "// MINISTORE JOURNAL v") {
			return nil, files, errMissingInitialState
		}
		for sc.Scan() {
			records = append(records, sc.Text())
		}
	}
	return records, files, nil
}

// What the current Rust crate does with a journal whose front Go cut
// inside a segment (the front bound NAME.front, docs/MIGRATING.md): it
// does not list NAME.front (not a number) and refuses the journal on the
// mark NAME.000 or NAME.000000. Without the marks (deleted by hand, or by
// the crate's own retention, which deletes the lowest-numbered files
// first), it would replay the records below the bound that are still in
// the segment, counting positions from them: the wrong records, no error.
func TestRustCrateOnFrontBound(t *testing.T) {
	dir := copyFixture(t, "journal-rotated")
	path := filepath.Join(dir, "rot.log")
	for _, n := range []string{"001", "002"} {
		if err := os.Rename(path+"."+n, path+".000"+n); err != nil {
			t.Fatal(err)
		}
	}
	all, _, err := rustCurrentReplay(t, path)
	if err != nil || len(all) != 7 {
		t.Fatalf("before: the crate reads %d records, %v", len(all), err)
	}
	s := openT[counterMutation](t, path, &Options{})
	if err := s.TruncateFront(2); err != nil { // inside the first segment
		t.Fatal(err)
	}
	if s.FirstSeq() != 2 {
		t.Fatalf("FirstSeq %d", s.FirstSeq())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".front"); err != nil {
		t.Fatalf("no front bound: %v", err)
	}
	_, files, err := rustCurrentReplay(t, path)
	if !errors.Is(err, errMissingInitialState) {
		t.Fatalf("the crate reads the cut journal: %v (files %v)", err, files)
	}
	if base := filepath.Base(files[0]); base != "rot.log.000" && base != "rot.log.000000" {
		t.Fatalf("the crate's first file is %s, want a mark", base)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".front") {
			t.Fatalf("the crate lists %s", f)
		}
	}

	// Without the marks the crate reads record 1, which Go cut, as its
	// first: every position is off by one.
	for _, m := range rustMarks(path) {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := rustCurrentReplay(t, path)
	if err != nil || !slices.Equal(got, all) {
		t.Fatalf("without the marks the crate reads %v, %v; want the 7 records, the cut one first", got, err)
	}
	var first counterMutation
	if err := json.Unmarshal([]byte(got[0]), &first); err != nil || first.Set == nil || first.Set.Value != 0 {
		t.Fatalf("the crate's first record %s", got[0])
	}
	for rec, err := range Records[counterMutation](path, 0) {
		if err != nil || rec.Seq != 2 || rec.Value.Set.Value != 1 {
			t.Fatalf("Go's first record: %+v, %v; want seq 2, value 1", rec, err)
		}
		break
	}
}
