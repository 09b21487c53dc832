// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/mini-go/mini/vfs"
)

// segReader reads the files of one journal, oldest first, one at a time:
// Open's recovery, Records, Replay, All, Follow, Inspect, Bounds and Repair
// all read through it. It lists the files once, opens each once (closing
// it when it moves on), reads each header once, checks that each segment
// starts where the one before ended, and applies the damage rules of
// tail.go and docs/FORMAT.md: a line of a sealed segment that does not
// verify is corruption; the end of the newest one is judged (its torn tail
// in s.torn, its preallocated zeros, or corruption); an active file without
// a header ends the journal if a crash can have left it (headerless), that
// is with no sealed segment before it or a plain one (only the Rust crate
// creates files in place), and is corruption after one of format v1; what
// is cut or set aside is kept in a .broken file (cutTail, setAside).
//
// Its error is sticky, as bufio.Scanner's: once next or scan fails, both
// return false and Err says why.
//
//	r := openSegments(fsys, path, os.O_RDONLY)
//	defer r.close()
//	for r.next(0) {
//		for r.scan() {
//			use(r.rec)
//		}
//	}
//	err := r.Err()
type segReader struct {
	fsys       vfs.FS
	flag       int // os.O_RDONLY, or os.O_RDWR for recovery
	files      []segmentFile
	i          int     // index in files of cur; -1 before the first
	cur, ahead segHead // the segment at hand, and the next one once read ahead
	newest     bool    // cur is the newest file
	kept       bool    // the caller owns cur.f
	scanning   bool    // s reads cur's records
	s          scanner // cur's records; reused from segment to segment
	br         *bufio.Reader
	rec        record // the record scan returned last
	expect     uint64 // where the next segment must start; 0: not known
	first      uint64 // the oldest file's header base; 0 if none (Rust)
	// jump is a file that holds from (a seekHint's): next reads the
	// oldest file's header, then goes on from the one before jump, jumped,
	// if its base is not above from (the files before it hold records
	// below from).
	jump       string
	jumped     int
	prevFormat Format // the format of the header before cur's
	// headerless: the newest file is an active file without a header that
	// a crash can have left, of headerlessSize bytes; the records end
	// before it.
	headerless     bool
	headerlessSize int64
	// changed: err is what a writer changing the journal while it is read
	// can cause (a file gone, a segment missing, the end of the newest one
	// not what a crash leaves); readLog reads the listing again.
	changed  bool
	err      error
	progress *progress
	hbuf     [maxHeaderLine]byte
	scratch  []byte // for lastRecord
}

// segHead is one file of the journal, opened, with its header read.
type segHead struct {
	sf      segmentFile
	f       vfs.File
	hdr     header // base as written: 0 in a Rust file
	hdrLen  int64
	openErr error
	err     error // errNoHeader, a *JournalError or a read error
}

// openSegments lists the journal at path; its files are opened with flag.
func openSegments(fsys vfs.FS, path string, flag int) *segReader {
	r := &segReader{fsys: fsys, flag: flag, i: -1}
	r.files, r.err = listSegments(fsys, path)
	if r.err != nil && !errors.Is(r.err, ErrNotRegular) && !errors.Is(r.err, ErrCorrupt) {
		r.err = fmt.Errorf("ministore: list %s: %w", path, r.err)
	}
	return r
}

// Err returns the first error next or scan met, or nil.
func (r *segReader) Err() error { return r.err }

// load opens file i and reads its header.
func (r *segReader) load(i int) segHead {
	h := segHead{sf: r.files[i]}
	if h.f, h.openErr = r.fsys.OpenFile(h.sf.path, r.flag, 0); h.openErr != nil {
		h.openErr = fmt.Errorf("ministore: open %s: %w", h.sf.path, h.openErr)
		return h
	}
	h.hdr, h.hdrLen, h.err = readHeader(h.f, h.sf.path, r.hbuf[:])
	if h.err != nil && h.err != errNoHeader && !errors.As(h.err, new(*JournalError)) {
		h.err = fmt.Errorf("ministore: read %s: %w", h.sf.path, h.err)
	} else if h.err == nil && r.progress != nil {
		r.progress.add(h.hdrLen, false)
	}
	return h
}

// next moves to the next segment and reads its header. It returns false at
// the end of the journal, at a headerless active file, or on an error.
// With from above 1 it passes over the segments whose records all lie
// below from, as the header of the segment after each one tells.
func (r *segReader) next(from uint64) bool {
	for r.err == nil && !r.headerless {
		r.release()
		if r.i+1 >= len(r.files) {
			return false
		}
		r.i++
		r.cur, r.ahead = r.ahead, segHead{}
		if r.cur.sf.path == "" {
			r.cur = r.load(r.i)
		}
		r.newest = r.i == len(r.files)-1
		if r.i == 0 && r.newest && r.cur.sf.num == 0 && r.cur.openErr == nil && r.flag == os.O_RDONLY && !r.alone() {
			return false
		}
		if !r.header() {
			return false
		}
		if r.i == 0 && r.jump != "" {
			k := slices.IndexFunc(r.files, func(f segmentFile) bool { return f.path == r.jump })
			if r.jump, r.jumped = "", k-1; k >= 2 {
				r.i = k - 2
				continue
			}
		}
		if base := r.cur.hdr.base; r.i == r.jumped && r.i > 0 && (base == 0 || base > from) {
			r.i, r.jumped = -1, 0 // the hint is stale: read from the oldest
			continue
		}
		if base := r.cur.hdr.base; from > 1 && !r.newest && base != 0 && base < from {
			r.ahead = r.load(r.i + 1)
			if a := r.ahead; a.openErr == nil && a.err == nil && a.hdr.base != 0 && a.hdr.base <= from {
				r.expect = 0 // passed over: where it ends is not known
				continue
			}
		}
		h := r.cur.hdr
		if h.base == 0 {
			h.base = max(r.expect, 1) // a Rust file: numbering goes on
		}
		if r.expect != 0 && h.base != r.expect {
			r.err, r.changed = missingError(r.cur.sf.path, h.base, r.expect), true
			return false
		}
		if r.br == nil {
			r.br = bufio.NewReaderSize(nil, scanBufSize)
		}
		r.s.start(r.cur.sf.path, r.cur.f, r.br, r.newest, h, r.cur.hdrLen)
		r.s.src.progress = r.progress
		r.expect, r.scanning = 0, true
		return true
	}
	return false
}

// alone reports whether the active file, listed alone and just opened, is
// still the journal's only file. A rotation since the listing made the
// file opened the new one: the records of the one renamed would be missed
// without a word (err and changed are set then).
func (r *segReader) alone() bool {
	r.err = stillAlone(r.fsys, r.cur.sf.path)
	r.changed = r.err != nil
	return r.err == nil
}

// stillAlone lists the journal at path again (see alone).
func stillAlone(fsys vfs.FS, path string) error {
	again, err := listSegments(fsys, path)
	if err == nil && (len(again) != 1 || again[0].num != 0) {
		err = fmt.Errorf("ministore: %s: the journal's files changed while they were read", path)
	}
	return err
}

// missingError is the error for the segment file path, whose first record
// is base, when the one before it ends at expect-1.
func missingError(path string, base, expect uint64) error {
	return corruptAt(path, 1, 0, fmt.Errorf(
		"%w: segment starts at sequence number %d, but the previous one ends at %d (a segment is missing)",
		ErrCorrupt, base, expect-1))
}

// header judges cur's header: false (with err or headerless set) if its
// records cannot be read.
func (r *segReader) header() bool {
	h := &r.cur
	switch {
	case h.openErr != nil:
		r.err, r.changed = h.openErr, true
	case h.err == errNoHeader && r.newest && h.sf.num == 0 && (r.i == 0 || r.prevFormat == FormatPlain):
		r.headerlessSize, r.err = h.f.Size()
		r.headerless = r.err == nil
		r.release()
	case h.err == errNoHeader:
		r.err = corruptAt(h.sf.path, 1, 0, errBadMagic)
	case h.err != nil:
		r.err = h.err
	default:
		if r.i == 0 {
			r.first = h.hdr.base
		}
		r.prevFormat = h.hdr.format
		return true
	}
	return false
}

// scan reads cur's next good record into rec. At the end of its records it
// returns false, with Err nil at the end of a sealed segment, or of the
// newest at its end, its zeros or its torn tail (s.torn), and set at
// damage.
func (r *segReader) scan() bool {
	if !r.scanning {
		return false
	}
	if rec, ok := r.s.next(); ok {
		r.rec = rec
		return true
	}
	r.scanning, r.expect = false, r.s.expect
	if r.s.err != nil {
		r.err, r.changed = r.s.err, r.s.judged
	}
	return false
}

// endsAt says that cur's last record is last, for a caller that found it
// without scan: the next segment must start after it.
func (r *segReader) endsAt(last uint64) { r.scanning, r.expect = false, last+1 }

// release closes cur's file unless the caller keeps it.
func (r *segReader) release() {
	if r.cur.f != nil && !r.kept {
		r.cur.f.Close()
	}
	r.cur.f, r.kept, r.scanning = nil, false, false
}

// close closes the files the reader has open.
func (r *segReader) close() {
	r.release()
	if r.ahead.f != nil {
		r.ahead.f.Close()
	}
}

// cutTail cuts the torn tail the scan of the newest segment found, which
// the caller keeps open for writing, and keeps what it cuts in a .broken
// file. It returns the torn tail, or nil if there is none.
func (r *segReader) cutTail() (*TornTail, error) {
	s := &r.s
	if s.torn == nil {
		return nil, nil
	}
	f := r.cur.f
	saved, err := saveCopy(r.fsys, f, s.path, s.end, s.dataEnd)
	if err != nil {
		return nil, fmt.Errorf("ministore: keep the torn tail of %s: %w", s.path, err)
	}
	s.torn.Saved = saved
	if err := f.Truncate(s.end); err != nil {
		return nil, fmt.Errorf("ministore: cut torn tail of %s: %w", s.path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("ministore: cut torn tail of %s: %w", s.path, err)
	}
	return s.torn, nil
}

// setAside moves the header-less newest file (headerless), unless it is
// empty, to NAME.broken, and reports it as a torn tail.
func (r *segReader) setAside() (*TornTail, error) {
	if !r.headerless || r.headerlessSize == 0 {
		return nil, nil
	}
	path := r.files[r.i].path
	saved, err := moveAside(r.fsys, path)
	if err != nil {
		return nil, fmt.Errorf("ministore: set aside %s: %w", path, err)
	}
	return &TornTail{Path: path, Line: 1, Bytes: r.headerlessSize, Saved: saved}, nil
}

// saveCopy copies bytes [from, to) of f, the file path, to a new file
// path.broken (or path.broken.2, ...), fsyncs it and its directory, and
// returns its name.
func saveCopy(fsys vfs.FS, f vfs.File, path string, from, to int64) (string, error) {
	saved, err := freeName(fsys, path+".broken")
	if err != nil {
		return "", err
	}
	out, err := fsys.OpenFile(saved, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	err = copyRange(out, 0, f, from, to-from)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.SyncDir(dirOf(path))
	}
	if err != nil {
		// A partial copy is no copy: remove it, so that a full disk does
		// not leave an empty NAME.broken (and another one per retry)
		// beside a journal that was not cut.
		_ = fsys.Remove(saved)
		return "", fmt.Errorf("save %s: %w", saved, err)
	}
	return saved, nil
}

// moveAside renames path to path.broken (or path.broken.2, ...) and
// fsyncs its directory.
func moveAside(fsys vfs.FS, path string) (string, error) {
	saved, err := freeName(fsys, path+".broken")
	if err != nil {
		return "", err
	}
	if err := fsys.Rename(path, saved); err != nil {
		return "", err
	}
	return saved, fsys.SyncDir(dirOf(path))
}

// freeName returns name, or name.2, name.3, ... whichever does not exist.
func freeName(fsys vfs.FS, name string) (string, error) {
	cand := name
	for i := 2; ; i++ {
		ok, err := vfs.Exists(fsys, cand)
		if err != nil || !ok {
			return cand, err
		}
		cand = fmt.Sprintf("%s.%d", name, i)
	}
}

// atReader reads r from off on, up to end, through ReadAt: a segment's
// records after the header that readHeader read.
type atReader struct {
	r        io.ReaderAt
	off, end int64
	progress *progress // counts the bytes read, if not nil
}

func (a *atReader) Read(b []byte) (int, error) {
	if a.off >= a.end {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), a.end-a.off)]
	n, err := a.r.ReadAt(b, a.off)
	a.off += int64(n)
	if a.progress != nil {
		a.progress.add(int64(n), err == io.EOF)
	}
	return n, err
}

// progress counts the bytes Inspect reads and reports every MiB, and at
// the end of each file.
type progress struct {
	fn          func(read, total int64)
	read, total int64
	reported    int64
}

func (p *progress) add(n int64, eof bool) {
	p.read += n
	if p.read-p.reported >= 1<<20 || eof {
		p.reported = p.read
		p.fn(p.read, max(p.total, p.read))
	}
}
