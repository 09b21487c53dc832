// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/vfs"
)

// The front bound: a journal's first record can lie inside a segment.
//
// TruncateFront(seq) records seq in the side file NAME.front and then
// deletes the segments that lie wholly below it. Records below the bound
// that share a segment with it stay in the file until that segment goes,
// and every reader skips them. The file is 8192 bytes: two slots of 4096,
// each one line followed by zero bytes:
//
//	// MINISTORE FRONT v2 first=N gen=G crc=XXXXXXXX
//
// with the CRC-32C (Castagnoli, hex) of the text before " crc=". The bound
// is the slot with the higher generation G. The file is created (and an
// old one converted) whole through NAME.front.tmp, fsync, rename, fsync of
// the directory; after that an update writes the first 512 bytes of the
// other slot, the one not holding the bound, with G+1, and fdatasyncs the
// file: one write, no change to its size or name.
//
// A crash leaves that slot whole, old or new: the line lies in one 512-byte
// sector, which a disk writes whole (the journal's own rule assumes as much:
// a crash loses sectors, it does not tear inside one; PostgreSQL keeps its
// pg_control in one sector for the same reason), and the slots are 4096
// bytes apart so that no page or physical sector holds both. So both slots
// always verify, and a slot that does not is damage, never a crash: a
// *JournalError naming NAME.front and the slot's offset, not a fallback to
// the other slot's older bound (which would bring deleted records back).
// An update whose write fails puts the file back whole (through
// NAME.front.tmp) before it returns the error. A missing file means no
// bound: the first record is the oldest segment's base. The older format,
// one line "// MINISTORE FRONT v1 first=N crc=XXXXXXXX", is still read, as
// the only slot; the next update converts it.
//
// What the bound may be, the oldest segment's base being B and the next
// sequence number N (the last record + 1): B <= bound <= N. A bound below B
// means the segment that held it is missing; a bound above N means records
// the bound counts as written are missing. Neither can a crash leave (see
// docs/FORMAT.md); Open reports both, and a file that does not parse, as a
// *JournalError naming NAME.front.

const (
	boundMagic   = "// MINISTORE FRONT v1 first=" // the older one-line file
	boundMagic2  = "// MINISTORE FRONT v2 first="
	boundGen     = " gen="
	boundSlot    = 4096 // bytes in one slot: a page, so no page holds both
	boundLine    = 512  // the part of a slot an update writes: one sector
	boundFileLen = 2 * boundSlot
)

// boundPath is the path of the front bound of the journal at path.
func boundPath(path string) string { return path + ".front" }

// frontBound is what a bound file holds.
type frontBound struct {
	first uint64 // the bound; 0: no file
	gen   uint64 // the generation of the slot holding it
	slot  int    // that slot, 0 or 1; -1: an old one-line file
}

// appendBoundSlot appends the first boundLine bytes of a slot holding
// first at generation gen: the line, then zeros.
func appendBoundSlot(dst []byte, first, gen uint64) []byte {
	start := len(dst)
	dst = append(dst, boundMagic2...)
	dst = strconv.AppendUint(dst, first, 10)
	dst = append(dst, boundGen...)
	dst = strconv.AppendUint(dst, gen, 10)
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, " crc="...)
	dst = appendHex32(dst, sum)
	dst = append(dst, '\n')
	return append(dst, make([]byte, boundLine-(len(dst)-start))...)
}

// encodeBound returns a whole bound file for first: slot 0 holds it at
// generation 1, slot 1 at generation 0, so the next update writes slot 1.
// Each slot is zeros after its line.
func encodeBound(first uint64) []byte {
	b := make([]byte, boundFileLen)
	appendBoundSlot(b[:0], first, 1)
	appendBoundSlot(b[boundSlot:boundSlot], first, 0)
	return b
}

// parseBoundV1 parses the older one-line file.
func parseBoundV1(b []byte) (uint64, error) {
	line, ok := bytes.CutSuffix(b, []byte("\n"))
	if !ok || bytes.IndexByte(line, '\n') >= 0 {
		return 0, errors.New("front bound is not one line")
	}
	text, sum, ok := splitHeaderCRC(line)
	if !ok {
		return 0, errors.New("front bound has no checksum")
	}
	if crc32.Checksum(text, castagnoli) != sum {
		return 0, errChecksum
	}
	num, ok := bytes.CutPrefix(text, []byte(boundMagic))
	if !ok {
		return 0, errors.New("front bound: unknown first line")
	}
	n, err := parseUint(num)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("front bound: bad sequence number %q", num)
	}
	return n, nil
}

// parseBoundSlot parses one slot.
func parseBoundSlot(s []byte) (first, gen uint64, err error) {
	i := bytes.IndexByte(s, '\n')
	if i < 0 {
		return 0, 0, errors.New("slot has no line")
	}
	if bytes.ContainsFunc(s[i+1:], func(r rune) bool { return r != 0 }) {
		return 0, 0, errors.New("slot has bytes after its line")
	}
	text, sum, ok := splitHeaderCRC(s[:i])
	if !ok {
		return 0, 0, errors.New("slot has no checksum")
	}
	if crc32.Checksum(text, castagnoli) != sum {
		return 0, 0, errChecksum
	}
	rest, ok := bytes.CutPrefix(text, []byte(boundMagic2))
	if !ok {
		return 0, 0, errors.New("slot: unknown line")
	}
	num, g, ok := bytes.Cut(rest, []byte(boundGen))
	if !ok {
		return 0, 0, errors.New("slot has no generation")
	}
	first, err = parseUint(num)
	if err != nil || first == 0 {
		return 0, 0, fmt.Errorf("slot: bad sequence number %q", num)
	}
	gen, err = parseUint(g)
	if err != nil {
		return 0, 0, fmt.Errorf("slot: bad generation %q", g)
	}
	return first, gen, nil
}

// parseBound parses the bound file's contents, either format. On error it
// returns the offset of what does not verify, and in fb what is left: the
// valid slot's bound when only one slot is bad (Repair keeps it), else 0.
func parseBound(b []byte) (fb frontBound, off int64, err error) {
	if len(b) != boundFileLen {
		if bytes.HasPrefix(b, []byte(boundMagic2)) {
			off := int64(min(len(b), boundFileLen))
			return frontBound{}, off, fmt.Errorf("front bound is %d bytes, not two slots of %d", len(b), boundSlot)
		}
		n, err := parseBoundV1(b)
		return frontBound{first: n, slot: -1}, 0, err
	}
	f0, g0, err0 := parseBoundSlot(b[:boundSlot])
	f1, g1, err1 := parseBoundSlot(b[boundSlot:])
	// No crash leaves a slot that does not verify (see above): one bad
	// slot is damage even though the other still holds a bound.
	switch {
	case err0 != nil && err1 != nil:
		return frontBound{}, 0, fmt.Errorf("front bound: both slots are bad (at 0: %w; at %d: %w)", err0, boundSlot, err1)
	case err0 != nil:
		return frontBound{first: f1, gen: g1, slot: 1}, 0, fmt.Errorf("front bound: the slot at 0 is bad: %w", err0)
	case err1 != nil:
		return frontBound{first: f0, gen: g0, slot: 0}, boundSlot, fmt.Errorf("front bound: the slot at %d is bad: %w", boundSlot, err1)
	case g0 == g1:
		return frontBound{}, boundSlot, fmt.Errorf("front bound: both slots have generation %d", g0)
	case g0 > g1:
		return frontBound{first: f0, gen: g0, slot: 0}, 0, nil
	}
	return frontBound{first: f1, gen: g1, slot: 1}, 0, nil
}

// readBound returns the front bound of the journal at path, or 0 if it has
// none. A file that does not parse is a *JournalError matching ErrCorrupt.
func readBound(fsys vfs.FS, path string) (uint64, error) {
	fb, err := readBoundFile(fsys, path, boundReads)
	if err != nil {
		return 0, err
	}
	return fb.first, nil
}

// boundReads is how many times a reader reads a bound file that does not
// verify before it calls it damage: a reader racing the writer's update can
// see the slot being written half copied (the page cache does not make a
// write atomic for a concurrent read), and reads again after relistPause.
// Open and Repair, which hold the journal's lock, read once.
const boundReads = 4

// readBoundFile reads the bound file of the journal at path, up to tries
// times while it does not verify (see relist). On error, fb is what is left
// of it (see parseBound).
func readBoundFile(fsys vfs.FS, path string, tries int) (fb frontBound, err error) {
	p := boundPath(path)
	err = relist(tries, func(bool) (bool, error) {
		fb = frontBound{}
		if ok, err := boundFileKind(fsys, p); err != nil || !ok {
			return false, err
		}
		b, err := vfs.ReadFile(fsys, p)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("ministore: read %s: %w", p, err)
		}
		var off int64
		if fb, off, err = parseBound(b); err != nil {
			line := 1 + min(int(off/boundSlot), 1) // the slot's
			err = relistError{corruptAt(p, line, off, fmt.Errorf("%w: %w", ErrCorrupt, err))}
		}
		return false, err
	})
	return fb, err
}

// boundFileKind reports whether the bound file p exists. Something there
// that is not a regular file (a directory, a FIFO, whose open would wait
// for a writer, a symbolic link to nothing) is damage, not a missing
// bound: a *JournalError matching ErrCorrupt.
func boundFileKind(fsys vfs.FS, p string) (bool, error) {
	fi, err := vfs.Lstat(fsys, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ministore: stat %s: %w", p, err)
	}
	what := ""
	if fi.Mode().Type() == fs.ModeSymlink {
		// Followed, as an open would.
		if fi, err = fsys.Stat(p); errors.Is(err, fs.ErrNotExist) {
			what = "a symbolic link to nothing"
		} else if err != nil {
			return false, fmt.Errorf("ministore: stat %s: %w", p, err)
		}
	}
	if what == "" && !fi.Mode().IsRegular() {
		what = fmt.Sprintf("not a regular file (%v)", fi.Mode().Type())
	}
	if what != "" {
		return false, corruptAt(p, 1, 0, fmt.Errorf("%w: the front bound is %s", ErrCorrupt, what))
	}
	return true, nil
}

// boundAfterOpen reads the front bound of the journal at path for a reader
// without the lock that opened the journal's files after reading the bound
// pre. The bound only moves up while the files below it are deleted, so one
// read after the files are open never points below them; but a journal
// emptied (TruncateFront past the end, see restart) moves it to its end and
// then deletes it, and files opened before that with the bound read after
// it would bring back records below an acknowledged bound. A bound below
// pre says so: the error matches errRelist (open the files again).
func boundAfterOpen(fsys vfs.FS, path string, pre uint64) (uint64, error) {
	post, err := readBound(fsys, path)
	if err == nil && post < pre {
		return post, relistError{fmt.Errorf("ministore: %s: the front bound went from %d to %d while its files were opened", path, pre, post)}
	}
	return post, err
}

// checkBound returns the error for a bound that does not fit the segments:
// base is the oldest segment's first sequence number (0: there is no
// segment), next the one after the last record.
func checkBound(path string, bound, base, next uint64) error {
	switch {
	case bound == 0:
		return nil
	case base == 0:
		return corruptAt(boundPath(path), 1, 0, fmt.Errorf(
			"%w: the first record is %d, but the journal has no segment file", ErrCorrupt, bound))
	case bound < base:
		return corruptAt(boundPath(path), 1, 0, fmt.Errorf(
			"%w: the first record is %d, but the oldest segment starts at %d (the segment holding records %d to %d is missing)",
			ErrCorrupt, bound, base, bound, base-1))
	case bound > next:
		return corruptAt(boundPath(path), 1, 0, fmt.Errorf(
			"%w: the first record is %d, but the journal ends at record %d (records %d to %d are missing)",
			ErrCorrupt, bound, next-1, next, bound-1))
	}
	return nil
}

// setBound makes first the journal's front bound, durably. The first bound
// (and the first update of an old one-line file) replaces the file whole
// through a temporary file; later ones write the slot not holding the bound
// and fdatasync the file. A crash leaves the old bound or the new one.
func (w *wal) setBound(first uint64) error {
	if w.bound == first {
		return nil
	}
	p := boundPath(w.path)
	// Not counted in Stats: the journal's own fsyncs are.
	if w.bound == 0 || w.boundSlot < 0 {
		if err := replaceFile(w.fs, p, encodeBound(first)); err != nil {
			return fmt.Errorf("set front bound %s: %w", p, err)
		}
		w.bound, w.boundGen, w.boundSlot = first, 1, 0
		return nil
	}
	gen, slot := w.boundGen+1, 1-w.boundSlot
	torn, err := writeSync(w.fs, p, os.O_RDWR, int64(slot)*boundSlot, appendBoundSlot(nil, first, gen))
	if err != nil {
		if torn {
			// A failed write can leave the slot half copied, which the
			// next Open would rightly call damage: put the file back
			// whole, with the bound it had (the store fails anyway).
			if rerr := replaceFile(w.fs, p, encodeBound(w.bound)); rerr == nil {
				w.boundGen, w.boundSlot = 1, 0
			}
		}
		return fmt.Errorf("set front bound %s: %w", p, err)
	}
	w.bound, w.boundGen, w.boundSlot = first, gen, slot
	return nil
}

// removeBound deletes the bound file, durably.
func (w *wal) removeBound() error {
	if w.bound == 0 {
		return nil
	}
	p := boundPath(w.path)
	if err := w.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove front bound %s: %w", p, err)
	}
	if err := w.fs.SyncDir(w.dir); err != nil {
		return fmt.Errorf("remove front bound %s: %w", p, err)
	}
	w.bound = 0
	return nil
}

// openBound reads the bound at Open, after removing what a crash while it
// was replaced can leave.
func (w *wal) openBound() error {
	if err := w.removeLeftover(boundPath(w.path) + ".tmp"); err != nil {
		return err
	}
	fb, err := readBoundFile(w.fs, w.path, 1) // the lock keeps writers out
	w.bound, w.boundGen, w.boundSlot = fb.first, fb.gen, fb.slot
	return err
}

// truncateFront moves the bound to seq and deletes the segments below it.
// It writes the small bound file and deletes files; it copies nothing.
func (w *wal) truncateFront(seq uint64) error {
	return w.exclusive(func() error {
		w.mu.Lock()
		first, next := w.first, w.next
		w.mu.Unlock()
		if seq <= first {
			return nil
		}
		if w.format == FormatPlain {
			// Before the Rust crates could misread it: see rustmark.go.
			if err := w.markFrontDropped(); err != nil {
				return err
			}
		}
		if seq > next {
			// Past the end: the journal empties and numbering jumps.
			return w.restart(seq)
		}
		// The bound must never say records are written that a power loss
		// can take: make them durable before it counts them.
		if err := w.syncLocked(); err != nil {
			return err
		}
		if err := w.setBound(seq); err != nil {
			return err
		}
		w.setFirst(seq)
		for len(w.segs) > 1 && w.segs[0].last < seq {
			if err := w.removeSegment(0); err != nil {
				return err
			}
		}
		return nil
	})
}

// restart empties the journal so that the next record appended gets seq.
// Each step leaves a journal that opens: the old one whole, or empty.
//
//  1. the bound moves to the end: every record is deleted at once;
//  2. the sealed segments are deleted, oldest first;
//  3. the active file is replaced by an empty one starting at the end,
//     where the bound is, which makes the bound redundant;
//  4. the bound file is deleted;
//  5. the active file is replaced by an empty one starting at seq.
func (w *wal) restart(seq uint64) error {
	if err := w.syncLocked(); err != nil {
		return err
	}
	w.mu.Lock()
	next := w.next
	w.mu.Unlock()
	if !(len(w.segs) == 1 && w.segs[0].base == next && w.segs[0].empty()) {
		if err := w.setBound(next); err != nil {
			return err
		}
		for len(w.segs) > 1 {
			if err := w.removeSegment(0); err != nil {
				return err
			}
		}
		if err := w.resetActive(next); err != nil {
			return err
		}
	}
	if err := w.removeBound(); err != nil {
		return err
	}
	if seq != next {
		if err := w.resetActive(seq); err != nil {
			return err
		}
	}
	w.mu.Lock()
	w.first, w.next = seq, seq
	w.written, w.durable = seq-1, seq-1
	w.mu.Unlock()
	return nil
}

// resetActive replaces the only segment, the active file, by an empty one
// starting at base.
func (w *wal) resetActive(base uint64) error {
	seg, err := w.createSegment(w.format, base)
	if err != nil {
		return err
	}
	w.segMu.Lock()
	old := w.segs
	w.segs = []*segment{seg}
	w.segMu.Unlock()
	for _, s := range old {
		s.f.Close()
	}
	return nil
}

// keepBound is called before retention deletes the oldest segment: a bound
// inside it moves to the next segment first, so it never points below the
// oldest segment.
func (w *wal) keepBound() error {
	if w.bound == 0 || w.bound > w.segs[0].last {
		return nil
	}
	return w.setBound(w.segs[1].base)
}

// inspectBound applies the front bound to what Inspect found: the records
// below it are not counted, and a bound that does not fit the segments is
// the Problem (unless there is one already). bound and err are readBound's,
// read just after the listing (a bound read after the records could be
// past them).
func inspectBound(path string, bound uint64, err error, info *JournalInfo) error {
	var je *JournalError
	if errors.As(err, &je) {
		if info.Problem == nil {
			info.Problem = je
		}
		return nil
	}
	if err != nil || bound == 0 {
		return err
	}
	info.Bound = bound
	segs := withHeaders(info.Segments)
	if n := len(segs); info.Problem == nil && n == 0 {
		info.Problem = checkBound(path, bound, 0, 0)
	} else if info.Problem == nil {
		info.Problem = checkBound(path, bound, segs[0].FirstSeq, segs[n-1].FirstSeq+segs[n-1].Records)
	}
	if info.Records == 0 || bound <= info.FirstSeq {
		return nil
	}
	if bound > info.LastSeq {
		info.Records, info.FirstSeq, info.LastSeq = 0, 0, 0
		return nil
	}
	info.Records -= bound - info.FirstSeq
	info.FirstSeq = bound
	return nil
}

// withHeaders returns segs without a last one that has no header (an
// active file a crash left so, which Open sets aside).
func withHeaders(segs []SegmentInfo) []SegmentInfo {
	if n := len(segs); n > 0 && segs[n-1].Version == "" {
		return segs[:n-1]
	}
	return segs
}

// backupBound writes bound, the front bound of the journal whose copy
// (files named after name) is in dir, into the copy, fsync'd, and moves
// info's first record up to it. Nothing for a bound of 0.
func backupBound(fsys vfs.FS, dir, name string, bound uint64, info *BackupInfo) error {
	if bound == 0 {
		return nil
	}
	if err := backup.WriteFile(fsys, boundPath(filepath.Join(dir, name)), encodeBound(bound)); err != nil {
		return fmt.Errorf("ministore: backup: %w", err)
	}
	if info.First != 0 && bound > info.First {
		info.First = bound
		if bound > info.Last {
			info.First, info.Last = 0, 0
		}
	}
	return nil
}

// writeSync opens the file name with flag, writes b at off, fsyncs and
// closes it. torn reports that the write failed, so the file may hold part
// of b.
func writeSync(fsys vfs.FS, name string, flag int, off int64, b []byte) (torn bool, err error) {
	f, err := fsys.OpenFile(name, flag, 0o644)
	if err != nil {
		return false, err
	}
	if err = writeFull(f, b, off); err != nil {
		torn = true
	} else {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return torn, err
}

// replaceFile replaces the file name by one holding b, durably and whole:
// written to name.tmp, fsync'd, renamed, the directory fsync'd. A crash
// leaves the old file or the new one (and maybe name.tmp).
func replaceFile(fsys vfs.FS, name string, b []byte) error {
	if _, err := writeSync(fsys, name+".tmp", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0, b); err != nil {
		return err
	}
	if err := fsys.Rename(name+".tmp", name); err != nil {
		return err
	}
	return fsys.SyncDir(dirOf(name))
}

// removeLeftover removes the temporary file tmp that a crash can leave,
// durably.
func (w *wal) removeLeftover(tmp string) error {
	if ok, err := vfs.Exists(w.fs, tmp); err != nil || !ok {
		return err
	}
	if err := w.fs.Remove(tmp); err != nil {
		return fmt.Errorf("ministore: remove leftover %s: %w", tmp, err)
	}
	return w.fs.SyncDir(w.dir)
}
