package ministore

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// errNoHeader means a segment is empty or holds only the start of a header:
// a crash while the Rust crate created it. Only the newest segment may be so.
var errNoHeader = errors.New("segment has no header")

// scanner reads the records of one segment file, checking every line.
//
// At the first bad line it decides between a torn tail and corruption. In
// a sealed segment every bad line is corruption: sealed segments were
// fsync'd whole before they were sealed. In the newest segment a bad line is
// a torn tail when nothing after it proves it had been made durable:
//
//   - zero bytes to the end of the file are preallocated space, not damage;
//   - a complete, valid line whose sequence number is wrong is corruption
//     (a torn write leaves garbage or zeros first, never a stray record);
//   - otherwise the rest of the file is read: a valid line whose sequence
//     number is below the expected one, or whose "sync" field says the
//     expected record was already durable when it was written, proves
//     corruption; anything else is the unsynced end of the log.
//
// In FormatPlain, which has no such fields, any valid line after a bad one
// is corruption.
type scanner struct {
	path   string
	br     *bufio.Reader
	hdr    header
	newest bool

	off    int64  // offset of the next line
	line   int    // line number of the next line
	expect uint64 // sequence number the next record must have
	long   []byte // holds lines longer than the bufio buffer
	// droppedNonZero counts the bytes, not zero, that readLine left out
	// of the line it returned last (see readLine).
	droppedNonZero int64

	recOff int64 // offset of the record last returned
	end    int64 // end of the last good record: the log's logical end
	// proven is the highest "sync" field of the good records: every record
	// up to it was durable when one of them was written.
	proven uint64
	torn   *TornTail
	err    error
}

const scanBufSize = 256 << 10

// newScanner reads the header of a segment. base is the first sequence
// number to assume when the header names none (files of the Rust crate).
func newScanner(path string, r io.Reader, newest bool, base uint64) (*scanner, error) {
	s := &scanner{path: path, br: bufio.NewReaderSize(r, scanBufSize), newest: newest, line: 1}
	line, complete, err := s.readLine()
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(line) >= maxHeaderLine {
		// Longer than any header; judged as readHeader judges it, which
		// sees only the first maxHeaderLine bytes.
		head := line[:maxHeaderLine]
		if bytes.HasPrefix([]byte(magic), head) || allZero(head) {
			return s, errNoHeader
		}
		return nil, corruptAt(path, 1, 0, errBadHeader)
	}
	if !complete {
		if bytes.HasPrefix([]byte(magic), line) || allZero(line) {
			return s, errNoHeader
		}
		return nil, corruptAt(path, 1, 0, errBadMagic)
	}
	h, err := parseHeader(line)
	if err != nil {
		return nil, corruptAt(path, 1, 0, err)
	}
	if h.base == 0 {
		h.base = base
	}
	s.hdr = h
	s.expect = h.base
	s.line = 2
	s.end = s.off
	return s, nil
}

// seek moves the scanner to record seq, which starts at byte off of the
// file r (every line after the header is one record).
func (s *scanner) seek(r io.ReaderAt, off int64, seq uint64) {
	s.br.Reset(io.NewSectionReader(r, off, 1<<62))
	s.off, s.end = off, off
	s.line = 2 + int(seq-s.hdr.base)
	s.expect = seq
}

// readLine returns the next line without its '\n', whether it had one, and
// io.EOF when nothing is left. The line is valid until the next call.
//
// A long line that holds a zero byte is no record (a record line never
// does): it is kept only up to the buffer that shows the zero, and the
// rest is counted as it streams by (s.droppedNonZero of its bytes are not
// zero, the newline left out), so that a torn write followed by
// megabytes of preallocated zeros is not collected into memory.
func (s *scanner) readLine() (line []byte, complete bool, err error) {
	s.droppedNonZero = 0
	var dropped int64
	line, err = s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.long = append(s.long[:0], line...)
		dropping := bytes.IndexByte(line, 0) >= 0
		for err == bufio.ErrBufferFull {
			line, err = s.br.ReadSlice('\n')
			if !dropping {
				s.long = append(s.long, line...)
				dropping = bytes.IndexByte(line, 0) >= 0
				continue
			}
			dropped += int64(len(line))
			s.droppedNonZero += int64(countNonZeroBytes(line))
			if err == nil {
				s.droppedNonZero-- // the newline
			}
		}
		line = s.long
		if dropped > 0 {
			s.off += int64(len(line)) + dropped
			if err == nil {
				return line, true, nil // the newline went with the dropped bytes
			}
			if err == io.EOF {
				return line, false, nil
			}
			return line, false, err
		}
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
	if len(line) > 0 && line[0] == 0 {
		// Preallocated space, unless something other than zeros follows.
		s.bad(start, lineNo, errGarbageTail, true, s.nonZero(line, complete), false)
		return record{}, false
	}
	if !complete {
		s.bad(start, lineNo, errIncomplete, false, s.nonZero(line, false), false)
		return record{}, false
	}
	rec, perr := parseLine(s.hdr.format, line)
	if perr == nil && s.hdr.format == FormatV1 && rec.seq != s.expect {
		s.bad(start, lineNo, sequenceError(rec.seq, s.expect), false, s.nonZero(line, true), true)
		return record{}, false
	}
	if perr != nil {
		s.bad(start, lineNo, perr, false, s.nonZero(line, true), false)
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

// nonZero counts the bytes of the line readLine returned last that are not
// zero, the ones it left out and the newline included.
func (s *scanner) nonZero(line []byte, complete bool) int64 {
	n := int64(countNonZeroBytes(line)) + s.droppedNonZero
	if complete {
		n++
	}
	return n
}

// bad handles the first bad line, at offset start, which has nonzero bytes
// that are not zero. A line that starts with a zero byte (zeroStart) may
// begin the preallocated space: if only zeros follow, the records simply
// end there.
func (s *scanner) bad(start int64, lineNo int, reason error, zeroStart bool, nonzero int64, validLine bool) {
	if validLine || (!s.newest && !zeroStart) {
		s.err = corruptAt(s.path, lineNo, start, reason)
		return
	}
	proof, more, err := s.readAhead()
	if err != nil {
		s.err = err
		return
	}
	switch {
	case zeroStart && nonzero+more == 0:
		// preallocated space
	case !s.newest || proof != nil:
		s.err = corruptAt(s.path, lineNo, start, reason)
	default:
		s.torn = &TornTail{Path: s.path, Line: lineNo, Offset: start, Bytes: nonzero + more}
	}
}

// readAhead reads the rest of the segment after a bad line. It returns a
// non-nil proof when a later line shows the bad one had been durable, and
// the number of non-zero bytes read.
func (s *scanner) readAhead() (proof error, nonzero int64, err error) {
	for {
		line, complete, err := s.readLine()
		if err == io.EOF {
			return nil, nonzero, nil
		}
		if err != nil {
			return nil, nonzero, err
		}
		nonzero += s.nonZero(line, complete)
		if !complete || len(line) == 0 || line[0] == 0 {
			continue
		}
		rec, perr := parseLine(s.hdr.format, line)
		if perr != nil {
			continue
		}
		if s.hdr.format == FormatPlain || rec.seq < s.expect || rec.synced >= s.expect {
			return ErrCorrupt, nonzero, nil
		}
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
