// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/mini-go/mini/internal/vfs"
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
//     over, a few times, before it gives up with the error;
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
func Stat(path string, opts *Options) (*JournalInfo, error) {
	fsys := vfs.FS(vfs.OS)
	if opts != nil && opts.FS != nil {
		fsys = opts.FS
	}
	var err error
	for try := range statTries {
		if try > 0 {
			time.Sleep(relistPause)
		}
		var info *JournalInfo
		info, err = statOnce(fsys, path)
		if err == nil {
			return info, nil
		}
		if !errors.Is(err, errRelist) {
			return nil, err
		}
	}
	return nil, errors.Unwrap(err)
}

// statTries is how many times Stat lists a journal that keeps changing
// under it before it gives up.
const statTries = 5

func statOnce(fsys vfs.FS, path string) (*JournalInfo, error) {
	files, err := listSegments(fsys, path)
	if err != nil {
		return nil, listError(path, err)
	}
	info := &JournalInfo{Path: path}
	if len(files) == 0 {
		return info, nil
	}
	// Headers and sizes of the sealed segments.
	sealed := files[:len(files)-1]
	for _, sf := range sealed {
		seg, err := statSealed(fsys, sf.path)
		if err != nil {
			return nil, err
		}
		if seg == nil { // no base in the header: a Rust journal
			return inspectFS(fsys, path, nil)
		}
		info.Segments = append(info.Segments, *seg)
	}
	newest := files[len(files)-1]
	crashable := newest.num == 0 && headerlessIsCrash(fsys, files)
	seg, _, problem, err := inspectSegment(fsys, newest.path, true, crashable, 0, nil)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, relistError{fmt.Errorf("ministore: open %s: %w", newest.path, err)}
		}
		return nil, err
	}
	switch {
	case problem == nil, errors.Is(problem, ErrTornTail):
		// A torn tail is a write in flight (or the last one of a crash).
	default:
		// A write seen in part can look like damage: read again to tell.
		return nil, relistError{problem}
	}
	if seg.FirstSeq == 0 && (seg.Records > 0 || len(info.Segments) > 0) {
		// No base to count the sealed segments' records with (a Rust
		// file, or an active file a crash left without its header).
		return inspectFS(fsys, path, nil)
	}
	// A sealed segment holds the records up to the next one's base.
	for i := range info.Segments {
		s := &info.Segments[i]
		next := seg.FirstSeq
		if i+1 < len(info.Segments) {
			next = info.Segments[i+1].FirstSeq
		}
		if next < s.FirstSeq {
			return nil, relistError{&JournalError{Path: s.Path, Line: 1, Err: fmt.Errorf(
				"%w: segment starts at sequence number %d, after the next one's %d", ErrCorrupt, s.FirstSeq, next)}}
		}
		s.Records = next - s.FirstSeq
	}
	info.Segments = append(info.Segments, *seg)
	for _, s := range info.Segments {
		info.Bytes += s.Bytes
		info.Records += s.Records
		if s.Records > 0 {
			if info.FirstSeq == 0 {
				info.FirstSeq = s.FirstSeq
			}
			info.LastSeq = s.FirstSeq + s.Records - 1
		}
	}
	return info, nil
}

// statSealed reads the header and the size of a sealed segment; nil
// without error if the header has no base.
func statSealed(fsys vfs.FS, path string) (*SegmentInfo, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, relistError{fmt.Errorf("ministore: open %s: %w", path, err)}
		}
		return nil, err
	}
	defer f.Close()
	h, _, err := readHeader(f, path)
	if err == errNoHeader {
		err = corruptAt(path, 1, 0, errBadMagic)
	}
	if err != nil {
		return nil, err
	}
	if h.base == 0 {
		return nil, nil
	}
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	return &SegmentInfo{Path: path, Format: h.format, Version: h.version, FirstSeq: h.base, Bytes: size}, nil
}
