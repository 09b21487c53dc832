// SPDX-License-Identifier: MIT OR Apache-2.0

// Package decodepipe decodes a stream of records on several cores and
// hands them on in their order. It is the one parallel decoder of this
// module: ministore's typed readers (Records, All, Replay) and ministate's
// recovery both run on it.
//
// Decoding JSON costs several times what reading and checking a line does,
// so one goroutine reads the records and packs them into batches, several
// decode the batches, and the caller receives the records one at a time,
// in order, on its own goroutine. At most a few batches are held at once,
// so memory does not grow with the stream.
package decodepipe

import (
	"fmt"
	"sync"
)

// Batches are cut at whichever limit comes first.
const (
	batchRecords = 512
	batchBytes   = 128 << 10
)

// A Decoder decodes the payload of record seq into v. Each worker has its
// own, so it may keep state between calls. Its error is passed to yield as
// it is.
type Decoder[T any] func(seq uint64, payload []byte, v *T) error

// batch is a run of consecutive records on their way to the caller.
type batch[T any] struct {
	buf     []byte   // the payloads, one after the other
	ends    []int    // end of each payload in buf
	seqs    []uint64 // sequence number of each payload
	out     []T
	errAt   int   // index of the first record that failed to decode, or -1
	err     error // its error
	readErr error // set on the last batch: how reading ended
	// done receives one value when the batch is decoded; made once and
	// reused with the batch (a channel closed per batch would be an
	// allocation per batch).
	done chan struct{}
}

// decode decodes the batch. A Decoder that panics (a type's UnmarshalJSON)
// fails its record with an error saying so: the panic is on a worker
// goroutine, where nobody could recover it.
func (b *batch[T]) decode(dec Decoder[T]) {
	n := len(b.seqs)
	if cap(b.out) < n {
		b.out = make([]T, n)
	}
	b.out = b.out[:n]
	i := 0
	defer func() {
		if p := recover(); p != nil {
			b.errAt, b.err = i, fmt.Errorf("decoding panicked: %v", p)
		}
		b.done <- struct{}{}
	}()
	start := 0
	for ; i < len(b.ends); i++ {
		end := b.ends[i]
		if err := dec(b.seqs[i], b.buf[start:end], &b.out[i]); err != nil {
			b.errAt, b.err = i, err
			break
		}
		start = end
	}
}

// reset readies a used batch for the next run of records.
func (b *batch[T]) reset() *batch[T] {
	clear(b.out) // drop references to decoded values
	b.buf, b.ends, b.seqs, b.out = b.buf[:0], b.ends[:0], b.seqs[:0], b.out[:0]
	b.errAt, b.err, b.readErr = -1, nil, nil
	if b.done == nil {
		b.done = make(chan struct{}, 1)
	}
	return b
}

// Run calls read, which must call emit for each record in order (the
// payload may be reused after emit returns) and return how reading ended;
// decodes the records with workers goroutines, each with a Decoder made by
// newDecoder; and calls yield with each record in order, on the calling
// goroutine. A decoding error is yielded with its record (the value as far
// as it was decoded) and ends the run; so does a reading error, yielded
// with seq 0 and a zero value after every record read before it. If yield
// returns false, Run stops reading and returns. Run returns once every
// goroutine it started has ended.
func Run[T any](workers int, read func(emit func(seq uint64, payload []byte) bool) error, newDecoder func() Decoder[T], yield func(seq uint64, v T, err error) bool) {
	workers = max(workers, 1)
	stop := make(chan struct{})
	work := make(chan *batch[T], workers)
	order := make(chan *batch[T], 2*workers)
	// Batches go round: reader, decoders, caller, back to the reader.
	free := make(chan *batch[T], 3*workers+2)
	// newBatch returns a free batch, or a new one made for about as many
	// records and bytes as the last one sent: grown record by record, a
	// batch would leave a trail of garbage of about twice its size.
	newBatch := func(records, bytes int) *batch[T] {
		select {
		case b := <-free:
			return b.reset()
		default:
		}
		b := (&batch[T]{}).reset()
		if records > 0 {
			b.buf = make([]byte, 0, bytes+bytes/8)
			b.ends, b.seqs = make([]int, 0, records), make([]uint64, 0, records)
		}
		return b
	}
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		for range order { // let the reader finish
		}
		wg.Wait()
	}()
	for range workers {
		wg.Go(func() {
			dec := newDecoder()
			for b := range work {
				b.decode(dec)
			}
		})
	}
	send := func(b *batch[T]) bool {
		select {
		case work <- b:
		case <-stop:
			return false
		}
		select {
		case order <- b:
			return true
		case <-stop:
			return false
		}
	}
	wg.Go(func() {
		defer close(order)
		defer close(work)
		cur := newBatch(0, 0)
		err := read(func(seq uint64, payload []byte) bool {
			cur.buf = append(cur.buf, payload...)
			cur.ends = append(cur.ends, len(cur.buf))
			cur.seqs = append(cur.seqs, seq)
			if len(cur.seqs) < batchRecords && len(cur.buf) < batchBytes {
				return true
			}
			records, bytes := len(cur.seqs), len(cur.buf)
			if !send(cur) {
				cur = nil // the caller stopped
				return false
			}
			cur = newBatch(records, bytes)
			return true
		})
		if cur != nil {
			cur.readErr = err
			send(cur)
		}
	})
	var zero T
	for b := range order {
		<-b.done
		for i := range b.out {
			if i == b.errAt {
				yield(b.seqs[i], b.out[i], b.err)
				return
			}
			if !yield(b.seqs[i], b.out[i], nil) {
				return
			}
		}
		if b.readErr != nil {
			yield(0, zero, b.readErr)
			return
		}
		select {
		case free <- b:
		default:
		}
	}
}
