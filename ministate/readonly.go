// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministore"
)

// Load reads the state kept in the directory dir, with its journal in the
// file journalFile, as Open would recover it, and returns it with its
// sequence number, without opening it: it takes no lock and writes
// nothing (no directory or journal created, no torn tail cut, no .broken
// copy, no leftover removed), so it reads the directory of a program that
// has it open (a Manager), for a look, a report or a check.
//
// It reads the newest snapshot that verifies, then the journal records
// after it. A record half written at the end of the journal, which the
// program may be writing, is the end of it. If the program publishes a
// snapshot and compacts the journal between the two reads (the journal
// then starts after the snapshot read), or deletes the snapshot being
// read, Load reads again, a few times, before it returns the error: a
// *GapError matching ErrGap. Damage is an error as for Open; a damaged
// newest snapshot is passed over for an older one only when the journal
// still holds the records after that one.
//
// Of opts, Registry, JournalCodec, SnapshotCodec and FS are used. A
// directory that holds neither snapshot nor journal gives the zero state and
// sequence number 0.
func Load[S any, M Mutator[S]](dir, journalFile string, opts *Options) (state S, seq uint64, err error) {
	o, err := opts.resolved()
	if err != nil {
		return state, 0, err
	}
	if dir == "" || journalFile == "" {
		return state, 0, errors.New("ministate: empty directory or journal name")
	}
	c, err := newCodec[S, M](o.Registry, o.JournalCodec)
	if err != nil {
		return state, 0, err
	}
	dir = filepath.Clean(dir)
	journal := filepath.Join(dir, journalFile)
	for try := range loadTries {
		if try > 0 {
			time.Sleep(time.Duration(try) * 20 * time.Millisecond)
		}
		state, seq, err = loadOnce(c, o, dir, journal, try == 0)
		if !errors.Is(err, errMoved) {
			return state, seq, err
		}
	}
	return state, 0, errors.Unwrap(err)
}

// loadTries is how many times Load reads a directory that its program keeps
// changing under it.
const loadTries = 5

// loadPause widens, in the tests, the window between the reads of the
// snapshot and of the journal, where a live program can compact, in a
// Load's first read.
var loadPause time.Duration

// errMoved marks an error that a program changing the directory during Load
// can cause; the error it wraps is Load's if reading again does not help.
var errMoved = errors.New("ministate: directory changed while reading")

type movedError struct{ err error }

func (e movedError) Error() string        { return e.err.Error() }
func (e movedError) Unwrap() error        { return e.err }
func (e movedError) Is(target error) bool { return target == errMoved }

func loadOnce[S any, M Mutator[S]](c codec[S, M], o Options, dir, journal string, first bool) (state S, seq uint64, err error) {
	snaps, err := minisnap.Open(dir, &minisnap.Options{ReadOnly: true, Codec: o.SnapshotCodec, FS: o.FS})
	if err != nil {
		return state, 0, err
	}
	defer snaps.Close()
	snapSeq, _, err := snaps.RestoreLatestGood(&state)
	switch {
	case errors.Is(err, minisnap.ErrNotFound):
		snapSeq = 0
	case errors.Is(err, minisnap.ErrCorrupt):
		// Damaged, or deleted by the program's pruning while read.
		var zero S
		state, snapSeq = zero, 0
		if info, serr := ministore.Stat(journal, &ministore.Options{FS: o.FS}); serr != nil || info.FirstSeq > 1 {
			return state, 0, movedError{fmt.Errorf("ministate: restore snapshot in %s: %w", dir, err)}
		}
	case err != nil:
		return state, 0, fmt.Errorf("ministate: restore snapshot in %s: %w", dir, err)
	}
	if first && loadPause > 0 {
		time.Sleep(loadPause)
	}
	next := snapSeq + 1
	for rec, err := range ministore.RecordsWith[json.RawMessage](journal, next, &ministore.Options{FS: o.FS, AllowUnknownFields: true}) {
		var te *ministore.TruncatedError
		if errors.As(err, &te) {
			ge := &GapError{Journal: journal, SnapshotSeq: snapSeq, FirstSeq: te.First}
			if info, err := ministore.Stat(journal, &ministore.Options{FS: o.FS}); err == nil {
				ge.LastSeq = info.LastSeq
			}
			return state, 0, movedError{ge}
		}
		if err != nil {
			return state, 0, fmt.Errorf("ministate: replay %s: %w", journal, err)
		}
		if rec.Seq != next {
			return state, 0, &RecordError{Journal: journal, Seq: rec.Seq, Err: fmt.Errorf("out of order: want record %d", next)}
		}
		ms, err := c.Decode(rec.Value, nil)
		if err != nil {
			return state, 0, &RecordError{Journal: journal, Seq: rec.Seq, Err: err}
		}
		if err := replay(&state, ms); err != nil {
			return state, 0, &RecordError{Journal: journal, Seq: rec.Seq, Err: err}
		}
		next++
	}
	return state, next - 1, nil
}
