// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// This file holds the one rule by which every reader of a journal (Open,
// Replay, Records, All, Inspect, Repair, Bounds: all through a segReader)
// tells the torn tail a crash leaves from damage. docs/FORMAT.md
// ("Recovery") states it.
//
// What a crash can leave. Records are appended as whole lines by one write
// per batch, into preallocated zeros or past the end of the file, and only
// the writes after the last fsync can be lost. Of such a write the disk
// keeps some of its 512-byte sectors (in any order: the page cache writes
// pages back as it likes) and, in place of the others, what was there
// before: zeros. A short write (a full disk, a killed process) keeps a
// prefix of it. So past the last record that verifies, a crash leaves
// bytes that are exactly what was written, zeros in runs that begin on a
// sector boundary or where a line began and end on a sector boundary, and
// zeros to the end of the file. It never leaves a complete line that fails
// its check, nor zeros in the middle of a sector between written bytes,
// nor a record written after the lost ones were durable.

// sectorSize is the unit a disk writes whole: a crash loses whole sectors.
const sectorSize = 512

// rustHeaderLine is the header the Rust crate writes when it creates a
// journal. It creates the file in place, so a crash can leave the file
// empty or with a part of this line; this package creates files through a
// temporary file and a rename, so its headers are never torn.
const rustHeaderLine = magic + plainVersion + "\n"

// headerMissing reports whether b, the whole content of a journal's newest
// file, which holds no complete header line, is what a crash while the file
// was being created can leave: nothing, a part of the header line, or
// zeros no longer than it. Anything else once had a header, and maybe
// records: it is damage, not a new journal.
func headerMissing(b []byte) bool {
	if len(b) >= len(rustHeaderLine) {
		return false
	}
	return bytes.HasPrefix([]byte(rustHeaderLine), b) || allZero(b)
}

// tailJudge reads the newest segment from its first line that does not
// verify to the end of the file and decides whether a crash can have left
// it (see the top of this file). Feed it the bytes in order; why is set as
// soon as they cannot be a torn write.
type tailJudge struct {
	format   Format
	start    int64  // offset of the first bad line
	expect   uint64 // the sequence number of the first bad line
	lastSeq  uint64 // the highest sequence number of a record seen in the tail
	off      int64  // offset of the next byte fed
	zeroFrom int64  // start of the zero run being read; -1 outside one
	// frag holds the non-zero bytes since the last '\n' or zero run;
	// fragLine says it began where a line begins.
	frag     []byte
	fragFrom int64
	fragLine bool
	pending  error // a zero run with bytes after it would not be a crash's
	nonZero  int64 // non-zero bytes read
	dataEnd  int64 // end of the last non-zero byte
	why      error // why the tail is damage; nil while it may be a torn write
}

func newTailJudge(format Format, expect uint64, start int64) *tailJudge {
	return &tailJudge{format: format, start: start, expect: expect, lastSeq: expect, off: start, zeroFrom: -1,
		fragFrom: start, fragLine: true, dataEnd: start}
}

// feed takes the next bytes of the tail.
func (j *tailJudge) feed(b []byte) {
	for len(b) > 0 && j.why == nil {
		if j.zeroFrom >= 0 {
			i := indexNonZero(b)
			if i < 0 {
				j.off += int64(len(b))
				return
			}
			j.off += int64(i)
			b = b[i:]
			j.endZeros()
			continue
		}
		i := indexZeroOrNewline(b)
		if i < 0 {
			j.text(b)
			return
		}
		j.text(b[:i])
		b = b[i:]
		if b[0] == '\n' {
			j.nonZero++
			j.off++
			j.dataEnd = j.off
			j.endLine()
			b = b[1:]
			j.frag, j.fragFrom, j.fragLine = j.frag[:0], j.off, true
			continue
		}
		// A zero run starts. Unless only zeros follow, it must be a lost
		// sector (on a sector boundary) or a lost write (where a line began).
		j.checkPrefix()
		if j.off%sectorSize != 0 && !(j.fragLine && len(j.frag) == 0) {
			j.pending = fmt.Errorf("zero bytes at offset %d, inside a sector after written bytes", j.off)
		}
		j.zeroFrom = j.off
		j.frag, j.fragLine = j.frag[:0], false
	}
}

// finish is called at the end of the file.
func (j *tailJudge) finish() {
	if j.why == nil && j.zeroFrom < 0 {
		j.checkPrefix()
	}
}

// checkPrefix checks that the bytes of a line that a zero run or the end
// of the file interrupts are the start of a record line, as a torn write
// leaves: in FormatV1, the start of {"seq":N,... with N the expected
// number for the first bad line; in either format, not a whole record
// followed by something other than its '\n'.
func (j *tailJudge) checkPrefix() {
	if !j.fragLine || len(j.frag) == 0 || j.why != nil {
		return
	}
	b := j.frag
	if j.format == FormatPlain {
		// A plain line is one JSON value and its '\n': a torn write
		// leaves a prefix of that, never a whole value and then another
		// byte ("\r" aside: a CRLF line reads too).
		dec := json.NewDecoder(bytes.NewReader(b))
		var v json.RawMessage
		if dec.Decode(&v) == nil {
			if rest := b[dec.InputOffset():]; len(rest) > 0 && string(rest) != "\r" {
				j.why = fmt.Errorf("the line at offset %d holds a whole record and then %q, not a newline",
					j.fragFrom, rest[:min(len(rest), 8)])
			}
		}
		return
	}
	if n := min(len(b), len(linePrefixSeq)); !bytes.Equal(b[:n], []byte(linePrefixSeq)[:n]) {
		j.why = fmt.Errorf("the line at offset %d does not start as a record does", j.fragFrom)
		return
	}
	if j.fragFrom == j.start {
		num, _, ok := bytes.Cut(b[min(len(b), len(linePrefixSeq)):], []byte(","))
		if ok && string(num) != strconv.FormatUint(j.expect, 10) {
			j.why = fmt.Errorf("the start of the line at offset %d is not that of record %d", j.fragFrom, j.expect)
			return
		}
	}
	// A record's value may hold ,"crc":" too: try every place.
	for i := 0; ; {
		k := bytes.Index(b[i:], []byte(lineCRC))
		if k < 0 || i+k+lineSuffixLen >= len(b) {
			return
		}
		i += k
		if _, err := parseLine(j.format, b[:i+lineSuffixLen]); err == nil {
			j.why = fmt.Errorf("the line at offset %d holds a whole record and then %q, not a newline",
				j.fragFrom, b[i+lineSuffixLen:min(len(b), i+lineSuffixLen+8)])
			return
		}
		i++
	}
}

func (j *tailJudge) text(b []byte) {
	if len(b) == 0 {
		return
	}
	j.frag = append(j.frag, b...)
	j.nonZero += int64(len(b))
	j.off += int64(len(b))
	j.dataEnd = j.off
}

// endZeros is called at the first non-zero byte after a zero run.
func (j *tailJudge) endZeros() {
	switch {
	case j.pending != nil:
		j.why = j.pending
	case j.off%sectorSize != 0:
		j.why = fmt.Errorf("zero bytes at offset %d to %d end inside a sector", j.zeroFrom, j.off)
	}
	j.zeroFrom = -1
	j.fragFrom = j.off
}

// endLine judges the bytes before a '\n'.
func (j *tailJudge) endLine() {
	rec, err := parseLine(j.format, j.frag)
	if err != nil {
		switch {
		case j.fragLine && j.fragFrom == j.start:
			// Written whole, and still wrong: no crash does that.
			j.why = errors.New("the line is complete")
		case j.fragLine:
			j.why = fmt.Errorf("the line at offset %d is complete but does not verify (%v)", j.fragFrom, err)
		}
		return // or the end of a line whose start was lost
	}
	switch {
	case j.format == FormatPlain:
		j.why = fmt.Errorf("a record follows at offset %d", j.fragFrom)
	case rec.synced >= j.expect:
		j.why = fmt.Errorf("record %d at offset %d was written when record %d was already durable",
			rec.seq, j.fragFrom, rec.synced)
	case rec.seq <= j.lastSeq:
		j.why = fmt.Errorf("record %d at offset %d is out of order", rec.seq, j.fragFrom)
	default:
		j.lastSeq = rec.seq
	}
}

// indexNonZero returns the index of the first non-zero byte of b, or -1.
func indexNonZero(b []byte) int {
	// Preallocated space is megabytes of zeros: compare a block at a time
	// (bytes.Equal is vectorized), and look at single bytes only in the
	// block that is not all zeros.
	for done := 0; len(b) > 0; {
		k := min(len(b), len(zeroBlock))
		if !bytes.Equal(b[:k], zeroBlock[:k]) {
			for i, c := range b[:k] {
				if c != 0 {
					return done + i
				}
			}
		}
		done += k
		b = b[k:]
	}
	return -1
}

// indexZeroOrNewline returns the index of the first zero or '\n' in b, or -1.
func indexZeroOrNewline(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		i = len(b)
	}
	if z := bytes.IndexByte(b[:i], 0); z >= 0 {
		return z
	}
	if i == len(b) {
		return -1
	}
	return i
}
