// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"encoding/json"
	"os"
	"runtime"

	"github.com/mini-go/mini/internal/decodepipe"
	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/vfs"
)

// readRecords reads the journal and decodes its records into R, yielding
// them in order, with dc's codec; a strict dc refuses object keys R has no
// field for. Decoding
// JSON costs several times what reading and checking a line does, so when
// R needs decoding and more than one CPU is available the lines are
// decoded by several goroutines in batches while the next ones are read;
// the records are still yielded one at a time, in order, and at most a few
// batches are held at once.
//
// With exact set, a from of 1 or more below the first record left is a
// *TruncatedError (see readLog).
func readRecords[R any](fsys vfs.FS, path string, from, limit uint64, hint *seekHint, exact bool, dc decoding, yield func(Record[R], error) bool) {
	workers := runtime.GOMAXPROCS(0)
	var zero R
	switch any(&zero).(type) {
	case *json.RawMessage, *jsonline.Trusted, *jsonline.Borrowed:
		workers = 1 // nothing to decode
	}
	if workers < 2 {
		recordsSequential(fsys, path, from, limit, hint, exact, dc, yield)
		return
	}
	recordsParallel(fsys, path, from, limit, hint, exact, workers, dc, yield)
}

func recordsSequential[R any](fsys vfs.FS, path string, from, limit uint64, hint *seekHint, exact bool, dc decoding, yield func(Record[R], error) bool) {
	stopped := false
	// One value decoded into, again and again, and copied out: decoding
	// into a fresh Record would move each one to the heap.
	v := new(R)
	var (
		zero R
		sl   slab
	)
	dec := dc.newDecoder()
	err := readLog(fsys, path, from, limit, hint, exact, func(seq uint64, payload []byte) bool {
		*v = zero
		if err := decodeWith(&sl, dec, payload, v); err != nil {
			yield(Record[R]{Seq: seq, Value: *v}, decodeError(fsys, path, seq, err))
			stopped = true
			return false
		}
		if !yield(Record[R]{Seq: seq, Value: *v}, nil) {
			stopped = true
			return false
		}
		return true
	})
	if err != nil && !stopped {
		yield(Record[R]{}, err)
	}
}

// decodeWith decodes payload into r: raw record types (json.RawMessage,
// jsonline.Trusted) get a copy from sl (a slab of their own if sl is nil),
// jsonline.Borrowed the payload itself when sl is not nil (a reader's
// iteration), and the others go through dec.
func decodeWith[R any](sl *slab, dec Decoder, payload []byte, r *R) error {
	switch p := any(r).(type) {
	case *jsonline.Borrowed:
		if sl != nil {
			*p = payload
		} else {
			*p = append([]byte(nil), payload...)
		}
		return nil
	case *json.RawMessage:
		*p = sl.copy(payload)
		return nil
	case *jsonline.Trusted:
		*p = sl.copy(payload)
		return nil
	}
	return dec.Decode(payload, r)
}

// recordDecoder decodes one record's JSON after another with one reused
// json.Decoder (see jsonline.Decoder).
type recordDecoder = jsonline.Decoder

// A slab hands out copies of small payloads carved from larger blocks: one
// allocation for many records instead of one each. A copy keeps its block
// alive, so a caller that holds on to one record holds at most a block.
// A nil slab copies each payload on its own.
type slab struct{ block []byte }

const slabBlock = 32 << 10

func (s *slab) copy(p []byte) []byte {
	if s == nil || len(p) > slabBlock/16 {
		return append([]byte(nil), p...)
	}
	if cap(s.block)-len(s.block) < len(p) {
		s.block = make([]byte, 0, slabBlock)
	}
	n := len(s.block)
	s.block = append(s.block, p...)
	// The capacity ends with the copy, so appending to it reallocates
	// instead of writing over the next record.
	return s.block[n:len(s.block):len(s.block)]
}

// decodeError is the *DecodeError for record seq of the journal at path.
// Decoding does not know where the record is; on this rare path the
// journal is read again to find its file, line and offset.
func decodeError(fsys vfs.FS, path string, seq uint64, err error) error {
	e := &DecodeError{Path: path, Seq: seq, Err: err}
	if loc, ok := locateRecord(fsys, path, seq); ok {
		e.Path, e.Line, e.Offset = loc.path, loc.line, loc.off
	}
	return e
}

// recordsParallel decodes with internal/decodepipe: readLog feeds it, each
// worker decodes with its own Decoder.
func recordsParallel[R any](fsys vfs.FS, path string, from, limit uint64, hint *seekHint, exact bool, workers int, dc decoding, yield func(Record[R], error) bool) {
	decodepipe.Run(workers,
		func(emit func(uint64, []byte) bool) error {
			return readLog(fsys, path, from, limit, hint, exact, emit)
		},
		func() decodepipe.Decoder[R] {
			dec := dc.newDecoder()
			return func(seq uint64, payload []byte, v *R) error {
				if err := decodeWith(nil, dec, payload, v); err != nil {
					return decodeError(fsys, path, seq, err)
				}
				return nil
			}
		},
		func(seq uint64, v R, err error) bool { return yield(Record[R]{Seq: seq, Value: v}, err) })
}

// recordPlace is where a record's line is.
type recordPlace struct {
	path string // the segment file
	line int
	off  int64
}

// locateRecord finds where record seq of the journal at path is, reading
// the journal up to it. It is for error messages only.
func locateRecord(fsys vfs.FS, path string, seq uint64) (recordPlace, bool) {
	r := openSegments(fsys, path, os.O_RDONLY)
	defer r.close()
	for r.next(seq) && r.s.hdr.base <= seq {
		for r.scan() {
			if r.rec.seq == seq {
				return recordPlace{path: r.cur.sf.path, line: 2 + int(seq-r.s.hdr.base), off: r.s.recOff}, true
			}
		}
	}
	return recordPlace{}, false
}
