// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/ministore"
)

// oldFrontRecord is a record of the journal PATH.first in which miniraft
// kept the log's lower bound before ministore had a front bound of its own;
// the last record counted.
type oldFrontRecord struct {
	First uint64 `json:"first"`
}

// migrateFront moves the bound of an old front journal PATH.first, if there
// is one, into the log journal j (its TruncateFront), then deletes the old
// journal's files, its active file last. A crash in between leaves the old
// journal, and the next Open does it again: moving the bound is idempotent.
func migrateFront(path string, opts ministore.Options, j *ministore.Store[jsonline.Trusted]) error {
	old := path + ".first"
	if _, err := opts.FS.Stat(old); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	opts.Schema = "miniraft.front"
	f, err := ministore.Open[oldFrontRecord](old, &opts)
	if err != nil {
		return fmt.Errorf("miniraft: open the old log front: %w", err)
	}
	var first uint64
	if last := f.LastSeq(); last != 0 {
		r, err := f.Get(last)
		if err != nil {
			f.Close()
			return fmt.Errorf("miniraft: open the old log front: %w", err)
		}
		first = r.First
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("miniraft: open the old log front: %w", err)
	}
	if j.LastSeq() != 0 && first > j.FirstSeq() {
		if err := j.TruncateFront(first); err != nil {
			return fmt.Errorf("miniraft: move the old log front %d into the log: %w", first, err)
		}
	}
	dir, base := filepath.Split(old)
	dir = filepath.Clean(dir)
	names, err := opts.FS.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("miniraft: remove the old log front: %w", err)
	}
	var remove []string
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, base+".")
		if ok && (rest == "lock" || rest == "tmp" || rest != "" && strings.Trim(rest, "0123456789") == "") {
			remove = append(remove, name)
		}
	}
	for _, name := range append(remove, base) { // the active file last
		if err := opts.FS.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("miniraft: remove the old log front: %w", err)
		}
	}
	if err := opts.FS.SyncDir(dir); err != nil {
		return fmt.Errorf("miniraft: remove the old log front: %w", err)
	}
	return nil
}
