// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"fmt"
	"io"
	"os"
)

// TruncateFront drops every record before seq, for compaction behind a
// snapshot. Whole segments below seq are deleted, oldest first; the segment
// holding seq is rewritten through a temporary file and one rename. At no
// crash point is the journal anything but a suffix of what it was.
//
// If seq is beyond the last record, the journal becomes empty and the next
// record appended gets sequence number seq.
func (s *Store[R]) TruncateFront(seq uint64) error { return s.w.truncateFront(seq) }

// TruncateBack drops every record after seq. Segments are deleted from the
// newest backwards and the one holding seq is cut, so at no crash point is
// the journal anything but a prefix of what it was. The next record
// appended gets sequence number seq+1: the dropped numbers are used again.
// A seq below the first record empties the journal and numbering starts
// again at seq+1 (a raft log that installs an older snapshot needs this).
func (s *Store[R]) TruncateBack(seq uint64) error { return s.w.truncateBack(seq) }

func (w *wal) truncateFront(seq uint64) error {
	return w.exclusive(func() error {
		for len(w.segs) > 1 && w.segs[0].last < seq {
			if err := w.removeSegment(0); err != nil {
				return err
			}
			w.setFirst(w.segs[0].base)
		}
		if w.segs[0].base >= seq {
			return nil
		}
		if err := w.rewriteFrom(0, seq); err != nil {
			return err
		}
		w.setFirst(seq)
		return nil
	})
}

func (w *wal) setFirst(seq uint64) {
	w.mu.Lock()
	w.first = seq
	if w.next < seq { // the journal is empty and starts at seq
		w.next = seq
		w.written, w.durable = seq-1, seq-1
	}
	w.mu.Unlock()
}

// rewriteFrom replaces segment i by a copy that holds only its records from
// seq on (none if seq is past its end; then the copy starts at seq).
func (w *wal) rewriteFrom(i int, seq uint64) error {
	old := w.segs[i]
	off := old.size
	if seq <= old.last {
		if err := w.ensureIndex(old); err != nil {
			return err
		}
		off = old.index[seq-old.base]
	}
	tmp := w.path + ".tmp"
	f, err := w.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("truncate front: %w", err)
	}
	hdr := appendSchemaHeader(nil, old.hdr.format, seq, w.schema)
	err = writeFull(f, hdr, 0)
	if err == nil {
		err = copyRange(f, int64(len(hdr)), old.f, off, old.size-off)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = w.fs.Rename(tmp, old.path)
	}
	if err == nil {
		err = w.fs.SyncDir(w.dir)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("truncate front: rewrite %s: %w", old.path, err)
	}
	f = renamed(f, old.path)
	shift := off - int64(len(hdr))
	seg := &segment{path: old.path, num: old.num, hdr: old.hdr, base: seq, last: max(old.last, seq-1), f: f,
		size: old.size - shift}
	seg.hdr.base, seg.hdr.schema = seq, w.schema
	seg.alloc = seg.size
	if old.index != nil {
		seg.index = make([]int64, 0, len(old.index))
		if seq <= old.last {
			for _, o := range old.index[seq-old.base:] {
				seg.index = append(seg.index, o-shift)
			}
		}
	}
	w.segMu.Lock()
	w.segs[i] = seg
	w.segMu.Unlock()
	old.f.Close()
	if old.num == 0 {
		w.markDurable(seg.last)
	}
	return nil
}

func (w *wal) ensureIndex(seg *segment) error {
	seg.idxMu.Lock()
	defer seg.idxMu.Unlock()
	if seg.index != nil {
		return nil
	}
	return w.buildIndex(seg)
}

func copyRange(dst interface {
	WriteAt([]byte, int64) (int, error)
}, dstOff int64, src io.ReaderAt, srcOff, n int64) error {
	buf := make([]byte, min(n, 1<<20))
	for n > 0 {
		m := min(n, int64(len(buf)))
		if _, err := src.ReadAt(buf[:m], srcOff); err != nil && err != io.EOF {
			return err
		}
		if _, err := dst.WriteAt(buf[:m], dstOff); err != nil {
			return err
		}
		srcOff, dstOff, n = srcOff+m, dstOff+m, n-m
	}
	return nil
}

func (w *wal) truncateBack(seq uint64) error {
	return w.exclusive(func() error {
		w.backGen.Add(1) // see backupTo
		w.mu.Lock()
		last := w.written // next-1 when the journal is empty
		w.mu.Unlock()
		if seq >= last {
			return nil // nothing after seq
		}
		// Delete whole segments after seq, the active file first.
		for len(w.segs) > 0 && w.segs[len(w.segs)-1].base > seq {
			if err := w.removeSegment(len(w.segs) - 1); err != nil {
				return err
			}
		}
		if len(w.segs) == 0 {
			// Everything is gone: start an empty active file at seq+1.
			seg, err := w.createSegment(w.format, seq+1)
			if err != nil {
				return err
			}
			w.segMu.Lock()
			w.segs = append(w.segs, seg)
			w.segMu.Unlock()
			w.setBack(seq)
			return nil
		}
		t := w.active()
		if t.num != 0 {
			// The segment holding seq becomes the active file.
			if err := w.fs.Rename(t.path, w.path); err != nil {
				return fmt.Errorf("truncate back: %w", err)
			}
			if err := w.fs.SyncDir(w.dir); err != nil {
				return fmt.Errorf("truncate back: %w", err)
			}
			w.segMu.Lock()
			t.path, t.num = w.path, 0
			w.segMu.Unlock()
		}
		if err := w.ensureIndex(t); err != nil {
			return err
		}
		cut := t.size
		if seq < t.last {
			cut = t.index[seq+1-t.base]
		}
		if err := t.f.Truncate(cut); err != nil {
			return fmt.Errorf("truncate back %s: %w", t.path, err)
		}
		if err := t.f.Sync(); err != nil {
			return fmt.Errorf("truncate back %s: %w", t.path, err)
		}
		w.segMu.Lock()
		t.index = t.index[:seq+1-t.base]
		t.last, t.size, t.alloc = seq, cut, cut
		w.segMu.Unlock()
		w.setBack(seq)
		return nil
	})
}

// setBack records that the journal now ends at seq.
func (w *wal) setBack(seq uint64) {
	w.mu.Lock()
	w.next = seq + 1
	w.written, w.durable = seq, seq
	if w.first > seq+1 {
		w.first = seq + 1
	}
	w.mu.Unlock()
}
