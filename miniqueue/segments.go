package miniqueue

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mini-go/mini/internal/vfs"
)

// segmentBases returns the first sequence number of every segment of the
// ministore journal whose active file is path, in ascending order: the
// sealed files NAME.NNN, then the active file NAME. It reads the header
// line of each, as documented by ministore ("// MINISTORE JOURNAL v1
// base=N crc=..."); a file whose header cannot be read is left out, which
// only means it is not used as a cut point.
//
// The queue cuts its journals only at these points, so that ministore's
// TruncateFront deletes whole files and never copies records; and only at
// a point at or below the journal's last record, so that a journal never
// becomes empty (an empty journal would not tell its next sequence number
// through ministore's API once reopened).
func segmentBases(fsys vfs.FS, path string) ([]uint64, error) {
	dir, name := filepath.Split(path)
	names, err := fsys.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil, err
	}
	var sealed []uint64
	active := uint64(0)
	buf := make([]byte, 128)
	for _, n := range names {
		suffix, isSeg := strings.CutPrefix(n, name+".")
		isSeg = isSeg && len(suffix) >= 3 && strings.Trim(suffix, "0123456789") == ""
		if n != name && !isSeg {
			continue
		}
		f, err := fsys.OpenFile(filepath.Join(dir, n), os.O_RDONLY, 0)
		if err != nil {
			continue // removed since the listing
		}
		k, _ := f.ReadAt(buf, 0)
		f.Close()
		base, ok := parseSegmentBase(buf[:k])
		switch {
		case !ok:
		case n == name:
			active = base
		default:
			sealed = append(sealed, base)
		}
	}
	slices.Sort(sealed)
	if active > 0 && (len(sealed) == 0 || active > sealed[len(sealed)-1]) {
		sealed = append(sealed, active)
	}
	return sealed, nil
}

// parseSegmentBase extracts N from a header "// MINISTORE JOURNAL v1 base=N ...".
func parseSegmentBase(b []byte) (uint64, bool) {
	line, _, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return 0, false
	}
	rest, ok := bytes.CutPrefix(line, []byte("// MINISTORE JOURNAL v1 base="))
	if !ok {
		return 0, false
	}
	num, _, _ := bytes.Cut(rest, []byte(" "))
	n, err := strconv.ParseUint(string(num), 10, 64)
	return n, err == nil && n > 0
}

// cutPoint returns the greatest base in bases that is at most limit, or 0.
func cutPoint(bases []uint64, limit uint64) uint64 {
	var t uint64
	for _, b := range bases {
		if b <= limit {
			t = b
		}
	}
	return t
}
