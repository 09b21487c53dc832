// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/mini-go/mini/vfs"
)

// Stat describes the journal at path from its files, without reading
// every record: each file's header and size, and the newest file whole (a
// sealed segment holds the records from its header's base up to the next
// segment's). It is cheap enough to call on a journal of any length, and
// fits a journal another process is writing:
//
//   - it takes no lock and never writes;
//   - a record half written at the end of the newest file is the end of
//     the journal, not an error (JournalInfo.Problem stays nil);
//   - if a file disappears or is replaced while Stat reads (a rotation, a
//     TruncateFront, MaxSegments), it lists the files again and starts
//     over; it gives up with the error after five passes in a row over the
//     same files (or 200 passes of a journal whose files keep changing);
//   - damage (a header that does not verify, sealed segments that do not
//     follow each other, a bad record in the newest file that a write in
//     flight cannot explain) is an error naming the file and the offset,
//     matching ErrCorrupt, as for Records.
//
// A SegmentInfo's End is known only for the newest file (0 for sealed
// ones: they are not read). Records in a sealed segment are counted from
// the headers, so damage inside a sealed segment is not seen: Inspect and
// Records read every record. A journal in the Rust crate's format (FormatPlain
// without "base=") has no sequence numbers in its headers: Stat reads it
// whole, like Inspect.
//
// Of opts, only FS is used; nil means the operating system's files.
func Stat(path string, opts *Options) (info *JournalInfo, err error) {
	fsys := opts.forReading().FS
	var listed []segmentFile
	err = relist(statTries, func(last bool) (bool, error) {
		var files []segmentFile
		info, files, err = statOnce(fsys, path)
		changed := listed != nil && !slices.Equal(files, listed)
		listed = files
		if err == nil && !last && boundProblem(path, info.Problem) {
			// The bound is read after the listing: a TruncateFront
			// racing it (a rotation, then a cut past what was listed),
			// or its update seen half copied, is no damage. Read again
			// to tell; damage stays, and is the last pass's Problem.
			return changed, relistError{info.Problem}
		}
		return changed, err
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}

// boundProblem reports whether problem is about the front bound of the
// journal at path (its file does not verify, or its bound does not fit the
// segments).
func boundProblem(path string, problem error) bool {
	var je *JournalError
	return errors.As(problem, &je) && je.Path == boundPath(path)
}

// statTries is how many passes in a row over the same files Stat and
// Inspect make when they seem to change under them before they give up.
const statTries = 5

// statOnce makes one pass; it also returns the files it listed.
func statOnce(fsys vfs.FS, path string) (*JournalInfo, []segmentFile, error) {
	r := openSegments(fsys, path, os.O_RDONLY)
	defer r.close()
	info, err := statFiles(fsys, path, r)
	return info, r.files, err
}

// statFiles is statOnce over the files r lists.
func statFiles(fsys vfs.FS, path string, r *segReader) (*JournalInfo, error) {
	bound, berr := readBound(fsys, path) // after the listing, before the records
	info := &JournalInfo{Path: path}
	for r.next(0) {
		h := r.cur.hdr
		if h.base == 0 { // no base in the header: a Rust journal
			return inspectFS(fsys, path, nil)
		}
		seg := SegmentInfo{Path: r.cur.sf.path, Format: h.format, Version: h.version, FirstSeq: h.base}
		size, err := r.cur.f.Size()
		if err != nil {
			return nil, fmt.Errorf("ministore: stat %s: %w", seg.Path, err)
		}
		seg.Bytes = size
		if r.newest {
			for r.scan() {
				seg.Records++
			}
			seg.End = r.s.end
		}
		info.Segments = append(info.Segments, seg)
	}
	if err := r.Err(); err != nil {
		if r.changed {
			// A file gone, or the end of the newest one not what a crash
			// leaves (a write seen in part): read again to tell.
			return nil, relistError{err}
		}
		return nil, err
	}
	// The files opened are the ones listed only if the listing is still
	// the same: a rotation adds a name, a cut or retention removes one. A
	// newest file opened after a rotation is the new one, and the records
	// of the file renamed would be missed without a word.
	if again, err := listSegments(fsys, path); err != nil || !slices.Equal(again, r.files) {
		return nil, relistError{fmt.Errorf("ministore: stat %s: the journal's files changed while they were read", path)}
	}
	if r.headerless {
		if len(info.Segments) > 0 {
			// No base to count the sealed segments' records with.
			return inspectFS(fsys, path, nil)
		}
		info.Segments = append(info.Segments, SegmentInfo{Path: r.files[r.i].path, Bytes: r.headerlessSize})
	}
	// A sealed segment holds the records up to the next one's base.
	for i := 0; i+1 < len(info.Segments); i++ {
		s, next := &info.Segments[i], info.Segments[i+1].FirstSeq
		if next < s.FirstSeq {
			return nil, &JournalError{Path: s.Path, Line: 1, Err: fmt.Errorf(
				"%w: segment starts at sequence number %d, after the next one's %d", ErrCorrupt, s.FirstSeq, next)}
		}
		s.Records = next - s.FirstSeq
	}
	segs := info.Segments
	info.Segments = nil
	for _, s := range segs {
		info.add(s, nil) // the totals
	}
	if err := inspectBound(path, bound, berr, info); err != nil {
		return nil, err
	}
	return info, nil
}
