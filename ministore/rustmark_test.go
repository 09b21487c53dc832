// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// rustReplayCheck applies the Rust crate's rule for opening a journal (its
// MiniStore::replay): every file NAME.<three digits>, by number, then a
// non-empty NAME, must start with "// MINISTORE JOURNAL v", or the crate
// fails (MissingInitialState). It returns the first file that breaks it.
func rustReplayCheck(t *testing.T, fsys vfs.FS, path string) error {
	t.Helper()
	names, err := fsys.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	type seg struct {
		n    int
		path string
	}
	var segs []seg
	base := filepath.Base(path)
	for _, name := range names {
		ext, ok := strings.CutPrefix(name, base+".")
		if !ok || len(ext) != 3 || strings.Trim(ext, "0123456789") != "" {
			continue
		}
		n, _ := strconv.Atoi(ext)
		segs = append(segs, seg{n, filepath.Join(filepath.Dir(path), name)})
	}
	slices.SortFunc(segs, func(a, b seg) int { return a.n - b.n })
	files := []string{}
	for _, s := range segs {
		files = append(files, s.path)
	}
	if b, err := vfs.ReadFile(fsys, path); err == nil && len(b) > 0 {
		files = append(files, path)
	}
	for _, f := range files {
		b, err := vfs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("// MINISTORE JOURNAL v")) {
			return fmt.Errorf("%s: MissingInitialState", f)
		}
	}
	return nil
}

// After TruncateFront drops records from the front of a journal in the
// Rust crate's format, the crate refuses it (it would count positions
// from the wrong record); Go reads it as before, and a backup keeps the
// marks.
func TestTruncateFrontMarksPlainJournal(t *testing.T) {
	for _, format := range []Format{FormatPlain, FormatV1} {
		t.Run(format.String(), func(t *testing.T) {
			mem := vfs.NewMem()
			path := "/s/j.log"
			s := openT[kv](t, path, quietOptions(Options{Format: format, MaxSegmentBytes: 120}, mem))
			for i := range 10 {
				if _, err := s.Append(kv{V: i}); err != nil {
					t.Fatal(err)
				}
			}
			if err := rustReplayCheck(t, mem, path); err != nil {
				t.Fatalf("before TruncateFront the crate refuses the journal: %v", err)
			}
			if err := s.TruncateFront(4); err != nil {
				t.Fatal(err)
			}
			err := rustReplayCheck(t, mem, path)
			if format == FormatPlain && err == nil {
				t.Fatal("after TruncateFront the Rust crate would read the journal (and count from the wrong record)")
			}
			if format == FormatV1 && err != nil {
				t.Fatalf("a v1 journal got a mark: %v", err)
			}
			if _, err := s.Backup("/bk"); err != nil {
				t.Fatal(err)
			}
			s.Close()
			for _, p := range []string{path, "/bk/j.log"} {
				r := openT[kv](t, p, quietOptions(Options{}, mem))
				if r.FirstSeq() != 4 || r.LastSeq() != 10 {
					t.Fatalf("%s holds %d..%d", p, r.FirstSeq(), r.LastSeq())
				}
				r.Close()
				n := 0
				for rec, err := range RecordsWith[kv](p, 0, &Options{FS: mem}) {
					if err != nil || rec.Value.V != int(rec.Seq)-1 {
						t.Fatalf("Records(%s): %+v %v", p, rec, err)
					}
					n++
				}
				if n != 7 {
					t.Fatalf("Records(%s) read %d records", p, n)
				}
				if err := rustReplayCheck(t, mem, p); (err == nil) != (format == FormatV1) {
					t.Fatalf("%s: the Rust crate's check says %v", p, err)
				}
			}
		})
	}
}
