// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"io/fs"
	"os"
	"slices"

	"github.com/mini-go/mini/vfs"
)

// A JournalInfo describes a journal as it is on disk.
type JournalInfo struct {
	Path     string
	Segments []SegmentInfo // oldest first; the active file last
	Records  uint64        // records in all segments
	FirstSeq uint64        // 0 if there are no records; at or above Bound
	LastSeq  uint64        // 0 if there are no records
	Bytes    int64         // size of all segment files, preallocated space included
	// Bound is the journal's front bound (NAME.front, see TruncateFront),
	// or 0 if it has none. Records below it are not counted in Records.
	Bound uint64
	// Problem is the first bad header, record or gap found, as a
	// *JournalError (a torn tail matches ErrTornTail, damage ErrCorrupt,
	// an unknown version ErrVersion), or nil if the journal is sound.
	// Segments and the counts describe the journal up to it.
	Problem error
}

// A SegmentInfo describes one file of a journal.
type SegmentInfo struct {
	Path     string
	Format   Format
	Version  string // as written in the header, e.g. "1" or "0.1.4"
	FirstSeq uint64 // the header's base: the first record's sequence number
	Records  uint64
	Bytes    int64 // the file's size
	End      int64 // where its last good record ends
}

// Inspect reads every header and record of the journal at path, checking
// every checksum and sequence number, and describes what it found. It
// takes no lock and never writes; a file renamed or deleted under it (a
// rotation, a TruncateFront) makes it read again, as Stat does. The error
// is for failures to read (and an empty or missing journal is not one);
// damage is reported in JournalInfo.Problem.
//
// progress, if not nil, is called from time to time with the bytes read so
// far and the total, for a progress bar.
func Inspect(path string, progress func(read, total int64)) (*JournalInfo, error) {
	return inspectFS(vfs.OS, path, progress)
}

func inspectFS(fsys vfs.FS, path string, progress func(read, total int64)) (info *JournalInfo, err error) {
	var listed []segmentFile
	err = relist(statTries, func(last bool) (bool, error) {
		i, files, changed, err := inspect(fsys, path, progress)
		moved := errors.Is(err, fs.ErrNotExist) || listed != nil && !slices.Equal(files, listed)
		listed = files
		if changed && err != nil {
			return moved, relistError{err}
		}
		info = i
		if err == nil && !last && (changed && info.Problem != nil || boundProblem(path, info.Problem)) {
			// A rotation or a cut under the read (a file gone or
			// replaced, the bound read after the listing past what was
			// listed), or a write seen in part, is no damage. Read again
			// to tell; damage stays, and is the last pass's Problem.
			return moved, relistError{info.Problem}
		}
		return moved, err
	})
	return info, err
}

// inspect is Inspect; it returns the journal's files too, and whether what
// it found (its error, or the Problem) is what a writer changing the
// journal under it can cause.
func inspect(fsys vfs.FS, path string, fn func(read, total int64)) (*JournalInfo, []segmentFile, bool, error) {
	r := openSegments(fsys, path, os.O_RDONLY)
	defer r.close()
	if r.err != nil {
		return nil, nil, false, r.err
	}
	bound, berr := readBound(fsys, path)
	info := &JournalInfo{Path: path}
	if fn != nil {
		r.progress = &progress{fn: fn}
		for _, sf := range r.files {
			if st, err := fsys.Stat(sf.path); err == nil {
				r.progress.total += st.Size()
			}
		}
	}
	for r.next(0) {
		seg := SegmentInfo{Path: r.cur.sf.path, Format: r.s.hdr.format, Version: r.s.hdr.version, FirstSeq: r.s.hdr.base}
		for r.scan() {
			seg.Records++
		}
		seg.End = r.s.end
		if t := r.s.torn; t != nil {
			info.Problem = corruptAt(t.Path, t.Line, t.Offset, ErrTornTail)
		}
		if err := info.add(seg, r.cur.f); err != nil {
			return nil, r.files, r.changed, err
		}
	}
	var je *JournalError
	switch err := r.Err(); {
	case r.headerless:
		// A crash while the file was being created; Open moves it aside.
		info.add(SegmentInfo{Path: r.files[r.i].path, Bytes: r.headerlessSize}, nil)
		if r.headerlessSize > 0 {
			info.Problem = corruptAt(r.files[r.i].path, 1, 0, ErrTornTail)
		}
	case errors.As(err, &je):
		info.Problem = je
		if len(info.Segments) > r.i {
			break // found in its records
		}
		// Its header is bad, or it does not follow the one before.
		seg, h := SegmentInfo{Path: r.cur.sf.path}, r.cur.hdr
		if r.cur.err == nil {
			seg.Format, seg.Version, seg.FirstSeq = h.format, h.version, h.base
		}
		if err := info.add(seg, r.cur.f); err != nil {
			return nil, r.files, r.changed, err
		}
	case err != nil:
		return nil, r.files, r.changed, err
	}
	if err := inspectBound(path, bound, berr, info); err != nil {
		return nil, r.files, r.changed, err
	}
	return info, r.files, r.changed, nil
}

// add counts seg, read from the file f (if not nil), in the journal's
// totals.
func (info *JournalInfo) add(seg SegmentInfo, f vfs.File) error {
	if f != nil {
		var err error
		if seg.Bytes, err = f.Size(); err != nil {
			return err
		}
	}
	info.Segments = append(info.Segments, seg)
	info.Bytes += seg.Bytes
	if seg.Records > 0 {
		if info.FirstSeq == 0 {
			info.FirstSeq = seg.FirstSeq
		}
		info.LastSeq = seg.FirstSeq + seg.Records - 1
		info.Records += seg.Records
	}
	return nil
}

// Bounds returns the sequence numbers of the first and the last record of
// the journal at path (0, 0 if it holds none) without reading it all: it
// reads the header of every file and the newest file whole (see Stat). Like
// Replay, it takes no lock and never writes. Damage Stat reports as its
// Problem (a front bound that does not verify or fit) is its error.
func Bounds(path string) (first, last uint64, err error) {
	return boundsFS(vfs.OS, path)
}

func boundsFS(fsys vfs.FS, path string) (first, last uint64, err error) {
	info, err := Stat(path, &Options{FS: fsys})
	if err == nil && info.Problem != nil && !errors.Is(info.Problem, ErrTornTail) {
		err = info.Problem // damage that stays: a bound that does not verify or fit
	}
	if err != nil {
		return 0, 0, err
	}
	return info.FirstSeq, info.LastSeq, nil // Stat applies the front bound
}
