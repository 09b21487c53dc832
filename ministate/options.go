// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// Options configure a Manager. The zero value, and a nil *Options, give the
// defaults documented on each field. Open copies the options; it never
// changes the caller's value.
type Options struct {
	// SnapshotEvery, when positive, makes Apply and ApplyBatch take a
	// snapshot, then compact the journal behind it, once SnapshotEvery
	// records have been logged since the last snapshot (a batch is one
	// record). The call that crosses the threshold does the work, after its
	// own mutation is applied; there is no background goroutine. Default 0:
	// no automatic snapshots.
	SnapshotEvery uint64
	// SnapshotBytes, when positive, does the same once the mutations logged
	// since the last snapshot total SnapshotBytes bytes of JSON (the
	// records' payloads, without the journal's per-line framing). Either
	// threshold triggers a snapshot. Default 0: off.
	SnapshotBytes int64
	// KeepSnapshots is how many snapshots stay on disk, the newest
	// included (minisnap's Options.Keep). Default 2. A negative value keeps
	// all of them. Compact only ever relies on the newest.
	KeepSnapshots int
	// SnapshotCodec encodes the state in snapshots. Default
	// minisnap.JSONCodec{}: pretty JSON, as the Rust crate writes it.
	// minisnap/msgpacksnap reads the Rust crate's MessagePack snapshots
	// too (see docs/MIGRATING.md).
	SnapshotCodec minisnap.Codec
	// Registry, when set, logs mutations as {"Kind":{...fields}} (serde's
	// enum form) and decodes them by kind, so one journal can hold several
	// mutation types. It must be a *Registry[S] for the Manager's S, and
	// every type registered in it must be assignable to M. It is required
	// when M is an interface type. Default nil: a mutation is logged as its
	// own JSON, and decoded into M.
	Registry Kinds
	// Schema names the mutations, such as "bank/v1": 1 to 100 bytes of
	// printable ASCII without spaces. The journal records it with the
	// records' shape, as ministore's schema "ministate.registry/NAME"
	// (with a Registry) or "ministate.bare/NAME" (without; the name and
	// its slash are left out when Schema is ""). Open refuses a journal
	// that records another shape or name with an error matching
	// ministore.ErrSchema, before it appends or changes anything. A journal
	// that records no schema (written before ministate recorded one, or by
	// the Rust crate) opens as before and records it from its next new
	// segment header on (rotation or compaction). Default "".
	Schema string
	// JournalFormat is the format of a new journal. Default
	// ministore.FormatAuto: ministore's checksummed FormatV1 for a new
	// journal, and an existing journal keeps its own format, so a journal
	// written by the Rust crate stays readable by it. ministore.FormatPlain
	// starts a new journal in the Rust crate's format.
	JournalFormat ministore.Format
	// JournalCodec encodes the mutations into the journal's records and
	// decodes them on Open and for Validators. Default (nil):
	// ministore.JSONCodec, encoding/json. ministore/jsonv2codec is faster
	// (replay of small mutations about twice as fast). The records are
	// JSON whichever codec wrote them, so a journal written with one reads
	// with the other (see ministore.Codec); switching codecs needs no
	// migration. With a Registry the codec encodes each kind's value; the
	// {"Kind":...} envelope is ministate's own.
	JournalCodec ministore.Codec
	// MaxSegmentBytes is the size at which the journal's active file is
	// sealed and a new one started (ministore's Options.MaxSegmentBytes).
	// Default 64 MiB.
	MaxSegmentBytes int64
	// Logger receives warnings: a torn journal tail that was cut off, a
	// damaged snapshot that was passed over, an automatic snapshot that
	// failed. Default slog.Default().
	Logger *slog.Logger
	// FS is the file system every read, write, fsync, create, rename and
	// delete goes through, passed to ministore and minisnap. Default
	// (nil): vfs.OS, the operating system's. Tests pass a vfs.Mem to
	// simulate power loss, or a vfs.Faulty to inject I/O errors.
	FS vfs.FS
	// BackupProgress, when set, is called during a Backup (of the Manager
	// opened with these options, or the package function given them) on
	// the goroutine of that call: done is the bytes written into the copy,
	// total done plus the bytes noted and not yet copied. total grows when
	// the journal's files are noted after the snapshot's; a live copy that
	// starts again starts both over. When the copy is whole, done equals
	// total. It must be quick and must not call the Manager. Default nil.
	BackupProgress func(done, total int64)
}

// resolved returns a copy of o with the defaults filled in, or an error
// if the options cannot be used. It never changes *o.
func (o *Options) resolved() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.SnapshotBytes < 0 || r.MaxSegmentBytes < 0 {
		return r, errors.New("ministate: negative option")
	}
	if r.Schema != "" && !validSchema(r.Schema) {
		return r, fmt.Errorf("ministate: invalid Options.Schema %q: want 1 to %d bytes of printable ASCII without spaces", r.Schema, maxSchemaLen)
	}
	r.Logger = cmp.Or(r.Logger, slog.Default())
	r.FS = cmp.Or(r.FS, vfs.OS)
	r.SnapshotCodec = cmp.Or[minisnap.Codec](r.SnapshotCodec, minisnap.JSONCodec{})
	return r, nil
}

// The journal's schema (ministore.Options.Schema) is one of these
// prefixes, then "/" and Options.Schema when that is set.
const (
	schemaRegistry = "ministate.registry"
	schemaBare     = "ministate.bare"
	maxSchemaLen   = 100
)

func validSchema(s string) bool {
	if len(s) == 0 || len(s) > maxSchemaLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// journalSchema is the schema the journal of a Manager with these options
// records.
func (o *Options) journalSchema() string {
	s := schemaBare
	if o.Registry != nil {
		s = schemaRegistry
	}
	if o.Schema != "" {
		s += "/" + o.Schema
	}
	return s
}

// describeSchema says in words what a journal recording schema s holds.
func describeSchema(s string) string {
	shape, name, named := strings.Cut(s, "/")
	var what string
	switch shape {
	case schemaRegistry:
		what = "mutations logged with a Registry"
	case schemaBare:
		what = "mutations logged as their own JSON (no Registry)"
	default:
		return fmt.Sprintf("records of schema %q, not a ministate journal", s)
	}
	if named {
		return fmt.Sprintf("%s, Options.Schema %q", what, name)
	}
	return what + ", no Options.Schema"
}
