// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/vfs"
)

// The Rust crates number a journal's records by their position from the
// first line of its oldest file, and read every file named NAME.<digits>
// (by number) whose first line starts with "// MINISTORE JOURNAL v",
// failing on one that does not. After records are dropped from the front
// of a journal in their format (TruncateFront, so ministate's Compact),
// the positions no longer match the sequence numbers, and the crates would
// replay the wrong records without an error. So before the first such
// drop, TruncateFront writes NAME.000 and NAME.000000 holding rustMarkText:
// segment number 0 for the crates (read first, with three or six digits),
// whose first line is not a journal header, so they refuse the journal.
// This package skips segment number 0, so the files change nothing for
// Go's readers.
const rustMarkText = "// mini: records were dropped from the front of this journal (TruncateFront, ministate Compact): " +
	"the Rust crates number records by position and must not read it; see docs/MIGRATING.md\n"

// rustMarks returns the paths of the marks of the journal at path.
func rustMarks(path string) []string { return []string{path + ".000", path + ".000000"} }

// markFrontDropped writes the marks that the Rust crates refuse, durably,
// unless they exist. Only the leader calls it.
func (w *wal) markFrontDropped() error {
	wrote := false
	for _, p := range rustMarks(w.path) {
		if ok, err := vfs.Exists(w.fs, p); err != nil {
			return err
		} else if ok {
			continue
		}
		tmp := p + ".tmp"
		f, err := w.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("mark %s: %w", p, err)
		}
		err = writeFull(f, []byte(rustMarkText), 0)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = w.fs.Rename(tmp, p)
		}
		if err != nil {
			return fmt.Errorf("mark %s: %w", p, err)
		}
		wrote = true
	}
	if wrote {
		if err := w.fs.SyncDir(w.dir); err != nil {
			return fmt.Errorf("mark %s: %w", w.path, err)
		}
	}
	return nil
}

// copyRustMarks copies the marks of the journal at path that exist into
// dir (a backup of the journal).
func copyRustMarks(fsys vfs.FS, path, dir string) error {
	for _, p := range rustMarks(path) {
		b, err := vfs.ReadFile(fsys, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		f, err := fsys.OpenFile(filepath.Join(dir, filepath.Base(p)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		err = writeFull(f, b, 0)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
