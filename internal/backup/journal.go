// SPDX-License-Identifier: MIT OR Apache-2.0

package backup

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/mini-go/mini/vfs"
)

// JournalExists reports whether any file of the ministore journal path
// exists: its active file, or a sealed segment path.NNN (a crash during a
// rotation can leave sealed segments and no active file).
func JournalExists(fsys vfs.FS, path string) (bool, error) {
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
