// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"io"
)

// The sync proof. Every FormatV1 record carries in its "sync" field the
// highest sequence number that was durable when it was written: a crash
// can tear only what was written after that. So after a crash, Open need
// not read the whole newest segment to find its end: it finds a record
// near the end that verifies, and reads (and judges, by the rules of
// tail.go) only from the first record that record's "sync" field does not
// prove durable. The records before it were durable before the crash, so
// nothing in them can be a torn tail; as below a clean-end proof
// (cleanend.go), damage in them is not looked for by Open but by every
// reader (Records, Replay, All, Get), which reports it as a *JournalError
// naming the file and offset. When anything on the way is not as expected,
// Open reads the file from its start as it always did, and so reports
// what is wrong with it.

const (
	// provenBlock is the unit in which the end of the written bytes is
	// looked for: preallocated space is zeros, and a record line never
	// holds a zero byte.
	provenBlock = 4096
	// provenWindow is how far before the end of the written bytes a
	// record that verifies is looked for.
	provenWindow = 64 << 10
)

// provenStart returns where the scan of the newest segment f (in format
// v1, with a header of hdrLen bytes, its first record base, the file
// size bytes long) can start after a crash: the line of record seq, the
// first one the "sync" field of a record near the end of the file does
// not prove durable, is at off. ok is false when the scan must start at
// the first record: nothing is proven, or what was read is not what a
// journal's end looks like (the full scan then tells what it is).
func provenStart(f io.ReaderAt, hdrLen, size int64, base uint64) (off int64, seq uint64, ok bool) {
	end, ok := writtenEnd(f, hdrLen, size)
	if !ok {
		return 0, 0, false
	}
	start := max(hdrLen, end-provenWindow)
	buf := make([]byte, end-start)
	if n, err := f.ReadAt(buf, start); n < len(buf) && err != nil {
		return 0, 0, false
	}
	// The last complete line of the window that verifies.
	var anchor record
	anchorEnd := int64(-1)
	for b := buf; ; {
		i := bytes.LastIndexByte(b, '\n')
		if i < 0 {
			return 0, 0, false
		}
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 && start > hdrLen {
			return 0, 0, false // the line may begin before the window
		}
		if rec, err := parseLine(FormatV1, b[j+1:i]); err == nil {
			anchor, anchorEnd = rec, start+int64(i)+1
			break
		}
		b = b[:i]
	}
	seq = anchor.synced + 1
	if seq <= base || anchor.seq < base || seq > anchor.seq {
		return 0, 0, false
	}
	off, ok = seekLine(f, hdrLen, anchorEnd, base, seq)
	return off, seq, ok
}

// writtenEnd returns an offset in f, at most size, past which (as far
// as a few reads tell) only zeros follow: the end of the written bytes,
// rounded up to a provenBlock. It bisects on whether a block holds only
// zeros, so a block of zeros before the end (damage, or sectors a crash
// lost) can make it return less; provenStart then finds an earlier record
// that verifies, or none.
func writtenEnd(f io.ReaderAt, hdrLen, size int64) (int64, bool) {
	var block [provenBlock]byte
	zero := func(off int64) (bool, bool) {
		b := block[:min(provenBlock, size-off)]
		if n, err := f.ReadAt(b, off); n < len(b) && err != nil {
			return false, false
		}
		return allZero(b), true
	}
	// The block at lo holds written bytes (or lo is the header's end); the
	// blocks from hi on hold zeros.
	lo, hi := hdrLen, size
	for hi-lo > provenBlock {
		mid := lo + (hi-lo)/2
		z, ok := zero(mid)
		if !ok {
			return 0, false
		}
		if z {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}
