// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/mini-go/mini/vfs"
)

// The clean-end proof. Close, once the active file is trimmed and fsync'd,
// writes a small side file NAME.end saying how the active file ends: its
// size, its first and last sequence numbers and the CRC-32C of its last
// line. Open takes the file (it removes it, and the directory is fsync'd before
// anything is appended) and, when the active file still ends exactly so,
// does not read the records before its last line: a clean close made them
// durable, so nothing in them can be a crash's torn tail. They are still
// checked, record by record, by every reader (Records, Replay, All, Get),
// and a record that does not verify is then a *JournalError naming the
// file and offset, as any damage below a proven-durable point is. When the
// file is missing, torn, or does not match, Open reads the newest file as
// it always does. docs/FORMAT.md ("The clean-end proof") describes it.

// cleanEndSuffix is the suffix of the proof's file name: NAME.end. It is
// not a segment name (those end in digits), so no reader takes it for one.
const cleanEndSuffix = ".end"

// cleanEndMagic starts the proof's single line.
const cleanEndMagic = "ministore clean end v1"

// maxCleanEnd bounds what Open reads of a proof file.
const maxCleanEnd = 256

// cleanEnd is what the proof says about the active file.
type cleanEnd struct {
	size int64  // the file's size: the end of its last line
	base uint64 // its first sequence number (the header's)
	last uint64 // its last sequence number; base-1 when it holds no record
	line uint32 // CRC-32C of its last line without the '\n' (the header's when no record)
}

// append appends the proof's line: the fields, then " crc=" and the
// CRC-32C of the text before it, then '\n'.
func (c cleanEnd) append(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, cleanEndMagic...)
	dst = append(dst, " size="...)
	dst = strconv.AppendInt(dst, c.size, 10)
	dst = append(dst, " base="...)
	dst = strconv.AppendUint(dst, c.base, 10)
	dst = append(dst, " last="...)
	dst = strconv.AppendUint(dst, c.last, 10)
	dst = append(dst, " line="...)
	dst = appendHex32(dst, c.line)
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, " crc="...)
	dst = appendHex32(dst, sum)
	return append(dst, '\n')
}

// parseCleanEnd parses a proof file's content; ok is false for anything
// that is not exactly one whole proof line whose checksum matches.
func parseCleanEnd(b []byte) (c cleanEnd, ok bool) {
	line, rest, found := bytes.Cut(b, []byte("\n"))
	if !found || len(rest) != 0 {
		return c, false
	}
	text, sum, found := bytes.Cut(line, []byte(" crc="))
	if !found {
		return c, false
	}
	if want, ok := parseHex32(sum); !ok || crc32.Checksum(text, castagnoli) != want {
		return c, false
	}
	fields := bytes.Split(text, []byte(" "))
	magicFields := bytes.Count([]byte(cleanEndMagic), []byte(" ")) + 1
	if len(fields) != magicFields+4 || !bytes.Equal(bytes.Join(fields[:magicFields], []byte(" ")), []byte(cleanEndMagic)) {
		return c, false
	}
	fields = fields[magicFields:]
	value := func(i int, key string) ([]byte, bool) {
		return bytes.CutPrefix(fields[i], []byte(key+"="))
	}
	var err error
	v, ok1 := value(0, "size")
	if c.size, err = strconv.ParseInt(string(v), 10, 64); !ok1 || err != nil || c.size < 0 {
		return c, false
	}
	v, ok1 = value(1, "base")
	if c.base, err = strconv.ParseUint(string(v), 10, 64); !ok1 || err != nil || c.base == 0 {
		return c, false
	}
	v, ok1 = value(2, "last")
	if c.last, err = strconv.ParseUint(string(v), 10, 64); !ok1 || err != nil || c.last < c.base-1 {
		return c, false
	}
	v, ok1 = value(3, "line")
	if c.line, ok = parseHex32(v); !ok1 || !ok {
		return c, false
	}
	// One spelling only (no leading zeros, no signs): what append writes.
	return c, bytes.Equal(c.append(nil), b)
}

// takeCleanEnd reads and removes the journal's proof file, if there is
// one. A proof is good for one Open only: the records appended after it
// would make it stale. recover fsyncs the directory before anything is
// appended, so the removal is durable by then.
func (w *wal) takeCleanEnd() (cleanEnd, bool, error) {
	name := w.path + cleanEndSuffix
	b, err := readSmall(w.fs, name, maxCleanEnd)
	if errors.Is(err, fs.ErrNotExist) {
		return cleanEnd{}, false, nil
	}
	if err != nil {
		return cleanEnd{}, false, fmt.Errorf("ministore: read %s: %w", name, err)
	}
	if err := w.fs.Remove(name); err != nil {
		return cleanEnd{}, false, fmt.Errorf("ministore: remove %s: %w", name, err)
	}
	c, ok := parseCleanEnd(b)
	return c, ok, nil
}

// readSmall reads at most limit bytes of the file name.
func readSmall(fsys vfs.FS, name string, limit int) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, limit)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}

// lastLine returns the offset and the bytes (without its '\n') of the
// last line of the file f of size bytes, which ends in '\n' and has a
// header of hdrLen bytes; the header line itself when no line follows it.
// ok is false when the file does not end in '\n'.
func lastLine(f vfs.File, hdrLen, size int64) (off int64, line []byte, ok bool, err error) {
	if size < hdrLen || hdrLen == 0 {
		return 0, nil, false, nil
	}
	if size == hdrLen {
		line = make([]byte, hdrLen)
		if _, err := f.ReadAt(line, 0); err != nil && err != io.EOF {
			return 0, nil, false, err
		}
		return 0, line[:hdrLen-1], true, nil
	}
	for chunk := int64(4096); ; chunk *= 4 {
		start := max(hdrLen, size-chunk)
		buf := make([]byte, size-start)
		if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
			return 0, nil, false, err
		}
		if buf[len(buf)-1] != '\n' {
			return 0, nil, false, nil
		}
		i := bytes.LastIndexByte(buf[:len(buf)-1], '\n')
		if i < 0 && start > hdrLen {
			continue // the last line is longer than chunk
		}
		return start + int64(i+1), buf[i+1 : len(buf)-1], true, nil
	}
}

// recoverClean opens the active file seg as the proof c describes it,
// without reading its records, and reports whether it could: the file is
// in format v1, its header names c.base, its size is c.size and its last
// line is a record (or the header, for none) that verifies, is record
// c.last, and has the CRC-32C c.line. Otherwise recover reads the file as
// usual (recoverNewest), which also reports whatever is wrong with it.
func (w *wal) recoverClean(seg *segment, c cleanEnd) (bool, error) {
	h, hdrLen, err := readHeader(seg.f, seg.path, nil)
	if err != nil || h.format != FormatV1 || h.base != c.base {
		return false, nil
	}
	size, err := seg.f.Size()
	if err != nil {
		return false, fmt.Errorf("ministore: %s: %w", seg.path, err)
	}
	if size != c.size {
		return false, nil
	}
	_, line, ok, err := lastLine(seg.f, hdrLen, size)
	if err != nil {
		return false, fmt.Errorf("ministore: read %s: %w", seg.path, err)
	}
	if !ok || crc32.Checksum(line, castagnoli) != c.line {
		return false, nil
	}
	if c.last >= c.base {
		if size == hdrLen {
			return false, nil
		}
		rec, err := parseLine(FormatV1, line)
		if err != nil || rec.seq != c.last {
			return false, nil
		}
	} else if size != hdrLen {
		return false, nil
	}
	seg.hdr = h
	seg.base = h.base
	seg.last = c.last
	seg.size, seg.alloc = size, size
	seg.index = nil // built when needed (Get, TruncateBack)
	w.cleanOpen = true
	return true, nil
}

// writeCleanEnd writes the proof for the active file a, which Close has
// trimmed and fsync'd. The records are durable whatever happens here: a
// proof that cannot be written whole (a failed write or fsync, a crash)
// only makes the next Open read the file as usual, since a proof written
// in part does not verify. The error is still returned, so that Close
// reports a failing disk.
func (w *wal) writeCleanEnd(a *segment) error {
	if a.hdr.format != FormatV1 {
		return nil
	}
	h, hdrLen, err := readHeader(a.f, a.path, nil)
	if err != nil || h.format != FormatV1 || h.base != a.base {
		return nil // not what recoverClean accepts: no proof
	}
	_, line, ok, err := lastLine(a.f, hdrLen, a.size)
	if err != nil || !ok {
		return err
	}
	c := cleanEnd{size: a.size, base: a.base, last: a.last, line: crc32.Checksum(line, castagnoli)}
	name := w.path + cleanEndSuffix
	_, err = writeSync(w.fs, name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0, c.append(nil))
	if err == nil {
		err = w.fs.SyncDir(w.dir)
	}
	if err != nil {
		w.fs.Remove(name) // best effort; what is left does not verify, or is checked
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// findLine returns where record seq starts in the FormatV1 segment seg,
// whose index is not built (after a clean Open), by bisecting the file on
// the sequence numbers that start its lines: a few small reads instead of
// reading every record before it. The line found is checked whole (its
// checksum, its seq), so a reader that starts there starts at that record;
// ok is false when anything read on the way is not as expected (damage),
// and the reader then reads from the segment's start and reports it.
// Called with segMu read-locked.
func findLine(seg *segment, seq uint64) (off int64, ok bool) {
	if seg.hdr.format != FormatV1 || seq < seg.base || seq > seg.last || seg.f == nil {
		return 0, false
	}
	_, hdrLen, err := readHeader(seg.f, seg.path, nil)
	if err != nil {
		return 0, false
	}
	return seekLine(seg.f, hdrLen, seg.size, seg.base, seq)
}

// seekLine is findLine in the lines of f between its header, of hdrLen
// bytes, and size, the first of which is record base.
func seekLine(f io.ReaderAt, hdrLen, size int64, base, seq uint64) (off int64, ok bool) {
	p := lineProbe{f: f, size: size, hdrLen: hdrLen, buf: make([]byte, 512)}
	// The line starting at lo holds a record at most seq; no line starting
	// at or after hi holds one at most seq.
	lo, loSeq, hi := hdrLen, base, size
	for loSeq != seq && hi-lo > 4096 {
		mid := lo + (hi-lo)/2
		start, v, ok := p.lineAt(mid)
		switch {
		case !ok:
			return 0, false
		case start < hi && v <= seq:
			lo, loSeq = start, v
		default:
			hi = mid
		}
	}
	for loSeq != seq { // a few lines on
		start, v, ok := p.lineAt(lo + 1)
		if !ok || start >= hi || v <= loSeq {
			return 0, false
		}
		lo, loSeq = start, v
	}
	line, ok := p.line(lo)
	if !ok {
		return 0, false
	}
	if rec, err := parseLine(FormatV1, line); err != nil || rec.seq != seq {
		return 0, false
	}
	return lo, true
}

// lineProbe reads single lines of a segment file for findLine.
type lineProbe struct {
	f            io.ReaderAt
	size, hdrLen int64
	buf          []byte
}

// lineAt returns the start and the sequence number of the first line that
// starts at or after off (a start at size: none).
func (p *lineProbe) lineAt(off int64) (start int64, seq uint64, ok bool) {
	start = max(off, p.hdrLen)
	if start > p.hdrLen {
		// Where the line that holds byte start-1 ends.
		for at := start - 1; ; {
			if at >= p.size {
				return p.size, 0, true
			}
			n, err := p.f.ReadAt(p.buf[:min(int64(len(p.buf)), p.size-at)], at)
			if n == 0 || (err != nil && err != io.EOF) {
				return 0, 0, false
			}
			if i := bytes.IndexByte(p.buf[:n], '\n'); i >= 0 {
				start = at + int64(i) + 1
				break
			}
			at += int64(n)
		}
	}
	if start >= p.size {
		return p.size, 0, true
	}
	n, err := p.f.ReadAt(p.buf[:min(int64(len(p.buf)), p.size-start)], start)
	if err != nil && err != io.EOF {
		return 0, 0, false
	}
	rest, found := bytes.CutPrefix(p.buf[:n], []byte(linePrefixSeq))
	if !found {
		return 0, 0, false
	}
	num, _, found := bytes.Cut(rest, []byte(","))
	v, err := parseUint(num)
	if !found || err != nil {
		return 0, 0, false
	}
	return start, v, true
}

// line returns the line that starts at start, without its '\n'.
func (p *lineProbe) line(start int64) ([]byte, bool) {
	var line []byte
	for at := start; at < p.size; {
		n, err := p.f.ReadAt(p.buf[:min(int64(len(p.buf)), p.size-at)], at)
		if n == 0 || (err != nil && err != io.EOF) {
			return nil, false
		}
		if i := bytes.IndexByte(p.buf[:n], '\n'); i >= 0 {
			return append(line, p.buf[:i]...), true
		}
		line = append(line, p.buf[:n]...)
		at += int64(n)
	}
	return nil, false
}
