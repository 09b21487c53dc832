package ministore

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mini-go/mini/internal/vfs"
)

// A JournalInfo describes a journal as it is on disk.
type JournalInfo struct {
	Path     string
	Segments []SegmentInfo // oldest first; the active file last
	Records  uint64        // records in all segments
	FirstSeq uint64        // 0 if there are no records
	LastSeq  uint64        // 0 if there are no records
	Bytes    int64         // size of all segment files, preallocated space included
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
// takes no lock and never writes. The error is for failures to read (and
// an empty or missing journal is not one); damage is reported in
// JournalInfo.Problem.
func Inspect(path string) (*JournalInfo, error) { return inspectFS(vfs.OS, path) }

func inspectFS(fsys vfs.FS, path string) (*JournalInfo, error) {
	files, err := listSegments(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("ministore: list %s: %w", path, err)
	}
	info := &JournalInfo{Path: path}
	expect := uint64(0)
	for i, sf := range files {
		seg, next, problem, err := inspectSegment(fsys, sf.path, i == len(files)-1, expect)
		if err != nil {
			return nil, err
		}
		if seg != nil {
			info.Segments = append(info.Segments, *seg)
			info.Bytes += seg.Bytes
			if seg.Records > 0 {
				if info.FirstSeq == 0 {
					info.FirstSeq = seg.FirstSeq
				}
				info.LastSeq = seg.FirstSeq + seg.Records - 1
				info.Records += seg.Records
			}
		}
		if problem != nil {
			info.Problem = problem
			break
		}
		expect = next
	}
	return info, nil
}

// inspectSegment reads one segment whole. It returns what it found, the
// next expected sequence number, and the first problem.
func inspectSegment(fsys vfs.FS, path string, newest bool, expect uint64) (*SegmentInfo, uint64, error, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, 0, nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, 0, nil, err
	}
	seg := &SegmentInfo{Path: path, Bytes: size}
	s, err := newScanner(path, f, newest, max(expect, 1))
	if err == errNoHeader {
		if newest && size == 0 {
			return seg, expect, nil, nil // a file created but never written
		}
		return seg, 0, corruptAt(path, 1, 0, errBadMagic), nil
	}
	var je *JournalError
	if errors.As(err, &je) {
		return seg, 0, je, nil
	}
	if err != nil {
		return nil, 0, nil, err
	}
	seg.Format, seg.Version, seg.FirstSeq = s.hdr.format, s.hdr.version, s.hdr.base
	if expect != 0 && s.hdr.base != expect {
		return seg, 0, &JournalError{Path: path, Line: 1, Err: fmt.Errorf(
			"%w: segment starts at sequence number %d, but the previous one ends at %d (a segment is missing)",
			ErrCorrupt, s.hdr.base, expect-1)}, nil
	}
	for {
		if _, ok := s.next(); !ok {
			break
		}
		seg.Records++
	}
	seg.End = s.end
	switch {
	case errors.As(s.err, &je):
		return seg, 0, je, nil
	case s.err != nil && s.err != io.EOF:
		return nil, 0, nil, s.err
	case s.torn != nil:
		return seg, 0, corruptAt(path, s.torn.Line, s.torn.Offset, ErrTornTail), nil
	}
	return seg, s.expect, nil, nil
}
