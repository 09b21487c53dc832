// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/mini-go/mini/vfs"
)

// append adds payloads as consecutive records and returns once they are
// written (and fsync'd, under SyncAlways). The payloads are not copied:
// they must not change until append returns.
//
// Group commit: the records join the pending batch. If no goroutine is
// writing, this one becomes the leader: it takes the whole pending batch,
// writes it with one vectored write and one fsync, and wakes everyone
// whose records it carried. Meanwhile new records gather in the next
// batch. A big payload is checksummed here, before the lock, by the
// goroutine that brought it; the leader frames it without copying it.
func (w *wal) append(payloads [][]byte) (first, last uint64, err error) {
	var one [1]entry
	entries := one[:0]
	if len(payloads) > 1 {
		entries = make([]entry, 0, len(payloads))
	}
	for _, p := range payloads {
		e := entry{payload: p, big: len(p) >= bigPayload}
		if e.big && w.format == FormatV1 {
			e.sum, e.shift = checksum(p), xPow8n(uint64(len(p)))
		}
		entries = append(entries, e)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, 0, w.err
	}
	first = w.next
	for _, e := range entries {
		e.synced = w.durable
		w.pending = append(w.pending, e)
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

// bigPayload is the size from which a payload is written from where its
// encoder left it, checksummed by its own goroutine: a smaller one is
// copied into the leader's frame buffer, which costs less than a buffer of
// its own in the vectored write.
const bigPayload = 2 << 10

// An entry is one record waiting for the leader.
type entry struct {
	payload []byte
	synced  uint64 // w.durable when the record was queued
	big     bool   // len(payload) >= bigPayload
	// sum is the CRC-32C of a big payload in FormatV1, and shift its
	// length's xPow8n.
	sum, shift uint32
}

// A cut is where a big payload goes between two parts of the frame buffer.
type cut struct {
	at int // offset in the frame buffer
	p  []byte
}

// lead writes the pending batch. It is called with w.mu held and !w.busy,
// and returns with w.mu held.
func (w *wal) lead() {
	w.busy = true
	batch, id := w.pending, w.batchID
	first := w.next - uint64(len(batch))
	w.pending = w.spare[:0]
	w.batchID++
	w.mu.Unlock()
	err := w.writeBatch(batch, first)
	w.mu.Lock()
	clear(batch) // the payloads are their writers' again
	if cap(batch) <= 4096 {
		w.spare = batch[:0]
	} else {
		w.spare = nil
	}
	if err != nil {
		w.fail(err)
	} else {
		w.written = first + uint64(len(batch)) - 1
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
// The records still pending are never written: their writers get the
// error, and their payloads are let go.
func (w *wal) fail(err error) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: %w", ErrFailed, err)
	}
	clear(w.pending)
	w.pending = w.pending[:0]
}

// frameBatch lays out the lines of batch, whose first record is first, for
// one vectored write: the leader's frame buffer holds every line's prefix
// and suffix and the small payloads; big payloads are written from their
// own buffers. It returns the buffers to write and the end of each line,
// counted from the start of the batch.
func (w *wal) frameBatch(batch []entry, first uint64) (bufs [][]byte, ends []int) {
	frame, ends, cuts := w.frame[:0], w.ends[:0], w.cuts[:0]
	off := 0 // bytes of the batch so far, frame and big payloads
	for i, e := range batch {
		start := len(frame)
		if w.format == FormatV1 {
			frame = appendLinePrefix(frame, first+uint64(i), e.synced)
		}
		if e.big {
			cuts = append(cuts, cut{len(frame), e.payload})
			off += len(e.payload)
		} else {
			frame = append(frame, e.payload...)
		}
		if w.format == FormatV1 {
			sum := checksum(frame[start:])
			if e.big {
				sum = crcConcatShift(sum, e.sum, e.shift)
			}
			frame = appendLineSuffix(frame, sum)
		} else {
			frame = append(frame, '\n')
		}
		off += len(frame) - start
		ends = append(ends, off)
	}
	bufs = w.bufs[:0]
	from := 0
	for _, c := range cuts {
		bufs = append(bufs, frame[from:c.at], c.p)
		from = c.at
	}
	bufs = append(bufs, frame[from:])
	// Keep the scratch space for the next batch, unless a huge batch made
	// it big.
	if cap(frame) <= 1<<20 {
		w.frame = frame
	} else {
		w.frame = nil
	}
	clear(cuts)
	w.cuts, w.ends, w.bufs = cuts[:0], ends, bufs
	return bufs, ends
}

// writeBatch writes the records of batch at the end of the active file.
// Only the leader calls it.
func (w *wal) writeBatch(batch []entry, first uint64) error {
	a := w.active()
	if a.size >= w.opts.MaxSegmentBytes && !a.empty() {
		if err := w.rotate(); err != nil {
			return err
		}
		a = w.active()
	}
	bufs, ends := w.frameBatch(batch, first)
	defer clear(bufs) // let the payloads go
	total := ends[len(ends)-1]
	if total < bigBatch {
		if err := w.preallocate(a, a.size+int64(total)); err != nil {
			return err
		}
	}
	n, err := vfs.WriteVecAt(a.f, bufs, a.size)
	if err == nil && n < total {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	if w.opts.Sync == SyncAlways {
		if err := w.fsync(a.f); err != nil {
			return fmt.Errorf("fsync %s: %w", a.path, err)
		}
	}
	w.stats.batch(len(ends), total)
	w.segMu.Lock()
	if a.index != nil { // nil after a clean Open: built when needed
		start := a.size
		for _, end := range ends {
			a.index = append(a.index, start)
			start = a.size + int64(end)
		}
	}
	a.size += int64(total)
	a.alloc = max(a.alloc, a.size)
	a.last = first + uint64(len(ends)) - 1
	w.segMu.Unlock()
	return nil
}

// bigBatch is the size from which a batch that does not fit in the
// preallocated space is written past the end of the file, which grows
// with it, instead of into a new preallocation step. Preallocation saves a
// small batch's fdatasync the update of the file's size and extents, which
// costs as much as the write itself; for a big batch that update is a small
// part of the cost, while zeros written first double the bytes written.
const bigBatch = 64 << 10

var zeros = make([]byte, 64<<10)

// preallocate makes sure the active file extends, with zeros, to at least
// need bytes. Overwriting blocks that already exist lets fdatasync skip the
// file-system journal, which is most of the cost of a small synced append.
// (fallocate is no substitute: the blocks it allocates are unwritten, and
// the fdatasync after each write into them commits the conversion to the
// journal; measured on ext4, 64 writers of 100-byte records ran 30-50%
// slower than into written zeros.) A big batch does not come here: see
// bigBatch. The zeros are never read as records: a record line never
// starts with a zero byte, and Close trims them.
//
// It writes zeros past the end of a's preallocated space: a step
// (preallocStep), at least to need, at most to MaxSegmentBytes (unless
// need is beyond). When the disk is full (ENOSPC), it gives back what it
// wrote and tries a quarter of the step, down to minPreallocStep; then it
// stops preallocating for the life of the Store, and the batch is written
// past the end of the file as without preallocation. A full disk fails a
// write only when the records themselves do not fit.
func (w *wal) preallocate(a *segment, need int64) error {
	if !w.prealloc || need <= a.alloc {
		return nil
	}
	for {
		target := max(need, min(a.alloc+w.preallocStep, w.opts.MaxSegmentBytes))
		if target <= a.alloc {
			return nil
		}
		var err error
		for off := a.alloc; off < target && err == nil; off += int64(len(zeros)) {
			err = writeFull(a.f, zeros[:min(int64(len(zeros)), target-off)], off)
		}
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
		if err := w.keepBound(); err != nil {
			return err
		}
		if err := w.removeSegment(0); err != nil {
			return err
		}
		w.mu.Lock()
		w.first = max(w.segs[0].base, w.bound)
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
	for w.busy || len(w.pending) > 0 {
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
	for w.busy || (len(w.pending) > 0 && w.err == nil) {
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
		if err == nil {
			err = w.writeCleanEnd(w.active())
		}
	}
	w.segMu.Lock()
	w.closeFiles()
	w.segMu.Unlock()
	if lerr := w.lock.Close(); err == nil {
		err = lerr
	}
	w.mu.Lock()
	w.err = ErrClosed
	clear(w.pending) // records queued while closing are not written
	w.pending = nil
	w.busy = false
	w.cond.Broadcast()
	w.mu.Unlock()
	return err
}
