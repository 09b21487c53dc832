// SPDX-License-Identifier: MIT OR Apache-2.0

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
//
// progress, if not nil, is called from time to time with the bytes read so
// far and the total, for a progress bar.
func Inspect(path string, progress func(read, total int64)) (*JournalInfo, error) {
	return inspectFS(vfs.OS, path, progress)
}

func inspectFS(fsys vfs.FS, path string, progress func(read, total int64)) (*JournalInfo, error) {
	files, err := listSegments(fsys, path)
	if err != nil {
		return nil, listError(path, err)
	}
	info := &JournalInfo{Path: path}
	var pr *progressReader
	if progress != nil {
		pr = &progressReader{fn: progress}
		for _, sf := range files {
			if st, err := fsys.Stat(sf.path); err == nil {
				pr.total += st.Size()
			}
		}
	}
	expect := uint64(0)
	crashable := headerlessIsCrash(fsys, files)
	for i, sf := range files {
		seg, next, problem, err := inspectSegment(fsys, sf.path, i == len(files)-1, i == len(files)-1 && sf.num == 0 && crashable, expect, pr)
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
// active says it is the journal's active file, and the newest, and that a
// crash can have left it without a header (headerlessIsCrash).
func inspectSegment(fsys vfs.FS, path string, newest, active bool, expect uint64, pr *progressReader) (*SegmentInfo, uint64, error, error) {
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
	var r io.Reader = f
	if pr != nil {
		pr.r = f
		r = pr
	}
	s, err := newScanner(path, r, newest, max(expect, 1))
	if err == errNoHeader {
		switch {
		case !active:
			return seg, 0, corruptAt(path, 1, 0, errBadMagic), nil
		case size == 0:
			return seg, expect, nil, nil // a file created but never written
		}
		// A crash while the file was being created; Open moves it aside.
		return seg, 0, corruptAt(path, 1, 0, ErrTornTail), nil
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

// progressReader counts the bytes read through it and reports every MiB.
type progressReader struct {
	r           io.Reader
	fn          func(read, total int64)
	read, total int64
	reported    int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	if p.read-p.reported >= 1<<20 || err == io.EOF {
		p.reported = p.read
		p.fn(p.read, max(p.total, p.read))
	}
	return n, err
}

// Bounds returns the sequence numbers of the first and the last record of
// the journal at path (0, 0 if it holds none) without reading it all: it
// reads the header of every file and the newest file whole. Like Replay, it
// takes no lock and never writes.
func Bounds(path string) (first, last uint64, err error) {
	return boundsFS(vfs.OS, path)
}

func boundsFS(fsys vfs.FS, path string) (first, last uint64, err error) {
	files, err := listSegments(fsys, path)
	if err != nil || len(files) == 0 {
		return 0, 0, err
	}
	base := uint64(0)
	for i, sf := range files {
		f, err := fsys.OpenFile(sf.path, os.O_RDONLY, 0)
		if err != nil {
			return 0, 0, err
		}
		h, _, err := readHeader(f, sf.path)
		f.Close()
		if err == errNoHeader && i == len(files)-1 && sf.num == 0 && headerlessIsCrash(fsys, files) {
			break
		}
		if err == errNoHeader {
			return 0, 0, corruptAt(sf.path, 1, 0, errBadMagic)
		}
		if err != nil {
			return 0, 0, err
		}
		if h.base == 0 {
			// A Rust file without base: positions count from the start,
			// so the whole journal must be read.
			info, err := inspectFS(fsys, path, nil)
			if err != nil {
				return 0, 0, err
			}
			return info.FirstSeq, info.LastSeq, nil
		}
		if i == 0 {
			base = h.base
		}
	}
	newest := files[len(files)-1]
	seg, _, problem, err := inspectSegment(fsys, newest.path, true, newest.num == 0, 0, nil)
	if err != nil {
		return 0, 0, err
	}
	if problem != nil && !errors.Is(problem, ErrTornTail) {
		return 0, 0, problem
	}
	if seg.Records == 0 {
		if seg.FirstSeq <= base { // the journal is empty
			return 0, 0, nil
		}
		return base, seg.FirstSeq - 1, nil
	}
	return base, seg.FirstSeq + seg.Records - 1, nil
}
