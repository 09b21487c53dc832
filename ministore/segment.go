// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mini-go/mini/vfs"
)

// segment is one file of a journal: the active file NAME (num 0) or a
// sealed file NAME.001, NAME.002, ...
type segment struct {
	path string
	num  int
	hdr  header
	base uint64 // first sequence number
	last uint64 // last sequence number; base-1 when empty
	f    vfs.File
	size int64 // end of the last record
	// alloc is the file's physical size: size plus preallocated zeros.
	alloc int64

	idxMu sync.Mutex
	index []int64 // record offsets, base first; nil until needed
}

func (s *segment) empty() bool { return s.last < s.base }

// minSegmentWidth is the digits of a sealed segment's number when the
// journal has no sealed segment yet: NAME.001, as the Rust crates 0.1.x.
const minSegmentWidth = 3

// segmentName is the file name of sealed segment num, its number written
// with at least width digits.
func segmentName(path string, num, width int) string {
	return fmt.Sprintf("%s.%0*d", path, width, num)
}

// segmentFile is one journal file found in the directory.
type segmentFile struct {
	path  string
	num   int
	width int // digits of the number in the name; 0 for the active file
}

// segmentWidth is the width to name new sealed segments with: the widest
// of the existing names, so a journal whose segments the current Rust
// crates named NAME.000001 goes on with NAME.000002, not NAME.002.
func segmentWidth(files []segmentFile) int {
	width := minSegmentWidth
	for _, f := range files {
		width = max(width, f.width)
	}
	return width
}

// listSegments returns the journal's files, sealed ones by number, then the
// active file if it exists.
func listSegments(fsys vfs.FS, path string) ([]segmentFile, error) {
	dir, base := filepath.Split(path)
	names, err := fsys.ReadDir(cmp.Or(dir, "."))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var files []segmentFile
	active := false
	for _, name := range names {
		if name == base {
			active = true
			continue
		}
		suffix, ok := strings.CutPrefix(name, base+".")
		if !ok || len(suffix) < 3 || strings.Trim(suffix, "0123456789") != "" {
			continue
		}
		n, err := strconv.Atoi(suffix)
		if err != nil || n <= 0 {
			continue
		}
		files = append(files, segmentFile{path: filepath.Join(dir, name), num: n, width: len(suffix)})
	}
	slices.SortFunc(files, func(a, b segmentFile) int { return a.num - b.num })
	for i := 1; i < len(files); i++ {
		if files[i].num == files[i-1].num { // NAME.001 and NAME.000001
			return nil, corruptAt(files[i].path, 0, 0, fmt.Errorf("%s is sealed segment %d too", files[i-1].path, files[i].num))
		}
	}
	if active {
		files = append(files, segmentFile{path: filepath.Join(dir, base), num: 0})
	}
	// A named pipe would block the open, a device would be read forever:
	// refuse every file that is not a regular one before opening any.
	for _, f := range files {
		if err := checkRegular(fsys, f.path); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// checkRegular returns an error matching ErrNotRegular (and ErrIsDir for a
// directory) if path exists and is not a regular file. A symbolic link is
// refused too: the lock (path + ".lock") taken through it is not the lock
// of the journal it points to, so two writers could append to one file,
// and rotation would rename the link, not the file.
func checkRegular(fsys vfs.FS, path string) error {
	info, err := vfs.Lstat(fsys, path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone since the listing: the readers list again
		}
		return fmt.Errorf("ministore: %w", err)
	}
	m := info.Mode()
	if m.IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch {
	case m.IsDir():
		return fmt.Errorf("%w: %w: %s is a directory", ErrNotRegular, ErrIsDir, path)
	case m&fs.ModeSymlink != 0:
		kind = "a symbolic link (open the file it points to)"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	}
	return fmt.Errorf("%w: %s is %s", ErrNotRegular, path, kind)
}

// maxHeaderLine bounds a header line, newline included: a first line
// without a newline in its first maxHeaderLine bytes is not a header.
const maxHeaderLine = 256

// longHeaderError is the reason a first line of maxHeaderLine bytes or
// more, line, is no header: it does not start with the magic, or it does
// and is too long.
func longHeaderError(line []byte) error {
	if !bytes.HasPrefix(line, []byte(magic)) {
		return errBadMagic
	}
	return errBadHeader
}

// readHeader reads the first line of a segment file into buf, which holds
// maxHeaderLine bytes (nil: a buffer of its own).
func readHeader(f io.ReaderAt, path string, buf []byte) (header, int64, error) {
	if buf == nil {
		buf = make([]byte, maxHeaderLine)
	}
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return header{}, 0, err
	}
	i := bytes.IndexByte(buf[:n], '\n')
	if i < 0 {
		if n < len(buf) && headerMissing(buf[:n]) {
			return header{}, 0, errNoHeader
		}
		if n < len(buf) {
			return header{}, 0, corruptAt(path, 1, 0, errBadMagic)
		}
		return header{}, 0, corruptAt(path, 1, 0, longHeaderError(buf[:n]))
	}
	h, err := parseHeader(buf[:i])
	if err != nil {
		return header{}, 0, corruptAt(path, 1, 0, err)
	}
	return h, int64(i + 1), nil
}

// lastRecord finds the sequence number of the last record of a sealed
// FormatV1 segment by reading backwards from its end, so opening a journal
// does not read every segment. It returns base-1 for a segment with no
// records. buf is reused for the reads, and grown if need be.
func lastRecord(f vfs.File, path string, hdrLen int64, base uint64, buf *[]byte) (uint64, int64, error) {
	size, err := f.Size()
	if err != nil {
		return 0, 0, err
	}
	if size == hdrLen {
		return base - 1, size, nil
	}
	for chunk := int64(4096); ; chunk *= 4 {
		start := max(hdrLen, size-chunk)
		if int64(cap(*buf)) < size-start {
			*buf = make([]byte, size-start)
		}
		buf := (*buf)[:size-start]
		if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
			return 0, 0, err
		}
		if buf[len(buf)-1] != '\n' {
			return 0, 0, corruptAt(path, 0, size, errIncomplete)
		}
		i := bytes.LastIndexByte(buf[:len(buf)-1], '\n')
		if i < 0 && start > hdrLen {
			continue // the last line is longer than chunk
		}
		lineStart := start + int64(i+1)
		rec, err := parseLine(FormatV1, buf[i+1:len(buf)-1])
		if err != nil {
			return 0, 0, corruptAt(path, 0, lineStart, err)
		}
		if rec.seq < base {
			return 0, 0, corruptAt(path, 0, lineStart, sequenceError(rec.seq, base))
		}
		return rec.seq, size, nil
	}
}

func dirOf(path string) string { return filepath.Dir(path) }
