// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mini-go/mini/vfs"
)

// wal is the untyped journal under Store: it appends and reads JSON
// payloads. Store[R] adds the encoding of R.
type wal struct {
	opts Options
	fs   vfs.FS
	path string
	dir  string
	lock io.Closer
	torn *TornTail
	// cleanOpen: Open took the active file's end from the clean-end proof
	// (see cleanend.go) instead of reading its records.
	cleanOpen bool
	// provenFrom: after a crash, Open read the active file's records only
	// from this one on, the records before it being proven durable by a
	// later record's "sync" field (see provenstart.go); 0 if it read all.
	provenFrom uint64
	prealloc   bool
	// preallocStep is how far preallocate extends the active file; it
	// shrinks when the disk is full.
	preallocStep int64
	schema       string // written in every new header; see settleSchema
	// bound is the front bound (NAME.front), 0 if none; only the leader
	// (busy) changes it, with boundGen and boundSlot, the generation and
	// the slot that hold it (boundSlot -1: an old one-line file).
	bound     uint64
	boundGen  uint64
	boundSlot int

	// mu guards the append queue, the counters and the state below it.
	mu      sync.Mutex
	cond    sync.Cond
	format  Format
	pending []entry // records waiting for the leader
	spare   []entry
	batchID uint64 // the batch that pending will become
	doneID  uint64 // the last batch written (and synced, under SyncAlways)
	next    uint64 // sequence number of the next record
	written uint64 // last sequence number written to the file
	durable uint64 // last sequence number known to be fsync'd
	first   uint64 // first sequence number in the log
	busy    bool   // a leader owns the files
	err     error  // ErrClosed, or the failure that stopped the store
	closed  bool
	timer   *time.Timer

	// The leader's scratch space (see frameBatch); only the goroutine
	// that is busy uses it.
	frame []byte
	ends  []int
	bufs  [][]byte
	cuts  []cut

	// segMu guards segs and the segments' sizes and indexes. The leader
	// (busy) is the only one that changes them.
	segMu    sync.RWMutex
	segs     []*segment // oldest first; the last one is the active file
	nextNum  int        // number of the next sealed segment
	segWidth int        // digits of the next sealed segment's number

	stats counters // see Stats

	// backGen counts TruncateBack calls, so that a Backup copying the
	// active file can tell it was cut under the copy.
	backGen atomic.Uint64
}

func openWAL(path string, o *Options) (w *wal, err error) {
	start := time.Now()
	opts, err := o.resolved()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New("ministore: empty path")
	}
	path = filepath.Clean(path)
	fsys := opts.FS
	if info, err := vfs.Lstat(fsys, path); err == nil && info.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrIsDir, path)
	} else if err == nil && !info.Mode().IsRegular() {
		return nil, checkRegular(fsys, path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ministore: %w", err)
	}
	dir := filepath.Dir(path)
	if err := vfs.MkdirAll(fsys, dir, 0o755); err != nil {
		return nil, fmt.Errorf("ministore: create directory: %w", err)
	}
	lock, err := fsys.Lock(path + ".lock")
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("ministore: lock %s: %w", path, err)
	}
	w = &wal{
		opts: opts,
		fs:   fsys,
		path: path,
		dir:  dir,
		lock: lock,
	}
	w.cond.L = &w.mu
	if err := w.recover(); err != nil {
		w.closeFiles()
		lock.Close()
		return nil, err
	}
	w.batchID = 1
	w.stats.recovery = time.Since(start)
	if w.torn != nil {
		w.stats.tornRepairs.Store(1)
		opts.Logger.Warn("ministore: repaired torn tail", "path", w.torn.Path, "line", w.torn.Line,
			"offset", w.torn.Offset, "bytes", w.torn.Bytes, "saved", w.torn.Saved)
	}
	return w, nil
}

// recover reads the journal's files, checks that they follow each other
// and that their schema is the one wanted, then, and only then, writes:
// it scans the newest one record by record and cuts a torn tail off it.
func (w *wal) recover() error {
	r := openSegments(w.fs, w.path, os.O_RDWR)
	defer r.close()
	format := w.opts.Format
	if format == FormatAuto {
		format = FormatV1
	}
	for _, sf := range r.files {
		w.nextNum = max(w.nextNum, sf.num)
	}
	w.nextNum++
	w.segWidth = segmentWidth(r.files)

	expect := uint64(1) // first sequence number of the next segment
	for r.next(0) {
		seg := &segment{path: r.cur.sf.path, num: r.cur.sf.num, f: r.cur.f, hdr: r.s.hdr, base: r.s.hdr.base}
		r.kept = true // closed by closeFiles
		w.segs = append(w.segs, seg)
		if r.newest {
			break // read below, once the schema is known to be right
		}
		if err := readSealed(r, seg); err != nil {
			return err
		}
		expect = seg.last + 1
		r.endsAt(seg.last)
		format = seg.hdr.format
	}
	if err := r.Err(); err != nil {
		return err
	}
	if err := w.settleSchema(); err != nil {
		return err
	}
	if err := w.openBound(); err != nil {
		return err
	}
	if len(w.segs) == 0 {
		if err := checkBound(w.path, w.bound, 0, 0); err != nil {
			return err
		}
	}
	if err := w.removeLeftover(w.path + ".tmp"); err != nil {
		return err
	}
	proof, proofOK, err := w.takeCleanEnd()
	if err != nil {
		return err
	}
	if r.scanning {
		seg := w.active()
		clean := false
		if proofOK && seg.num == 0 {
			if clean, err = w.recoverClean(seg, proof); err != nil {
				return err
			}
		}
		if !clean {
			if err := w.recoverNewest(r, seg); err != nil {
				return err
			}
		}
		expect, format = seg.last+1, seg.hdr.format
	}
	// An active file a crash left without a header: started afresh below;
	// what the crash left of the header is kept aside.
	torn, err := r.setAside()
	if err != nil {
		return err
	}
	if torn != nil {
		w.torn = torn
	}
	if len(w.segs) > 0 {
		if err := checkBound(w.path, w.bound, w.segs[0].base, expect); err != nil {
			return err
		}
	}
	if len(w.segs) == 0 || w.segs[len(w.segs)-1].num != 0 {
		// A new journal, or a crash during rotation left no active file.
		seg, err := w.createSegment(format, expect)
		if err != nil {
			return err
		}
		w.segs = append(w.segs, seg)
	}
	// What was just read may be only in the page cache: a write or fsync
	// that failed before this Open, a process killed under SyncNever, or a
	// rename whose directory sync failed leaves data the reader sees but a
	// power loss could take. Records appended from now on stand on it (and
	// their "sync" field will say it is durable), so make it durable now.
	if err := w.active().f.Sync(); err != nil {
		return fmt.Errorf("ministore: fsync %s: %w", w.active().path, err)
	}
	if err := w.fs.SyncDir(w.dir); err != nil {
		return fmt.Errorf("ministore: fsync %s: %w", w.dir, err)
	}
	w.format = w.active().hdr.format
	w.prealloc = w.format == FormatV1 && !w.opts.NoPreallocate
	w.preallocStep = preallocStep
	w.next = expect
	w.written, w.durable = expect-1, expect-1
	w.first = max(w.segs[0].base, w.bound)
	return nil
}

func (w *wal) active() *segment { return w.segs[len(w.segs)-1] }

// rewriteUnproven writes the records of the newest segment after proven
// (the highest sequence number the segment's "sync" fields show durable;
// all of them in FormatPlain, which has none) again, with the same bytes.
//
// What Open reads may be only in the page cache, and after a failed fsync
// Linux marks the pages it could not write clean: they are still read, but
// no later fsync writes them, and a power loss takes them. Records
// appended from now on stand on what was read, so it must become durable:
// writing it again makes the pages dirty, and the fsync that follows (in
// recover) writes them or fails. Usually this is the last batch, a few
// hundred bytes.
//
// index holds the offsets of the segment's records from first on (all of
// them, or those after a sync proof, which proves the ones before it).
func (w *wal) rewriteUnproven(seg *segment, proven, first uint64, index []int64) error {
	if seg.empty() {
		return nil
	}
	from := first
	if seg.hdr.format == FormatV1 {
		from = max(from, proven+1)
	}
	if from > seg.last {
		return nil
	}
	off := index[from-first]
	if err := copyRange(seg.f, off, seg.f, off, seg.size-off); err != nil {
		return fmt.Errorf("ministore: rewrite unsynced records of %s: %w", seg.path, err)
	}
	if seg.num != 0 {
		// A sealed segment: recover syncs only the active file.
		if err := seg.f.Sync(); err != nil {
			return fmt.Errorf("ministore: fsync %s: %w", seg.path, err)
		}
	}
	return nil
}

// readSealed finds the last record of the sealed segment r is at, seg.
func readSealed(r *segReader, seg *segment) error {
	if seg.hdr.format == FormatV1 {
		var err error
		seg.last, seg.size, err = lastRecord(seg.f, seg.path, r.cur.hdrLen, seg.base, &r.scratch)
		seg.alloc = seg.size
		if err != nil {
			// lastRecord reads only the end of the file and knows no line
			// number: read the segment from its start for the line and
			// offset of the first bad record, as the readers report them.
			for r.scan() {
			}
			if r.Err() != nil {
				return r.Err()
			}
		}
		return err
	}
	// The Rust format has no sequence numbers: count the records.
	for r.scan() {
	}
	if err := r.Err(); err != nil {
		return err
	}
	seg.last = r.s.expect - 1
	seg.size, seg.alloc = r.s.end, r.s.off
	return nil
}

// recoverNewest scans the newest segment, which r is at, seg, builds its
// index and removes a torn tail. In format v1 the scan starts where the
// sync proof (provenstart.go) allows; the index is then built when needed.
func (w *wal) recoverNewest(r *segReader, seg *segment) error {
	s := &r.s
	from := seg.base
	if seg.hdr.format == FormatV1 {
		if size, err := seg.f.Size(); err == nil {
			if off, seq, ok := provenStart(seg.f, s.off, size, seg.base); ok {
				s.seek(off, seq)
				from = seq
				w.provenFrom = seq
			}
		}
	}
	index := make([]int64, 0, 1024)
	for r.scan() {
		index = append(index, r.s.recOff)
	}
	if err := r.Err(); err != nil {
		return err
	}
	seg.last = from + uint64(len(index)) - 1
	seg.size, seg.alloc = s.end, s.off
	if err := w.rewriteUnproven(seg, s.proven, from, index); err != nil {
		return err
	}
	if from == seg.base {
		seg.index = index
	}
	torn, err := r.cutTail()
	if err != nil {
		return err
	}
	if torn != nil {
		seg.alloc = s.end
		w.torn = torn
	}
	return nil
}

// createSegment makes a new, empty active file through a temporary file,
// so a crash never leaves a file without its header.
func (w *wal) createSegment(format Format, base uint64) (*segment, error) {
	hdr := appendSchemaHeader(nil, format, base, w.schema)
	f, err := createActive(w.fs, w.path, hdr)
	if err != nil {
		return nil, err
	}
	h, _ := parseHeader(hdr[:len(hdr)-1])
	if h.base == 0 {
		h.base = base
	}
	size := int64(len(hdr))
	return &segment{path: w.path, hdr: h, base: base, last: base - 1, f: f, size: size, alloc: size, index: []int64{}}, nil
}

// createActive creates the active file path holding the header hdr: it is
// written to path.tmp, fsync'd and renamed, and the directory fsync'd, so
// a crash leaves no active file or a whole one.
func createActive(fsys vfs.FS, path string, hdr []byte) (vfs.File, error) {
	tmp := path + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ministore: create segment: %w", err)
	}
	err = writeFull(f, hdr, 0)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err == nil {
		err = fsys.SyncDir(dirOf(path))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ministore: create segment %s: %w", path, err)
	}
	return renamed(f, path), nil
}

func writeFull(f vfs.File, b []byte, off int64) error {
	n, err := f.WriteAt(b, off)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}

func (w *wal) closeFiles() {
	for _, s := range w.segs {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
}
