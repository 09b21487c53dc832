package ministore

import (
	"errors"
	"log/slog"
	"time"

	"github.com/mini-go/mini/internal/vfs"
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
	// writes, so an fsync after an append need not update file metadata;
	// Close trims the zeros again. FormatPlain is never preallocated.
	NoPreallocate bool
	// Logger receives warnings, such as a torn tail repaired on Open.
	// Default slog.Default().
	Logger *slog.Logger
	// FS is the file system used for all I/O. Default: the operating
	// system's. It is here for the crash and fault tests in this module.
	FS vfs.FS
}

const (
	defaultMaxSegmentBytes = 64 << 20
	defaultSyncInterval    = 100 * time.Millisecond
	preallocStep           = 4 << 20
	minPreallocStep        = 64 << 10
)

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
	if r.MaxSegmentBytes == 0 {
		r.MaxSegmentBytes = defaultMaxSegmentBytes
	}
	if r.SyncInterval == 0 {
		r.SyncInterval = defaultSyncInterval
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.FS == nil {
		r.FS = vfs.OS
	}
	return r, nil
}
