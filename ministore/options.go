// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"cmp"
	"errors"
	"log/slog"
	"time"

	"github.com/mini-go/mini/vfs"
)

// SyncMode says when appended records are made durable with fsync.
type SyncMode uint8

const (
	// SyncAlways, the default, fsyncs before Append returns: an appended
	// record survives power loss. Concurrent appends share fsyncs (group
	// commit), so this costs one fsync per batch of waiting writers.
	SyncAlways SyncMode = iota
	// SyncInterval writes each record to the operating system before Append
	// returns (it survives a crash of the process) and fsyncs at most
	// Options.SyncInterval later. A power loss can lose the records of the
	// last interval.
	SyncInterval
	// SyncNever writes each record to the operating system before Append
	// returns and fsyncs only on Sync, rotation, truncation and Close. A
	// power loss can lose everything since the last of those.
	SyncNever
)

// Options configure a Store. The zero value, and a nil *Options, give the
// defaults. Open copies the options; it never changes the caller's value.
type Options struct {
	// MaxSegmentBytes is the size at which the active file is sealed and a
	// new one started. Default 64 MiB.
	MaxSegmentBytes int64
	// MaxSegments, when positive, keeps only the newest MaxSegments sealed
	// segments, deleting older ones after each rotation: a bounded audit
	// log. Default 0: keep everything.
	MaxSegments int
	// Sync is the durability mode. Default SyncAlways.
	Sync SyncMode
	// SyncInterval is the longest time a record waits for fsync under
	// SyncInterval. Default 100ms.
	SyncInterval time.Duration
	// Format is the layout of a new journal. Default FormatAuto: FormatV1
	// for a new journal; an existing journal keeps its own format, so a
	// journal written by the Rust crate stays readable by it.
	Format Format
	// NoPreallocate turns off preallocation. By default the active file of
	// a FormatV1 journal is extended in zero-filled steps ahead of the
	// writes, so an fsync after a small append need not update file
	// metadata; a batch of 64 KiB or more grows the file instead. Close
	// trims the zeros again. FormatPlain is never preallocated.
	NoPreallocate bool
	// Logger receives warnings, such as a torn tail repaired on Open.
	// Default slog.Default().
	Logger *slog.Logger
	// Schema names what the records hold, such as a type or a version of
	// one: "" (the default) for no name, AnySchema for whatever the
	// journal records, or 1 to MaxSchemaLen bytes of printable ASCII
	// without spaces. A journal records its schema in every segment header;
	// Open fails with a *SchemaError (ErrSchema), before it changes
	// anything, if the journal records a schema other than this one, and
	// also when it records one and Schema is "". A journal that records no
	// schema (written before it had one, or by the Rust crate) opens with
	// any Schema and records it from its next new header on.
	// ministate, miniqueue and miniraft set their own.
	Schema string
	// AllowUnknownFields turns off strict decoding: by default a record
	// whose JSON has an object key that no field of the record type takes
	// (encoding/json's Decoder.DisallowUnknownFields) fails to decode with
	// a *DecodeError, because it is usually a record of another type.
	// Set it where records may carry fields a newer program wrote or an
	// older one dropped. It applies to All, Get and RecordsWith.
	AllowUnknownFields bool
	// Codec encodes and decodes the records. Default (nil): JSONCodec,
	// encoding/json. The journal's format does not depend on it: records
	// written with one codec read with any other (see Codec).
	Codec Codec
	// FS is the file system every read, write, fsync, create, rename and
	// delete goes through. Default (nil): vfs.OS, the operating system's.
	// Tests pass a vfs.Mem to simulate power loss, or a vfs.Faulty to
	// inject I/O errors.
	FS vfs.FS
	// BackupProgress, when set, is called during a Backup or BackupTo
	// (of the Store opened with these options, or the package functions
	// given them) on the goroutine of that call, after each file is noted
	// and each chunk (up to 1 MiB) is written: done is the bytes written
	// into the copy, total done plus the bytes noted and not yet copied.
	// total is known once the journal's files are noted; a live copy that
	// reads the journal again starts both over. When the copy is whole,
	// done equals total. It must be quick and must not call the Store.
	// Default nil: no reports.
	BackupProgress func(done, total int64)
}

const (
	defaultMaxSegmentBytes = 64 << 20
	defaultSyncInterval    = 100 * time.Millisecond
	preallocStep           = 4 << 20
	minPreallocStep        = 64 << 10
)

// forReading returns a copy of o (nil: the defaults) with FS set, for the
// functions that read a journal without opening it.
func (o *Options) forReading() Options {
	var r Options
	if o != nil {
		r = *o
	}
	r.FS = cmp.Or(r.FS, vfs.OS)
	return r
}

// resolved returns a copy of o with defaults filled in.
func (o *Options) resolved() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.MaxSegmentBytes < 0 || r.MaxSegments < 0 || r.SyncInterval < 0 {
		return r, errors.New("ministore: negative option")
	}
	if r.Sync > SyncNever {
		return r, errors.New("ministore: unknown sync mode")
	}
	if r.Format > FormatPlain {
		return r, errors.New("ministore: unknown format")
	}
	if err := checkSchemaOption(r.Schema); err != nil {
		return r, err
	}
	r.MaxSegmentBytes = cmp.Or(r.MaxSegmentBytes, defaultMaxSegmentBytes)
	r.SyncInterval = cmp.Or(r.SyncInterval, defaultSyncInterval)
	r.Logger = cmp.Or(r.Logger, slog.Default())
	r.FS = cmp.Or(r.FS, vfs.OS)
	return r, nil
}
