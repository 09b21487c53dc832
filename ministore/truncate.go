// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"fmt"
	"io"
)

// TruncateFront drops every record before seq, for compaction behind a
// snapshot. It makes the records written so far durable, writes seq as the
// journal's front bound (a slot of the small file NAME.front, written in
// place and fdatasync'd; see docs/FORMAT.md) and deletes the segments
// wholly below it; records below seq in the segment holding it stay on
// disk, unread, until that segment goes. It copies no
// record, so its cost does not depend on where seq falls or on the
// segment size. At no crash point is the journal anything but a suffix of
// what it was.
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

// setFirst records that the journal now starts at seq, at or before next.
func (w *wal) setFirst(seq uint64) {
	w.mu.Lock()
	w.first = seq
	w.mu.Unlock()
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
		first := w.first
		w.mu.Unlock()
		if seq >= last {
			return nil // nothing after seq
		}
		if seq < first {
			// Nothing is left: empty the journal and number from seq+1.
			return w.restart(seq + 1)
		}
		// Delete whole segments after seq, the active file first.
		for w.segs[len(w.segs)-1].base > seq {
			if err := w.removeSegment(len(w.segs) - 1); err != nil {
				return err
			}
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
