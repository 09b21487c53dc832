// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/mini-go/mini/internal/backup"
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
	for _, p := range rustMarks(w.path) {
		if ok, err := vfs.Exists(w.fs, p); err != nil {
			return err
		} else if !ok {
			if err := replaceFile(w.fs, p, []byte(rustMarkText)); err != nil {
				return fmt.Errorf("mark %s: %w", p, err)
			}
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
		if err := backup.WriteFile(fsys, filepath.Join(dir, filepath.Base(p)), b); err != nil {
			return err
		}
	}
	return nil
}
