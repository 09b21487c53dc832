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
// TruncateFront(seq) writes seq to the side file NAME.front (through
// NAME.front.tmp, fsync, rename, fsync of the directory) and then deletes the
// segments that lie wholly below it. Records below the bound that share a
// segment with it stay in the file until that segment goes, and every reader
// skips them. The file holds one line:
//
//	// MINISTORE FRONT v1 first=N crc=XXXXXXXX
//
// with the CRC-32C (Castagnoli, hex) of the text before " crc=". A missing
// file means no bound: the first record is the oldest segment's base.
//
// What the bound may be, the oldest segment's base being B and the next
// sequence number N (the last record + 1): B <= bound <= N. A bound below B
// means the segment that held it is missing; a bound above N means records
// the bound counts as written are missing. Neither can a crash leave (see
// docs/FORMAT.md); Open reports both, and a file that does not parse, as a
// *JournalError naming NAME.front.

const boundMagic = "// MINISTORE FRONT v1 first="

// boundPath is the path of the front bound of the journal at path.
func boundPath(path string) string { return path + ".front" }

// appendBound appends the bound file's line for first.
func appendBound(dst []byte, first uint64) []byte {
	start := len(dst)
	dst = append(dst, boundMagic...)
	dst = strconv.AppendUint(dst, first, 10)
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, " crc="...)
	dst = appendHex32(dst, sum)
	return append(dst, '\n')
}

// parseBound parses the bound file's contents.
func parseBound(b []byte) (uint64, error) {
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

// readBound returns the front bound of the journal at path, or 0 if it has
// none. A file that does not parse is a *JournalError matching ErrCorrupt.
func readBound(fsys vfs.FS, path string) (uint64, error) {
	p := boundPath(path)
	b, err := vfs.ReadFile(fsys, p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ministore: read %s: %w", p, err)
	}
	first, err := parseBound(b)
	if err != nil {
		return 0, corruptAt(p, 1, 0, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	return first, nil
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

// setBound makes first the journal's front bound, durably: the file is
// replaced whole through a temporary file, so a crash leaves the old bound
// or the new one.
func (w *wal) setBound(first uint64) error {
	if w.bound == first {
		return nil
	}
	// Not counted in Stats: the journal's own fsyncs are.
	if err := replaceFile(w.fs, boundPath(w.path), appendBound(nil, first)); err != nil {
		return fmt.Errorf("set front bound %s: %w", boundPath(w.path), err)
	}
	w.bound = first
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
	b, err := readBound(w.fs, w.path)
	w.bound = b
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

// applyBound returns where reading starts: from, or the bound of the
// journal at path if from is below it. With exact set, a from of 1 or more
// below the bound is a *TruncatedError.
func applyBound(fsys vfs.FS, path string, from uint64, exact bool) (uint64, error) {
	bound, err := readBound(fsys, path)
	if err != nil {
		return from, err
	}
	if from >= bound {
		return from, nil
	}
	if exact && from > 0 {
		return from, &TruncatedError{Path: path, From: from, First: bound}
	}
	return bound, nil
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
	if err := backup.WriteFile(fsys, boundPath(filepath.Join(dir, name)), appendBound(nil, bound)); err != nil {
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

// writeFileSync writes b to the file name, created or truncated, and
// fsyncs and closes it.
func writeFileSync(fsys vfs.FS, name string, b []byte) error {
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = writeFull(f, b, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// replaceFile replaces the file name by one holding b, durably and whole:
// written to name.tmp, fsync'd, renamed, the directory fsync'd. A crash
// leaves the old file or the new one (and maybe name.tmp).
func replaceFile(fsys vfs.FS, name string, b []byte) error {
	if err := writeFileSync(fsys, name+".tmp", b); err != nil {
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
