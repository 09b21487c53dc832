// SPDX-License-Identifier: MIT OR Apache-2.0

// Package ministore is a write-ahead log: a durable, append-only journal of
// typed records, stored as human-readable JSON lines in segment files.
//
//	s, err := ministore.Open[Event]("data/events.log", nil)
//	seq, err := s.Append(Event{...})   // on stable storage when it returns
//	for rec, err := range ministore.Records[Event]("data/events.log", 1) { ... }
//
// It re-imagines the Rust crate ministore (mini-rs): it reads and continues
// that crate's files, and adds a checksum and sequence number on every line,
// torn-tail repair, group commit, random access, truncation at both ends
// and a lock against a second writer.
//
// # Guarantees
//
// Under SyncAlways (the default) a record is fsync'd before Append returns:
// it survives a crash or a power loss. Records are replayed in the order of
// their sequence numbers, 1, 2, 3, ..., which never change: not by
// rotation, not by TruncateFront. (TruncateBack drops the numbers after its
// argument, and they are given out again.)
//
// Nothing half-written is ever returned as a record: every FormatV1 line
// carries a CRC-32C. Damage is never mistaken for a crash: Open and every
// reader apply one rule (docs/FORMAT.md, "Recovery"). Open cuts only what a
// crash can leave of the writes after the last record proven durable (a
// torn tail at the end of the newest segment); it first saves the cut bytes
// to NAME.broken, then logs a warning and reports the cut through
// Store.TornTail. Replay and Records, which never write, stop before it.
// Everything else that does not verify, a damaged header, a complete line
// that fails its checksum, stray whitespace, zeros where no lost sector can
// have left them, a record that later records prove had been durable, is a
// *JournalError naming the file, the line and the byte offset, matching
// ErrCorrupt: it is never skipped, and nothing is cut or rewritten. Repair
// cuts the journal at its first bad record and keeps a copy of what it cut;
// it keeps the front bound, so no record TruncateFront deleted comes back.
// A named pipe, device, socket, directory or symbolic link where a journal
// file belongs is refused (ErrNotRegular) before it is opened: through a
// link, Open would lock the link's name, not the journal's, and let a second
// writer in.
//
// A record reads back as it was appended, or not at all: Append refuses a
// value with invalid UTF-8 in a string (ErrInvalidUTF8), which
// encoding/json would store as U+FFFD, and reading refuses a record whose
// JSON has a field the record type does not take (a *DecodeError matching
// ErrDecode, naming file, line and offset) instead of dropping it. A
// journal that records a schema (Options.Schema) is opened only with that
// schema: any other gives a *SchemaError (ErrSchema) before Open changes
// anything.
//
// Every file is fsync'd, then its directory, on every create, rename and
// delete. After a failed write or fsync the store refuses all later writes
// (ErrFailed): an fsync is never retried, because a second fsync can
// succeed after the kernel dropped the data the first could not write. For
// the same reason Open writes again the records of the newest segment that
// no "sync" field proves durable (usually the last batch), before it
// fsyncs and appends: they may be readable yet only in the page cache.
// After a crash Open reads the newest segment only from there: a record
// near its end proves the ones before durable, so a crash cannot have
// torn them, and damage in them is reported by the readers (Records,
// Replay, All, Get) with its file and offset, as below a clean-end proof.
//
// SyncInterval and SyncNever trade that for speed: a record is handed to the
// operating system before Append returns (it survives a crash of the
// process), but a power loss can lose the records since the last fsync:
// those of the last SyncInterval, or, under SyncNever, everything since the
// last Sync, rotation, truncation or Close.
//
// Store.Backup writes a consistent copy of the journal into a new directory
// while appends go on: every record whose Append returned before the call,
// up to BackupInfo.Last, each once and in order, checked record by record,
// fsync'd, and published by one rename (a crash leaves no partial copy).
// The package-level Backup copies a journal another process has open,
// without its lock. See docs/BACKUP.md.
//
// # Format
//
// A journal NAME is an active file NAME and sealed segments NAME.001,
// NAME.002, ... (NAME.1000 after NAME.999), oldest first. The first line of
// every file is a header; every other line is one record:
//
//	// MINISTORE JOURNAL v1 base=1 crc=415066b3
//	{"seq":1,"sync":0,"rec":{"Set":{"value":10}},"crc":"b8f7f495"}
//	{"seq":2,"sync":1,"rec":{"Inc":{"delta":5}},"crc":"07e7a080"}
//
// base is the sequence number of the file's first record. seq is the
// record's sequence number, rec the record as compact JSON, crc the CRC-32C
// (Castagnoli) of the line up to and including the record, and sync the
// highest sequence number that was durable when the line was written. The
// header's crc covers the header before " crc=". A header also names the
// records' schema, "base=N schema=NAME crc=...", when the Store that wrote
// it set Options.Schema.
//
// sync lets Open tell a torn write from damage: a crash can lose sectors
// of an unsynced write out of order, leaving valid lines after zeros; those
// lines all have sync below the damaged record. A later line whose sync
// reaches the damaged record proves the record had been durable: that is
// corruption.
//
// While a FormatV1 journal is open, its active file is extended with zero
// bytes ahead of the writes, so that an fsync after an append does not have
// to update the file's size. A batch of 64 KiB or more is written past
// the end instead, growing the file. A line never starts with
// a zero byte; zeros to the end of the newest file are free space, and
// Close trims them. On a full disk the extension shrinks, then stops,
// rather than fail an append.
//
// FormatPlain is the Rust crate's format: the header "// MINISTORE JOURNAL
// v0.1.4" (Go adds " base=N" and " schema=NAME", which Rust readers
// ignore) and one bare JSON
// record a line; a record's sequence number is its position. ministore
// reads it, continues it when it opens a journal in that format, and writes
// it when asked, so a Rust program can replay the journal. It cannot detect
// damage that leaves a line valid JSON.
//
// rec is the JSON of the record as the Store's Codec (Options.Codec)
// writes it: encoding/json by default, or the faster ministore/jsonv2codec
// on github.com/go-json-experiment/json. The lines do not say which codec
// wrote them and need not: both write and read the same JSON, with the
// same rules (invalid UTF-8 refused on Append, unknown fields refused by
// strict decoding), so a journal written with one reads with the other.
//
// Clean-end proof. Close, after it has trimmed and fsync'd the active
// file, writes the side file NAME.end, one line:
//
//	ministore clean end v1 size=S base=B last=L line=XXXXXXXX crc=XXXXXXXX
//
// S is the active file's size, B its first and L its last sequence number
// (B-1 when it holds no record), line the CRC-32C of its last line without
// the '\n' (the header when it holds no record), crc the CRC-32C of the
// text before " crc=". Open removes the file (the directory is fsync'd before
// anything is appended, so a proof is used by one Open at most) and, when
// the active file is format v1, of size S, with header base B and a last
// line that verifies, is record L and has that CRC, takes its end from the
// proof instead of reading every record: a clean close made them durable,
// so nothing in them can be a torn write. A proof that is missing, torn or
// does not match is passed over and the file read as always. The Rust
// crate ignores the file (it is not a segment name).
//
// After a TruncateFront the first record's sequence number is kept in the
// side file NAME.front: two 4096-byte slots, each one line "// MINISTORE
// FRONT v2 first=N gen=G crc=XXXXXXXX" followed by zeros. An update writes
// the slot not holding the bound in place and fdatasyncs the file; the
// bound is the slot with the higher generation. A crash leaves a slot whole
// (its line is one 512-byte sector, which a disk writes whole), so a slot
// that does not verify is damage, whichever slot it is: never a fallback
// to the other slot's older bound. The older one-line file (v1) is still
// read and is replaced on the next update. A journal without the file
// starts at its oldest segment's base. A bound file with a bad slot, or
// that points below the oldest segment or past the last record, is a
// *JournalError naming it and the offset.
//
// A header with another version is refused with ErrVersion. docs/FORMAT.md
// in the repository describes the format and its crash rules in full.
//
// # Concurrency
//
// A Store is safe for concurrent use. Appends from many goroutines share
// fsyncs (group commit): one goroutine writes every record waiting at that
// moment with one write and one fsync while the next batch gathers, and each
// Append returns when its own record is durable. Under SyncAlways the
// leader, once it has woken the writers of its batch, extends the active
// file's preallocated zeros (write, fsync) when little is left, before the
// next batch is taken: no writer waits for zeros before its own record is
// written (see Options.NoPreallocate). Each Append encodes its
// record, and checksums it when it is big (2 KiB or more), in its own
// goroutine before it takes the lock, into a pooled buffer that the
// vectored write (pwritev) then takes as it is: a record is not copied
// after it is encoded. Get and All run alongside
// appends. Open takes an advisory lock on NAME.lock: a second Store on the
// same journal, in this process or another, gets ErrLocked. Replay and
// Records take no lock and can read a journal another process writes; so
// does Stat, which describes such a journal (segments, bytes, records,
// first and last) from its headers and its newest file, taking a record
// half written at the end as the end and listing again when a rotation or
// a truncation removes a file under it.
//
// Follow reads like Records and then waits for new records, polling every
// FollowPoll (20 ms: it lists the journal's files and reads on from where
// it stopped; no file-system notification), across rotation and
// TruncateFront, until its context is done; then it ends without an
// error. A record half written at the end of the newest file is waited
// for, never yielded.
//
// Readers take a starting sequence number from: 0 means the first record
// left; 1 or more below the first record left (TruncateFront, or
// MaxSegments, deleted it) is a *TruncatedError matching ErrTruncated,
// never a silent start further on. So Records(path, 1) reads a whole
// journal that was never truncated at the front, and Records(path, 0)
// whatever is left of any journal. Store.All keeps starting at the first
// record left.
//
// Stats returns a snapshot of the Store's figures (records and bytes
// appended, group commits, fsyncs and their latency in a fixed-bucket
// histogram, rotations, segments, preallocation steps, torn-tail repairs,
// Open's duration); Stats.Sub diffs two snapshots. Counting is always on
// and lock-free: the leader of a group commit adds to atomic counters.
// The subpackages of github.com/mini-go/mini/metrics publish them through
// expvar (expvarstats) and Prometheus (promstats).
//
// # Caveats
//
// Open reads every record of the newest segment, but only the header and
// the last record of each sealed segment, so that opening a long journal is
// fast; damage inside a sealed segment is reported by Replay, Records, All
// and Get. After a clean Close it reads only the last record of the active
// file too (see "Clean-end proof" below): damage inside it is then also
// reported by the readers, not by Open.
//
// AppendBatch is one write and one fsync, but not atomic across a crash: a
// prefix of the batch may survive. Records that must stand or fall together
// belong in one record.
//
// TruncateFront copies nothing: it writes the front bound (NAME.front) and
// deletes whole segments below it, so the records below the bound in the
// segment holding it stay on disk, unread, until that segment is deleted in
// turn. The Rust crate does not know the bound and would read them.
//
// Get keeps an index of 8 bytes per record for each segment it has read.
//
// Follow does not follow TruncateBack: records it yielded may be dropped
// and their numbers given out again. A follower that falls behind a
// TruncateFront gets a *TruncatedError. Each poll lists the directory and
// reads each file's header when it starts past the first record.
//
// Records are encoded with encoding/json; replay speed for typed records
// is mostly the speed of its decoding.
//
// Decoding is strict about unknown fields only: a record missing a field
// of the type decodes with that field's zero value, as encoding/json does.
// A program that adds or drops fields between versions sets
// Options.AllowUnknownFields (or reads with RecordsWith) to read older
// records. A custom MarshalJSON or a json.RawMessage field that writes the
// escape \ufffd is refused by Append as invalid UTF-8; write the
// character U+FFFD itself.
//
// A journal without a schema opens with any Options.Schema and takes it in
// the headers it writes from then on, so its older segments say nothing.
// A journal's schema cannot be changed: choose the name when the journal
// is created. Readers older than the schema field reject a header that
// carries it as malformed; the Rust crate ignores it.
//
// Damage that leaves only what a crash could leave cannot be told from one:
// the newest segment cut between or inside its lines, or the '\n' of its
// last record zeroed with only zeros after it. Open cuts such a tail (and
// keeps it in NAME.broken); nothing left in the file proves it durable.
package ministore
