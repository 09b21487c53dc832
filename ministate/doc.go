// SPDX-License-Identifier: MIT OR Apache-2.0

// Package ministate keeps a state in memory that changes only through
// mutations that are durable first: each mutation is appended to a journal
// (ministore) and fsync'd, then applied. After a crash the state is
// rebuilt from the newest snapshot (minisnap) and the journal records
// after it, and the journal is compacted behind snapshots.
//
//	type Counter struct{ Value int }
//	type Inc struct{ By int }
//	func (i Inc) Apply(c *Counter) { c.Value += i.By }
//
//	m, err := ministate.Open[Counter, Inc]("state", "counter.wal.jsonl", nil)
//	seq, err := m.Apply(Inc{By: 10})          // durable, then applied
//	m.View(func(c *Counter) { fmt.Println(c.Value) })
//	_, err = m.Compact()                       // snapshot, then drop covered records
//
// It re-imagines the Rust crate ministate (mini-rs): it opens and continues
// that crate's directories (its journal, in the crate's format, and its
// snapshot.json/snapshot.seq), and adds what the crate lacks or gets
// wrong: recovery keyed on the sequence numbers stored in the journal
// instead of counting lines, compaction, deep copies, several mutation
// kinds in one journal (Registry), validation (Validator), group commit,
// atomic batches and a snapshot policy.
//
// # Guarantees
//
// When Apply or ApplyBatch returns a sequence number and a nil error, the
// mutation is on stable storage (fsync'd) and applied: View and Copy see
// it, and so does every later Open, whatever crashes or power losses come
// in between. A mutation is applied to the state only after it is durable,
// so the state never shows a mutation a crash could take back. When they
// return an error, the state does not hold the mutation; the journal may
// (an fsync that failed may still have written it), so recovery can find
// the mutations that were in flight when a crash or failure hit, after all
// the acknowledged ones; it never loses an acknowledged one.
//
// Recovery rebuilds exactly the acknowledged mutations, in sequence order,
// plus possibly those in flight: it restores the newest snapshot that
// verifies (an older one if the newest is damaged, when the journal still
// continues it), then replays the journal from the record after the
// snapshot's sequence number, checking that the journal's numbering
// continues the snapshot's. If it does not (a *GapError) or a record does
// not decode (a *RecordError), Open fails with a clear error: records are
// never skipped.
//
// A batch (ApplyBatch) is one journal record: after a crash, all of it or
// none of it. A mutation refused by its Validator leaves no trace: nothing
// is logged, applied or numbered.
//
// Compaction never loses a mutation: Compact, and the snapshot policy,
// first make a snapshot durable (minisnap publishes it with one rename and
// fsyncs the directory), and only then cut the journal's front up to the
// record after it. A crash between the two leaves a longer journal, never
// a gap. Open fsyncs the directory before anything else, so a rename that an
// earlier failed session left unsynced cannot be undone by a power loss
// after new records depend on it.
//
// After a failed write or fsync the Manager refuses all later writes
// (ErrFailed); the fsync is never retried (see ministore). Reopen to go on.
//
// The journal records what it holds (ministore's schema): the records'
// shape, with or without a Registry, and Options.Schema when set. Open of
// a directory whose journal records another shape or name fails with an error
// matching ministore.ErrSchema before anything is appended, so a program
// with the wrong mutation type, or without the Registry, cannot add
// records the right program would not read. Apply refuses a mutation with
// invalid UTF-8 in a string (ministore.ErrInvalidUTF8), which JSON would
// store as U+FFFD: a mutation is applied again on recovery exactly as
// logged.
//
// Manager.Backup writes a consistent copy of the directory (the newest
// snapshot and the journal that continues it) into a new directory while
// mutations go on; opening the copy gives the state after
// BackupInfo.Seq, which includes every mutation whose Apply returned
// before the call. The package-level Backup copies a directory another
// process has open. See docs/BACKUP.md.
//
// # Format
//
// A Manager keeps everything in one directory, the state dir:
//
//	DIR/
//	├── NAME                      the journal (ministore): one record per line
//	├── NAME.001, NAME.002, ...   sealed journal segments, oldest first
//	├── NAME.lock                 held while a Manager has the directory open
//	├── snap-00000000000000000042/    snapshots (minisnap): the state as of
//	│   ├── snapshot.json              record 42, pretty JSON by default,
//	│   ├── snapshot.seq               its sequence number, and a checksum
//	│   └── meta.json
//	├── snapshot_<seq, 20 digits>.json a snapshot written by the current Rust crate
//	└── snapshot.json, snapshot.seq    a snapshot written by the Rust crate 0.1
//
// Each journal record is one mutation, or one batch, as compact JSON:
//
//	{"by":10}                                  a mutation: its own JSON
//	[{"by":1},{"by":2}]                        a batch: an array of mutations
//	{"Inc":{"by":10}}                          with a Registry: serde's enum form
//	[{"Inc":{"by":1}},{"Reset":{}}]            a batch with a Registry
//
// A mutation whose own JSON is an array is stored as a batch of one, so a
// record that starts with '[' is always a batch. In ministore's default
// format each line also carries the record's sequence number and a
// CRC-32C:
//
//	{"seq":7,"sync":6,"rec":{"by":10},"crc":"1c2d3e4f"}
//
// A journal in the Rust crate's format (ministore.FormatPlain) is kept in
// that format when it is continued, so the Rust crate can still read it;
// its record i is sequence number i. The state's sequence number is the
// number of the last record applied; a batch counts once.
//
// The journal's headers name its schema: "ministate.registry" or
// "ministate.bare", then "/" and Options.Schema when set (for example
// "// MINISTORE JOURNAL v1 base=1 schema=ministate.registry/bank crc=...").
//
// # Concurrency
//
// A Manager is safe for concurrent use. Readers (View, Copy, Sequence) run
// in parallel with each other and with writers' I/O; they are held off only
// while a run of durable records is applied to the state.
//
// Load reads the state of a directory another process has open, without its
// lock and without writing: the newest good snapshot and the journal after
// it (a record half written at the end is the end), read again when the
// program compacts between the two reads. "mini state show" and "mini
// state stat" read such a directory the same way, without the program's
// types.
//
// Stats returns the Manager's figures, lock-free: its journal's
// (ministore.Stats), the records and mutations applied, the snapshots and
// compactions with their durations, and what Open replayed and how long it
// took. The subpackages of github.com/mini-go/mini/metrics publish them.
//
// Writers share fsyncs (group commit): each encodes its mutation in its own
// goroutine and appends it to the journal, which gives it its sequence
// number; then one writer at a time fsyncs the journal for every record
// written so far, while the next group gathers. Durable records are
// applied strictly in sequence-number order, which is their order in the
// journal, whatever order their writers wake up in; the writer whose
// record is next in line applies the run. So the state in memory always
// equals the journal's prefix up to Sequence().
//
// Every writer takes its place in the journal through one queue, which
// appends the records queued meanwhile with one write while the previous
// group is being fsync'd. A mutation that implements Validator is
// validated as it is queued, against the state with every record queued
// before it applied, in order: when none is pending (all applied), the
// state itself, under the read lock; otherwise a speculative copy of the
// state. The copy is made (Clone, or a JSON round trip) by the first
// validated writer that finds records pending, with those records applied,
// and from then on every queued record is applied to it too, until the
// queue is found drained: the mutation itself if it is a plain value (only
// booleans, numbers and strings, in structs and arrays), else a copy
// decoded from its journal payload as recovery would, so that the two
// states share no memory. So validated writers share fsyncs like the
// others, at this cost: while validated writes overlap, the state is held
// twice in memory and every mutation is applied twice (and decoded once
// more, unless a plain value); each burst that needs a copy pays
// one copy of the whole state (cheap with a Cloner, a JSON round trip of
// the state without one); and validation runs one at a time, under the
// queue's lock. A refused mutation leaves the copy as it was; a batch
// refused half-way, an Apply that panics on the copy, and a failed write
// or fsync discard it (after a failure nothing queued is ever applied). A
// program that validates little pays nothing: with no record pending, or
// no Validator, no copy exists.
//
// A snapshot (CreateSnapshot, Compact, or the policy) holds writers off
// only while it captures the state: the time to Clone it, if the state is
// a Cloner, or else to encode it. Readers are never held off. Writing and
// fsyncing the snapshot, and compacting the journal, happen while writers
// go on. One snapshot is written at a time. The policy runs inside the
// Apply or ApplyBatch call that crosses its threshold, after that call's
// mutation is applied; there is no background goroutine.
//
// # Caveats
//
//   - One Manager per directory: the snapshots in the directory belong to it. A
//     second Manager on the directory (with any journal name) fails to open:
//     the journal and the snapshot store are both locked.
//   - Mutations and the state must round-trip through encoding/json (the
//     state through the snapshot codec): only exported fields are stored,
//     and Apply and Validate must be deterministic. Options.JournalCodec
//     can put a faster JSON codec (ministore/jsonv2codec) in its place for
//     the mutations; the journal stays the same JSON, readable with
//     either.
//   - Recovery reads the whole journal tail after the snapshot and applies
//     it; without snapshots it replays the whole history. Use Compact or the
//     snapshot policy to bound it. The records are decoded on every core
//     (GOMAXPROCS goroutines, as ministore's Records decodes) and applied
//     one at a time, in sequence order, on the goroutine that called Open.
//     The snapshot is decoded on a goroutine of its own meanwhile; the
//     records after the newest snapshot listed are decoded (a few batches
//     ahead, not the whole tail) while it is, and read again if an older
//     one is restored instead (the newest is damaged).
//   - Compact keeps the journal's newest record even when the snapshot
//     covers it, so the journal never becomes empty (an empty journal
//     would not show where its numbering ends, and recovery could not check
//     that it continues the snapshot).
//   - After Compact, a directory in the Rust crate's format can no longer be
//     recovered by the Rust crate: it counts lines from the start of the
//     journal and reads only its own snapshots. Appending, and Go
//     snapshots without compaction, keep it valid for the crate; the
//     automatic snapshots of SnapshotEvery and SnapshotBytes compact. See
//     docs/MIGRATING.md.
//   - A batch that holds Validators after its first mutation is validated
//     on a copy of the state (see Cloner), which costs a copy if none is
//     kept at the time (see Concurrency).
//   - Validate sees a copy of the state while other mutations are queued;
//     without a Cloner, that copy is the state's JSON round trip, as after
//     recovery from a snapshot: Validate must depend only on what the
//     state's JSON holds.
//   - A panic in Apply stops the Manager (ErrFailed), and Open reports
//     the record as a *RecordError from then on: fix the code first.
//   - Durability needs a file system where fsync and rename mean what
//     POSIX says (see ministore and minisnap).
//   - A directory written before ministate recorded a schema (or by the Rust
//     crate) opens with any shape, as before, and records the Manager's
//     schema from the journal's next new segment header (rotation or
//     compaction) on. A schema is never changed afterwards: set
//     Options.Schema when the directory is created.
//   - Mutations are decoded as encoding/json decodes them (with any
//     Options.JournalCodec too): unknown fields
//     are ignored (unlike ministore's typed reading). The journal's schema
//     is what keeps records of another type out.
package ministate
