// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errNoHeader means a segment is empty or holds only the start of a header:
// a crash while the Rust crate created it. Only the newest segment may be
// so (see segReader.header).
var errNoHeader = errors.New("segment has no header")

// scanner reads the records of one segment file, checking every line.
//
// At the first line that does not verify it decides between a torn tail
// and corruption. In a sealed segment every bad line is corruption: sealed
// segments were fsync'd whole before they were sealed. In the newest
// segment, a tailJudge (tail.go) reads the rest of the file and applies the
// one rule of docs/FORMAT.md: the bytes are a torn tail only if a crash can
// have left them.
type scanner struct {
	path   string
	src    atReader      // the file after the header
	br     *bufio.Reader // reads src
	hdr    header
	newest bool

	off    int64  // offset of the next line
	line   int    // line number of the next line
	expect uint64 // sequence number the next record must have
	long   []byte // holds lines longer than the bufio buffer

	recOff int64 // offset of the record last returned
	end    int64 // end of the last good record: the log's logical end
	// proven is the highest "sync" field of the good records: every record
	// up to it was durable when one of them was written.
	proven uint64
	torn   *TornTail
	// dataEnd is the end of the last non-zero byte of a torn tail: what a
	// cut must save.
	dataEnd int64
	// judged says err is the tail judge's: the end of the newest segment
	// is not what a crash leaves. A reader racing a writer can see that
	// too (a page copied in part, the next one whole): readLog reads again.
	judged bool
	err    error
}

const scanBufSize = 256 << 10

// newScanner reads the header of the segment file f and returns a scanner
// of its records up to byte end. base is the first sequence number to
// assume when the header names none (files of the Rust crate). It is for
// reading one segment on its own (an index); readers of the journal go
// through a segReader.
func newScanner(path string, f io.ReaderAt, end int64, newest bool, base uint64) (*scanner, error) {
	h, n, err := readHeader(f, path, nil)
	if err == errNoHeader {
		err = corruptAt(path, 1, 0, errBadMagic)
	}
	if err != nil {
		return nil, err
	}
	if h.base == 0 {
		h.base = base
	}
	s := &scanner{}
	s.start(path, f, bufio.NewReaderSize(nil, scanBufSize), newest, h, n)
	s.src.end = end
	return s, nil
}

// start makes s read the records of the segment file f, whose header h
// (with its base) ends at off, through br; the buffer for long lines is
// kept from the segment before.
func (s *scanner) start(path string, f io.ReaderAt, br *bufio.Reader, newest bool, h header, off int64) {
	*s = scanner{path: path, br: br, hdr: h, newest: newest, off: off, line: 2, expect: h.base, end: off,
		long: s.long[:0], src: atReader{r: f, off: off, end: 1 << 62}}
	br.Reset(&s.src)
}

// seek moves the scanner to record seq, which starts at byte off of the
// file (every line after the header is one record).
func (s *scanner) seek(off int64, seq uint64) {
	s.src.off = off
	s.br.Reset(&s.src)
	s.off, s.end = off, off
	s.line = 2 + int(seq-s.hdr.base)
	s.expect = seq
}

// readLine returns the next line without its '\n', whether it had one, and
// io.EOF when nothing is left. The line is valid until the next call.
//
// A line longer than the buffer that holds a zero byte is no record (a
// record line never does): it is returned, incomplete, only up to the
// buffer that shows the zero, and the rest stays to be read, so that a torn
// write followed by megabytes of preallocated zeros is not collected into
// memory.
func (s *scanner) readLine() (line []byte, complete bool, err error) {
	line, err = s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull && bytes.IndexByte(line, 0) >= 0 {
		// Zeros (preallocated space, most often): not a line to keep
		// whole, and next hands it to bad before anything is read on, so
		// it is judged where it lies, in the reader's buffer, rather than
		// copied (a buffer's worth, for every Open after a crash).
		s.off += int64(len(line))
		return line, false, nil
	}
	if err == bufio.ErrBufferFull {
		s.long = append(s.long[:0], line...)
		s.off += int64(len(line))
		for err == bufio.ErrBufferFull && bytes.IndexByte(line, 0) < 0 {
			line, err = s.br.ReadSlice('\n')
			s.long = append(s.long, line...)
			s.off += int64(len(line))
		}
		line = s.long
		switch {
		case err == nil:
			return line[:len(line)-1], true, nil
		case err == bufio.ErrBufferFull || err == io.EOF:
			return line, false, nil
		}
		return line, false, err
	}
	s.off += int64(len(line))
	if err == nil {
		return line[:len(line)-1], true, nil
	}
	if err == io.EOF && len(line) > 0 {
		return line, false, nil
	}
	return line, false, err
}

// next returns the next good record. At the end of the records it returns
// false with s.err nil (clean end or torn tail, see s.torn) or set.
func (s *scanner) next() (record, bool) {
	if s.err != nil {
		return record{}, false
	}
	start, lineNo := s.off, s.line
	line, complete, err := s.readLine()
	if err == io.EOF {
		return record{}, false
	}
	if err != nil {
		s.err = err
		return record{}, false
	}
	s.line++
	var rec record
	perr := errIncomplete
	if complete {
		rec, perr = parseLine(s.hdr.format, line)
	}
	if perr == nil && s.hdr.format == FormatV1 && rec.seq != s.expect {
		// A record, whole and valid, in the wrong place: no crash writes one.
		s.err = corruptAt(s.path, lineNo, start, sequenceError(rec.seq, s.expect))
		return record{}, false
	}
	if perr != nil {
		if len(line) > 0 && line[0] == 0 {
			perr = errGarbageTail
		}
		s.bad(start, lineNo, perr, line, complete)
		return record{}, false
	}
	if s.hdr.format == FormatPlain {
		rec.seq = s.expect
	}
	s.proven = max(s.proven, rec.synced)
	s.expect++
	s.recOff = start
	s.end = s.off
	return rec, true
}

// bad handles the first line that does not verify, which starts at offset
// start and was read as line (with its '\n' if complete). In a sealed
// segment it is corruption. In the newest one the rest of the file is read
// and judged (see tail.go): it is a torn tail, the preallocated space (only
// zeros), or corruption.
func (s *scanner) bad(start int64, lineNo int, reason error, line []byte, complete bool) {
	if !s.newest {
		s.err = corruptAt(s.path, lineNo, start, reason)
		return
	}
	j := newTailJudge(s.hdr.format, s.expect, start)
	j.feed(line)
	if complete {
		j.feed([]byte{'\n'})
	}
	j.off = s.off // a line is returned whole, or up to what was read
	for j.why == nil {
		// Judge the bytes in the reader's buffer, without copying them.
		if _, err := s.br.Peek(1); err == io.EOF {
			break
		} else if err != nil {
			s.err = err
			return
		}
		b, _ := s.br.Peek(s.br.Buffered())
		j.feed(b)
		s.br.Discard(len(b))
	}
	j.finish()
	s.off = j.off
	switch {
	case j.why != nil:
		s.err = corruptAt(s.path, lineNo, start, fmt.Errorf("%w; not a torn write: %w", reason, j.why))
		s.judged = true
	case j.nonZero == 0:
		// preallocated space
	default:
		s.torn = &TornTail{Path: s.path, Line: lineNo, Offset: start, Bytes: j.nonZero}
		s.dataEnd = j.dataEnd
	}
}

func countNonZeroBytes(b []byte) int {
	// Preallocated space is megabytes of zeros: compare it a block at a
	// time (bytes.Equal is vectorized) and count only in blocks that are not.
	n := 0
	for len(b) > 0 {
		k := min(len(b), len(zeroBlock))
		if !bytes.Equal(b[:k], zeroBlock[:k]) {
			for _, c := range b[:k] {
				if c != 0 {
					n++
				}
			}
		}
		b = b[k:]
	}
	return n
}

var zeroBlock [4096]byte

func allZero(b []byte) bool { return countNonZeroBytes(b) == 0 }
