// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"iter"
)

// A Store is an open journal of records of type R, each stored as one line
// of JSON. It is safe for concurrent use.
type Store[R any] struct {
	w *wal
}

// A Record is a record with its sequence number.
type Record[R any] struct {
	Seq   uint64
	Value R
}

// Open opens the journal at path, creating it (and its parent directories) if
// it does not exist. The path names the active file; sealed segments sit
// beside it as path.001, path.002, ...
//
// Open takes an advisory lock (path + ".lock"), so a second Open of the same
// journal, in this or another process, fails with ErrLocked until Close. It
// checks that the segments follow each other, reads the newest one record by
// record, and cuts off a torn tail (see TornTail). Damage anywhere else is a
// *JournalError matching ErrCorrupt. A path that is a directory gives ErrIsDir.
func Open[R any](path string, opts *Options) (*Store[R], error) {
	w, err := openWAL(path, opts)
	if err != nil {
		return nil, err
	}
	return &Store[R]{w: w}, nil
}

// Append writes rec as the next record and returns its sequence number.
// Under SyncAlways (the default) the record is on stable storage when
// Append returns. Appends from many goroutines share fsyncs.
func (s *Store[R]) Append(rec R) (seq uint64, err error) {
	buf := getEncBuf()
	defer putEncBuf(buf)
	p, err := encode(s.w.opts.Codec, rec, buf, 0)
	if err != nil {
		return 0, err
	}
	_, last, err := s.w.append([][]byte{p})
	return last, err
}

// AppendBatch writes recs as consecutive records with one write and one
// fsync, and returns the sequence numbers of the first and the last. It is
// not atomic across a crash: a power loss during the call can leave any
// prefix of the batch (a group of records that must stand or fall together
// belongs in one record).
func (s *Store[R]) AppendBatch(recs ...R) (first, last uint64, err error) {
	if len(recs) == 0 {
		return 0, 0, errors.New("ministore: empty batch")
	}
	buf := getEncBuf()
	defer putEncBuf(buf)
	payloads := make([][]byte, len(recs))
	for i, r := range recs {
		if payloads[i], err = encode(s.w.opts.Codec, r, buf, i); err != nil {
			return 0, 0, fmt.Errorf("record %d of the batch: %w", i, err)
		}
	}
	buf.settle(payloads)
	return s.w.append(payloads)
}

// decode decodes payload into r as dc says; raw record types get their
// own copy.
func decode[R any](payload []byte, r *R, dc decoding) error {
	return decodeWith(nil, dc.newDecoder(), payload, r)
}

// Sync makes every appended record durable. It matters only under
// SyncInterval and SyncNever.
func (s *Store[R]) Sync() error { return s.w.sync() }

// Close makes every appended record durable, trims preallocated space and
// releases the lock. Calling Close again returns nil; every other call on a
// closed Store returns ErrClosed.
func (s *Store[R]) Close() error { return s.w.close() }

// Path returns the path of the active file.
func (s *Store[R]) Path() string { return s.w.path }

// Schema returns the schema the journal records (see Options.Schema): the
// one its headers name, or the one it will name from its next new header,
// or "" for none.
func (s *Store[R]) Schema() string { return s.w.schema }

// Format returns the format the journal is written in.
func (s *Store[R]) Format() Format { return s.w.format }

// TornTail describes the torn tail that Open removed, or is nil if the
// journal ended cleanly.
func (s *Store[R]) TornTail() *TornTail { return s.w.torn }

// FirstSeq returns the sequence number of the oldest record, or 0 if the
// journal holds none.
func (s *Store[R]) FirstSeq() uint64 {
	first, _ := s.w.span()
	return first
}

// NextSeq returns the sequence number the next appended record will get.
// Unlike LastSeq it says where the numbering stands even when the journal
// is empty (after TruncateFront past the end, for example).
func (s *Store[R]) NextSeq() uint64 {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// LastSeq returns the sequence number of the newest record written, or 0 if
// the journal holds none.
func (s *Store[R]) LastSeq() uint64 {
	_, last := s.w.span()
	return last
}

// span returns the first and the last record written, or 0, 0.
func (w *wal) span() (first, last uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.written < w.first {
		return 0, 0
	}
	return w.first, w.written
}

// Get returns record seq. It returns an error matching ErrNotFound for a
// sequence number outside [FirstSeq, LastSeq].
func (s *Store[R]) Get(seq uint64) (R, error) {
	var r R
	p, err := s.w.get(seq)
	if err != nil {
		return r, err
	}
	if err := decode(p, &r, decodingOf(&s.w.opts)); err != nil {
		return r, decodeError(s.w.fs, s.w.path, seq, err)
	}
	return r, nil
}

// All returns the records from sequence number from on, up to the last one
// written when All is called. It reads the files one line at a time, so
// memory does not depend on the journal's size.
func (s *Store[R]) All(from uint64) iter.Seq2[Record[R], error] {
	last := s.LastSeq()
	w := s.w
	return func(yield func(Record[R], error) bool) {
		if last == 0 || last < from {
			return
		}
		w.mu.Lock()
		err, first := w.err, w.first
		w.mu.Unlock()
		if err == ErrClosed {
			yield(Record[R]{}, err)
			return
		}
		// The records up to last are known to be there (Open read the
		// newest file, or a clean-end proof vouched for it): a read that
		// ends before last, without an error, met a record that does not
		// verify where a torn tail would end the log. That is damage;
		// Get reads the record and reports it with its file and offset.
		next, done := max(from, first), false
		readRecords(w.fs, w.path, from, last, w.locate(from), false, decodingOf(&w.opts), func(r Record[R], err error) bool {
			if !yield(r, err) || err != nil {
				done = true
				return false
			}
			next = r.Seq + 1
			return true
		})
		if !done && next <= last {
			if _, err := w.get(next); err != nil && !errors.Is(err, ErrNotFound) && err != ErrClosed {
				yield(Record[R]{}, err)
			}
		}
	}
}

// Replay returns every record of the journal at path, in order. A missing or
// empty journal gives an empty result. It takes no lock and never writes: a
// torn tail at the end of the newest segment is treated as the end. It
// returns the records left: after a TruncateFront, from the first one left.
func Replay[R any](path string) ([]R, error) {
	var out []R
	for rec, err := range Records[R](path, 0) {
		if err != nil {
			return out, err
		}
		out = append(out, rec.Value)
	}
	return out, nil
}

// Records returns the records of the journal at path from sequence number
// from on, reading one record at a time, so memory does not depend on the
// journal's size. Like Replay it takes no lock and never writes. After an
// error the iteration ends.
//
// A from of 0 reads from the first record left, whatever TruncateFront
// deleted. A from of 1 or more must not be below the first record left:
// Records(path, 1) reads every record of a journal never truncated at the
// front, and on one that was, it yields a *TruncatedError (ErrTruncated)
// that gives the first record left, rather than starting there silently.
// A from past the last record yields nothing.
//
// A record whose JSON does not decode into R,
// an unknown field included, is a *DecodeError (ErrDecode); RecordsWith
// can allow unknown fields.
//
// Beside a process that has the journal open, Records reads records as
// they are written, but does not follow a TruncateBack made during the
// read: it may yield records the cut dropped, followed by records written
// after it (Backup, which copies, checks for this).
func Records[R any](path string, from uint64) iter.Seq2[Record[R], error] {
	return RecordsWith[R](path, from, nil)
}

// RecordsWith is Records with options: of opts, only AllowUnknownFields,
// Codec and FS are used. Like Records it reads whatever schema the journal
// records.
func RecordsWith[R any](path string, from uint64, opts *Options) iter.Seq2[Record[R], error] {
	o := opts.forReading()
	return func(yield func(Record[R], error) bool) {
		readRecords(o.FS, path, from, 0, nil, true, decodingOf(&o), yield)
	}
}

// Segments describes the files of the journal, oldest first; the active
// file is last. A segment's FirstSeq is its header's base: the oldest
// segment can hold records below FirstSeq (TruncateFront keeps them until
// the segment goes).
func (s *Store[R]) Segments() []SegmentInfo {
	w := s.w
	w.segMu.RLock()
	defer w.segMu.RUnlock()
	out := make([]SegmentInfo, 0, len(w.segs))
	for _, seg := range w.segs {
		info := SegmentInfo{Path: seg.path, Format: seg.hdr.format, Version: seg.hdr.version,
			FirstSeq: seg.base, Bytes: seg.alloc, End: seg.size}
		if !seg.empty() {
			info.Records = seg.last - seg.base + 1
		}
		out = append(out, info)
	}
	return out
}
