// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"context"
	"iter"
	"time"

	"github.com/mini-go/mini/vfs"
)

// FollowPoll is how long Follow waits at the end of a journal before it
// looks again for new records: it polls (lists the journal's files and
// reads the newest one from where it stopped), it does not watch the file
// system. A record appended in another process is yielded within about
// this long of being written.
const FollowPoll = 20 * time.Millisecond

// followTries is how many passes in a row Follow makes when what it reads
// is not what a writer leaves (a file gone between the listing and the
// read, the end of the newest file not what a crash leaves) before it
// reports the error (see relist). 20 passes, relistPause (10 ms) apart,
// give a writer about 200 ms to finish a write the reader saw in part.
const followTries = 20

// Follow returns the records of the journal at path from sequence number
// from on, and then waits for new ones and yields them as they are
// written, in order, each once, until ctx is done: then the iteration ends
// without an error (check ctx.Err() to tell why it ended). Any other end
// is an error, after which the iteration ends too.
//
// It reads as Records does, with no lock and without writing, so it can
// follow a journal that a Store in another process (or this one) appends
// to. It follows the journal across rotation (the active file sealed as
// NAME.00N and a new one started) and front truncation (TruncateFront). A
// record cut short at the end of the newest file is one being written: it
// is not yielded, and read again at the next poll. Damage anywhere else is
// an error matching ErrCorrupt, as in Records.
//
// A from of 0 starts at the first record left. A from of 1 or more below
// the first record left is a *TruncatedError (ErrTruncated); so is a
// TruncateFront that deletes records the follower has not read yet (it
// fell behind), and one past the end, which makes the numbering jump,
// even to a follower that had read every record (the journal keeps no
// trace of where it ended): the error's First is where to go on. A
// journal that does not exist yet is waited for.
//
// Follow does not follow TruncateBack: records it already yielded may be
// dropped and their numbers given out again.
func Follow[R any](ctx context.Context, path string, from uint64) iter.Seq2[Record[R], error] {
	return FollowWith[R](ctx, path, from, nil)
}

// FollowWith is Follow with options: of opts, only AllowUnknownFields,
// Codec and FS are used, as by RecordsWith.
func FollowWith[R any](ctx context.Context, path string, from uint64, opts *Options) iter.Seq2[Record[R], error] {
	o := opts.forReading()
	dc := decodingOf(&o)
	return func(yield func(Record[R], error) bool) {
		f := follower[R]{fsys: o.FS, path: path, next: from, dec: dc.newDecoder(), yield: yield, ctx: ctx}
		timer := time.NewTimer(FollowPoll)
		defer timer.Stop()
		for ctx.Err() == nil {
			if !f.pass() {
				return
			}
			timer.Reset(FollowPoll)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
	}
}

// follower is the state of one Follow between polls.
type follower[R any] struct {
	ctx   context.Context
	fsys  vfs.FS
	path  string
	next  uint64   // the next sequence number to yield; 0 until one is
	pos   seekHint // where record next starts, when known
	dec   Decoder
	sl    slab
	yield func(Record[R], error) bool
}

// pass reads the records written since the last pass; false means the
// iteration is over.
func (f *follower[R]) pass() bool {
	var hint *seekHint
	if f.pos.path != "" && f.pos.seq == f.next {
		h := f.pos
		hint = &h
	}
	stopped := false
	err := readLogTries(f.fsys, f.path, f.next, 0, hint, true, followTries, &f.pos, func(seq uint64, payload []byte) bool {
		if f.ctx.Err() != nil {
			stopped = true
			return false
		}
		var v R
		if err := decodeWith(&f.sl, f.dec, payload, &v); err != nil {
			f.yield(Record[R]{Seq: seq, Value: v}, decodeError(f.fsys, f.path, seq, err))
			stopped = true
			return false
		}
		f.next = seq + 1
		if !f.yield(Record[R]{Seq: seq, Value: v}, nil) {
			stopped = true
			return false
		}
		return true
	})
	if stopped {
		return false
	}
	if err != nil {
		f.yield(Record[R]{}, err)
		return false
	}
	return true
}
