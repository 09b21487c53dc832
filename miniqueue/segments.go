// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// segmentBases returns the first sequence number of every segment of a
// ministore journal, in ascending order: a cut past one of them frees a
// file.
func segmentBases(s interface {
	Segments() []ministore.SegmentInfo
}) []uint64 {
	segs := s.Segments()
	bases := make([]uint64, len(segs))
	for i, seg := range segs {
		bases[i] = seg.FirstSeq
	}
	return bases
}

// journalExists reports whether any file of the ministore journal path
// exists: its active file, or a sealed segment path.NNN (a crash during a
// rotation can leave sealed segments and no active file).
func journalExists(fsys vfs.FS, path string) (bool, error) {
	names, err := fsys.ReadDir(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	base := filepath.Base(path)
	for _, name := range names {
		if name == base {
			return true, nil
		}
		if num, ok := strings.CutPrefix(name, base+"."); ok && len(num) >= 3 && strings.Trim(num, "0123456789") == "" {
			return true, nil
		}
	}
	return false, nil
}
