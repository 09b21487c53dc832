// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/mini-go/mini/vfs"
)

// readLog streams the records of the journal at path with sequence numbers
// from from on, and at most up to limit (0: no limit), calling yield for
// each. It reads one segment at a time through a fixed buffer, so memory
// does not grow with the log. A torn tail at the end of the newest segment
// ends the log; any other damage is an error.
//
// A from of 0 reads from the first record left. With exact set, a from of
// 1 or more below the first record left (records a TruncateFront
// deleted, or a journal whose numbering starts later) is a *TruncatedError;
// without it reading starts at the first record left.
//
// It takes no lock: another process may be appending, rotating and
// cutting. What that can cause (a file gone or replaced between the
// listing and the read, a listing without the segment holding the bound,
// the end of the newest segment not what a crash leaves) is read again as
// relist says, from the next expected record.
func readLog(fsys vfs.FS, path string, from, limit uint64, hint *seekHint, exact bool, yield func(seq uint64, payload []byte) bool) error {
	return readLogTries(fsys, path, from, limit, hint, exact, 2, nil, yield)
}

// readLogTries is readLog giving up on damage after tries passes (see
// relist); a pass that reads a record, starts at another bound, lists
// other files or finds a listed one gone saw the journal change. If pos
// is not nil it is set, before each record is yielded, to where the record
// after it starts: a seekHint for reading on later.
func readLogTries(fsys vfs.FS, path string, from, limit uint64, hint *seekHint, exact bool, tries int, pos *seekHint, yield func(seq uint64, payload []byte) bool) error {
	var bound uint64 // where the last pass started: from or the bound
	var listed []segmentFile
	return relist(tries, func(bool) (bool, error) {
		next, start, files, err := readLogOnce(fsys, path, from, limit, hint, exact, pos, yield)
		changed := next > from || errors.Is(err, fs.ErrNotExist) ||
			listed != nil && (start != bound || !slices.Equal(files, listed))
		from, bound, listed = max(from, next), start, files
		return changed, err
	})
}

// relist runs pass, a read of a journal without its lock, until it returns
// an error that does not match errRelist, and returns that error (nil
// included). An error matching errRelist is one that a writer rotating or
// cutting the journal under the read can cause: pass runs again after
// relistPause. A pass that saw the journal change (a listed file gone,
// other files listed, a new bound, records read) says so and does not
// count: after tries passes in a row that saw no change, damage that stays
// is reported (the error, unwrapped), and after relistMaxPasses in all.
// last tells a pass that it is the last one unless it sees a change: an
// answer that a race can explain (a bound that does not verify, an empty
// journal) is given then.
func relist(tries int, pass func(last bool) (changed bool, err error)) error {
	left := tries
	for n := 1; ; n++ {
		changed, err := pass(left == 1 || n == relistMaxPasses)
		if !errors.Is(err, errRelist) {
			return err
		}
		if !changed {
			left--
		}
		if left <= 0 || n >= relistMaxPasses {
			return errors.Unwrap(err)
		}
		time.Sleep(relistPause)
	}
}

// relistMaxPasses bounds the passes of a read over a journal that keeps
// changing under it.
const relistMaxPasses = 200

// relistPause is how long relist waits before it reads again: long enough
// for a write in flight in another process to finish. (A variable for the
// damage sweep, which reads thousands of damaged journals.)
var relistPause = 10 * time.Millisecond

// errRelist marks errors that a concurrent rotation or truncation could
// cause; the error it wraps is returned if reading again does not help.
var errRelist = errors.New("ministore: journal changed while reading")

type relistError struct{ err error }

func (e relistError) Error() string        { return e.err.Error() }
func (e relistError) Unwrap() error        { return e.err }
func (e relistError) Is(target error) bool { return target == errRelist }

// readLogOnce makes one pass; it also returns the files it listed, where
// it started reading (from, or the front bound above it), and on error the
// sequence number it would have read next (from, if it read none).
func readLogOnce(fsys vfs.FS, path string, from, limit uint64, hint *seekHint, exact bool, pos *seekHint, yield func(uint64, []byte) bool) (next, start uint64, files []segmentFile, err error) {
	r := openSegments(fsys, path, os.O_RDONLY)
	defer r.close()
	// The bound is read after the listing: it only moves up while the
	// files below it are deleted, so it is never below what was listed.
	bound, err := readBound(fsys, path)
	start = max(from, bound)
	if err == nil && exact && from > 0 && from < bound {
		err = &TruncatedError{Path: path, From: from, First: bound}
	}
	if err != nil {
		return from, start, r.files, err
	}
	yielded := false
	if hint != nil && hint.seq == start {
		r.jump = hint.path
	}
	for r.next(start) {
		if r.first > start && bound != 0 {
			// The segment holding start is not listed: a rotation, or
			// a cut, since the listing (or damage, if it stays).
			return from, start, r.files, relistError{checkBound(path, bound, r.first, r.first)}
		}
		if r.first > start && exact && from > 0 {
			return from, start, r.files, &TruncatedError{Path: path, From: from, First: r.first}
		}
		segPath := r.cur.sf.path
		if hint != nil && hint.path == segPath && hint.base == r.s.hdr.base && hint.seq == start {
			r.s.seek(hint.off, hint.seq)
		}
		for r.scan() {
			seq := r.rec.seq
			if seq < start {
				continue
			}
			if pos != nil {
				*pos = seekHint{path: segPath, base: r.s.hdr.base, seq: seq + 1, off: r.s.off}
			}
			yielded = true
			if !yield(seq, r.rec.payload) || (limit != 0 && seq >= limit) {
				return 0, start, r.files, nil
			}
		}
	}
	err = r.Err()
	if r.changed {
		// A rotation or truncation, or a write in flight: read again to tell.
		err = relistError{err}
	} else if err == nil && bound != 0 && (len(r.files) == 0 || bound > r.expect && r.expect != 0) {
		// The bound counts records not listed: a rotation since the
		// listing (or damage, if it stays; no file at all is).
		err = relistError{checkBound(path, bound, r.first, r.expect)}
	}
	if err == nil || !yielded {
		// Nothing read: the next pass starts where the caller asked, not
		// at the bound this one read.
		return from, start, r.files, err
	}
	return max(start, r.expect), start, r.files, err
}

// A seekHint says where record seq starts: at byte off of the segment file
// path whose first record is base. Reading from seq can start there.
type seekHint struct {
	path      string
	base, seq uint64
	off       int64
}

// locate returns where record seq starts, if an index knows it.
func (w *wal) locate(seq uint64) *seekHint {
	w.segMu.RLock()
	defer w.segMu.RUnlock()
	seg := w.findSegment(seq)
	if seg == nil {
		return nil
	}
	seg.idxMu.Lock()
	defer seg.idxMu.Unlock()
	if seg.index == nil {
		// Not built (after a clean Open): find the line in the file.
		if off, ok := findLine(seg, seq); ok {
			return &seekHint{path: seg.path, base: seg.base, seq: seq, off: off}
		}
		return nil
	}
	if seq < seg.base || seq-seg.base >= uint64(len(seg.index)) {
		return nil
	}
	return &seekHint{path: seg.path, base: seg.base, seq: seq, off: seg.index[seq-seg.base]}
}

// get reads record seq through the segments' indexes.
func (w *wal) get(seq uint64) ([]byte, error) {
	w.mu.Lock()
	first, last, err := w.first, w.written, w.err
	w.mu.Unlock()
	if err == ErrClosed {
		return nil, err
	}
	if seq < first || seq > last || seq == 0 {
		return nil, fmt.Errorf("%w: %d (log holds %d to %d)", ErrNotFound, seq, first, last)
	}
	w.segMu.RLock()
	defer w.segMu.RUnlock()
	seg := w.findSegment(seq)
	if seg == nil || seg.f == nil {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	seg.idxMu.Lock()
	if seg.index == nil {
		if err := w.buildIndex(seg); err != nil {
			seg.idxMu.Unlock()
			return nil, err
		}
	}
	i := seq - seg.base
	if i >= uint64(len(seg.index)) {
		seg.idxMu.Unlock()
		return nil, fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	off := seg.index[i]
	end := seg.size
	if i+1 < uint64(len(seg.index)) {
		end = seg.index[i+1]
	}
	seg.idxMu.Unlock()
	buf := make([]byte, end-off)
	if _, err := seg.f.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("ministore: read %s: %w", seg.path, err)
	}
	if len(buf) == 0 || buf[len(buf)-1] != '\n' {
		return nil, corruptAt(seg.path, 0, off, errIncomplete)
	}
	rec, err := parseLine(seg.hdr.format, buf[:len(buf)-1])
	if err != nil {
		return nil, corruptAt(seg.path, 0, off, err)
	}
	if seg.hdr.format == FormatV1 && rec.seq != seq {
		return nil, corruptAt(seg.path, 0, off, sequenceError(rec.seq, seq))
	}
	return rec.payload, nil
}

// findSegment returns the segment holding seq. Called with segMu held.
func (w *wal) findSegment(seq uint64) *segment {
	lo, hi := 0, len(w.segs)
	for lo < hi {
		m := (lo + hi) / 2
		if w.segs[m].base <= seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return nil
	}
	return w.segs[lo-1]
}

// buildIndex scans a sealed segment for its record offsets. Called with
// segMu read-locked and seg.idxMu held.
func (w *wal) buildIndex(seg *segment) error {
	s, err := newScanner(seg.path, seg.f, seg.size, false, seg.base)
	if err != nil {
		return err
	}
	var index []int64
	for {
		if _, ok := s.next(); !ok {
			break
		}
		index = append(index, s.recOff)
	}
	if s.err != nil {
		return s.err
	}
	seg.index = index
	return nil
}
