// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// append adds payloads as consecutive records and returns once they are
// written (and fsync'd, under SyncAlways).
//
// Group commit: the records join the pending batch. If no goroutine is
// writing, this one becomes the leader: it takes the whole pending batch,
// writes it with one write and one fsync, and wakes everyone whose records
// it carried. Meanwhile new records gather in the next batch.
func (w *wal) append(payloads [][]byte) (first, last uint64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, 0, w.err
	}
	first = w.next
	for _, p := range payloads {
		w.pending = appendLine(w.pending, w.format, w.next, w.durable, p)
		w.pendEnds = append(w.pendEnds, len(w.pending))
		w.next++
	}
	last = w.next - 1
	ticket := w.batchID
	for w.doneID < ticket {
		if w.err != nil {
			return 0, 0, w.err
		}
		if !w.busy {
			w.lead()
			continue
		}
		w.cond.Wait()
	}
	return first, last, nil
}

// lead writes the pending batch. It is called with w.mu held and !w.busy,
// and returns with w.mu held.
func (w *wal) lead() {
	w.busy = true
	buf, ends, id := w.pending, w.pendEnds, w.batchID
	first := w.next - uint64(len(ends))
	w.pending, w.pendEnds = w.spare[:0], w.spareEnd[:0]
	w.batchID++
	w.mu.Unlock()
	err := w.writeBatch(buf, ends, first)
	w.mu.Lock()
	if cap(buf) <= 1<<20 {
		w.spare, w.spareEnd = buf[:0], ends[:0]
	} else {
		w.spare, w.spareEnd = nil, nil
	}
	if err != nil {
		w.fail(err)
	} else {
		w.written = first + uint64(len(ends)) - 1
		if w.opts.Sync == SyncAlways {
			w.durable = w.written
		}
		w.doneID = id
		if w.opts.Sync == SyncInterval && w.timer == nil && w.written > w.durable {
			w.timer = time.AfterFunc(w.opts.SyncInterval, w.intervalSync)
		}
	}
	w.busy = false
	w.cond.Broadcast()
}

// fail stops the store: every later write returns the error. It is called
// with w.mu held. An fsync that failed is never retried: the kernel may have
// dropped the dirty pages, so a second fsync could succeed without the data.
func (w *wal) fail(err error) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: %w", ErrFailed, err)
	}
}

// writeBatch writes encoded lines at the end of the active file. Only the
// leader calls it.
func (w *wal) writeBatch(buf []byte, ends []int, first uint64) error {
	a := w.active()
	if a.size >= w.opts.MaxSegmentBytes && !a.empty() {
		if err := w.rotate(); err != nil {
			return err
		}
		a = w.active()
	}
	if err := w.preallocate(a, a.size+int64(len(buf))); err != nil {
		return err
	}
	if err := writeFull(a.f, buf, a.size); err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	if w.opts.Sync == SyncAlways {
		if err := w.fsync(a.f); err != nil {
			return fmt.Errorf("fsync %s: %w", a.path, err)
		}
	}
	w.stats.batch(len(ends), len(buf))
	w.segMu.Lock()
	start := a.size
	for _, end := range ends {
		a.index = append(a.index, start)
		start = a.size + int64(end)
	}
	a.size += int64(len(buf))
	a.alloc = max(a.alloc, a.size)
	a.last = first + uint64(len(ends)) - 1
	w.segMu.Unlock()
	return nil
}

var zeros = make([]byte, 64<<10)

// preallocate makes sure the active file extends, with zeros, to at least
// need bytes. Overwriting blocks that already exist lets fdatasync skip the
// file-system journal, which is most of the cost of a small synced append.
// The zeros are never read as records: a record line never starts with a
// zero byte, and Close trims them.
//
// When the disk is full (ENOSPC), it gives back what it wrote and tries a
// quarter of the step, down to minPreallocStep; then it stops
// preallocating for the life of the Store, and the batch is written past
// the end of the file as without preallocation. A full disk fails a write
// only when the records themselves do not fit.
func (w *wal) preallocate(a *segment, need int64) error {
	if !w.prealloc || need <= a.alloc {
		return nil
	}
	for {
		target := max(need, min(a.alloc+w.preallocStep, w.opts.MaxSegmentBytes))
		err := w.writeZeros(a, target)
		if err == nil {
			w.segMu.Lock()
			a.alloc = target
			w.segMu.Unlock()
			w.stats.preallocSteps.Add(1)
			return nil
		}
		if !errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("preallocate %s: %w", a.path, err)
		}
		// Give the space back before trying less.
		if terr := a.f.Truncate(a.alloc); terr != nil {
			return fmt.Errorf("preallocate %s: %w (and giving the space back: %w)", a.path, err, terr)
		}
		w.preallocStep /= 4
		if w.preallocStep < minPreallocStep {
			w.prealloc = false
			w.opts.Logger.Warn("ministore: disk full, preallocation off", "path", a.path, "err", err)
			return nil
		}
		w.opts.Logger.Warn("ministore: disk full, preallocating less", "path", a.path,
			"step", w.preallocStep, "err", err)
	}
}

// writeZeros writes zeros from the end of a's preallocated space to target.
func (w *wal) writeZeros(a *segment, target int64) error {
	for off := a.alloc; off < target; {
		n := min(int64(len(zeros)), target-off)
		if err := writeFull(a.f, zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// trim cuts the preallocated zeros off the active file and fsyncs it.
func (w *wal) trim(a *segment) error {
	if a.alloc > a.size {
		if err := a.f.Truncate(a.size); err != nil {
			return fmt.Errorf("trim %s: %w", a.path, err)
		}
		w.segMu.Lock()
		a.alloc = a.size
		w.segMu.Unlock()
	}
	if err := w.fsync(a.f); err != nil {
		return fmt.Errorf("fsync %s: %w", a.path, err)
	}
	return nil
}

// rotate seals the active file as NAME.NNN (NAME.NNNNNN in a journal
// whose sealed segments have six digits) and starts a new one. The old
// file is trimmed and fsync'd before it is renamed, so a sealed segment is
// always whole; a crash after the rename and before the new file exists
// leaves no active file, which Open creates.
func (w *wal) rotate() error {
	a := w.active()
	if err := w.trim(a); err != nil {
		return err
	}
	w.markDurable(a.last)
	sealed := segmentName(w.path, w.nextNum, w.segWidth)
	if err := w.fs.Rename(w.path, sealed); err != nil {
		return fmt.Errorf("seal %s: %w", w.path, err)
	}
	if err := w.fs.SyncDir(w.dir); err != nil {
		return fmt.Errorf("seal %s: %w", w.path, err)
	}
	w.segMu.Lock()
	a.path, a.num = sealed, w.nextNum
	w.segMu.Unlock()
	w.nextNum++
	seg, err := w.createSegment(a.hdr.format, a.last+1)
	if err != nil {
		return err
	}
	w.segMu.Lock()
	w.segs = append(w.segs, seg)
	w.segMu.Unlock()
	w.stats.rotations.Add(1)
	return w.applyRetention()
}

// applyRetention deletes the oldest sealed segments beyond MaxSegments,
// oldest first, syncing the directory after each so a crash can never leave
// a hole in the middle.
func (w *wal) applyRetention() error {
	if w.opts.MaxSegments <= 0 {
		return nil
	}
	for len(w.segs)-1 > w.opts.MaxSegments {
		if err := w.removeSegment(0); err != nil {
			return err
		}
		w.mu.Lock()
		w.first = w.segs[0].base
		w.mu.Unlock()
	}
	return nil
}

// removeSegment deletes segment i from disk and from the list.
func (w *wal) removeSegment(i int) error {
	seg := w.segs[i]
	if err := w.fs.Remove(seg.path); err != nil {
		return fmt.Errorf("remove %s: %w", seg.path, err)
	}
	if err := w.fs.SyncDir(w.dir); err != nil {
		return fmt.Errorf("remove %s: %w", seg.path, err)
	}
	w.segMu.Lock()
	w.segs = append(w.segs[:i:i], w.segs[i+1:]...)
	w.segMu.Unlock()
	seg.f.Close()
	return nil
}

func (w *wal) markDurable(seq uint64) {
	w.mu.Lock()
	w.durable = max(w.durable, seq)
	w.mu.Unlock()
}

// exclusive runs fn as the leader, after the pending batch is written.
func (w *wal) exclusive(fn func() error) error {
	w.mu.Lock()
	for w.busy || len(w.pendEnds) > 0 {
		if w.err != nil {
			break
		}
		if !w.busy {
			w.lead()
			continue
		}
		w.cond.Wait()
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.busy = true
	w.mu.Unlock()
	err := fn()
	w.mu.Lock()
	if err != nil {
		w.fail(err)
		err = w.err
	}
	w.busy = false
	w.cond.Broadcast()
	w.mu.Unlock()
	return err
}

// sync fsyncs what was written but not yet made durable.
func (w *wal) sync() error {
	return w.exclusive(w.syncLocked)
}

func (w *wal) syncLocked() error {
	w.mu.Lock()
	written, durable := w.written, w.durable
	w.mu.Unlock()
	if written == durable {
		return nil
	}
	a := w.active()
	if err := w.fsync(a.f); err != nil {
		return fmt.Errorf("fsync %s: %w", a.path, err)
	}
	w.markDurable(written)
	return nil
}

func (w *wal) intervalSync() {
	w.mu.Lock()
	w.timer = nil
	w.mu.Unlock()
	w.sync() // a failure stops the store; the next Append reports it
}

// close makes everything durable, trims the preallocated zeros so the
// active file is plain text again, and releases the files and the lock.
func (w *wal) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	for w.busy || (len(w.pendEnds) > 0 && w.err == nil) {
		if !w.busy {
			w.lead()
			continue
		}
		w.cond.Wait()
	}
	failed := w.err != nil
	w.busy = true
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.mu.Unlock()

	var err error
	if !failed {
		err = w.trim(w.active())
	}
	w.segMu.Lock()
	w.closeFiles()
	w.segMu.Unlock()
	if lerr := w.lock.Close(); err == nil {
		err = lerr
	}
	w.mu.Lock()
	w.err = ErrClosed
	w.busy = false
	w.cond.Broadcast()
	w.mu.Unlock()
	return err
}
