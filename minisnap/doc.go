// SPDX-License-Identifier: MIT OR Apache-2.0

// Package minisnap stores snapshots: a full copy of a state together with
// the sequence number it covers, so a state manager can restore the state
// and replay only the part of its log after that number.
//
//	s, err := minisnap.Open("./state", nil)
//	err = s.Create(&state, 10)     // durable when it returns nil
//	seq, err := s.Restore(&state)  // the newest snapshot, verified
//
// It re-imagines the Rust crate minisnap (mini-rs): the same human-readable
// files — the state as pretty JSON, its sequence number as plain text — and
// the same calls, plus what the crate lacks: the state and its sequence
// number are published together by one rename, a CRC-32C checksum is
// verified on every restore, older snapshots are kept as fallbacks, and
// large states stream in both directions (CreateFrom, RestoreTo, Load).
//
// # Guarantees
//
// When Create or CreateFrom returns nil, the new snapshot is durable: after
// a crash or power loss at any later point, Restore returns it or a newer
// one, never an older one. A Create that fails, or is cut short by a crash,
// leaves the snapshots that existed before it restorable; after a crash
// Restore returns either the previous snapshot or the new one.
//
// Whatever the crash point, the state and the sequence number Restore
// returns come from the same snapshot: both live in one directory that a
// single rename publishes, after every file in it and the directory itself
// were fsync'd. The metadata file and snapshot.seq repeat the sequence
// number of the directory name and are checked against it.
//
// Restore reads the newest snapshot only. If it is damaged (a flipped byte,
// a truncated or missing file), Restore fails with a *CorruptError naming
// the file, which matches ErrCorrupt; it never silently returns an older
// state. RestoreLatestGood falls back to the newest snapshot that verifies
// and tells which ones it skipped. Create keeps Options.Keep snapshots
// (default 2), so one fallback exists. Note that falling back is only
// correct if the log still holds the records after the older snapshot's
// sequence number: truncate a log only up to a snapshot that is durable and
// that you are prepared to lose the fallback of.
//
// On Restore, *state is replaced only after the whole snapshot has been
// read and verified; the checksum is computed while the codec decodes, so
// the state file is read once.
//
// # Format
//
// A Store's directory DIR holds one directory per snapshot:
//
//	DIR/
//	+-- snap-00000000000000000041/       older snapshot, kept as a fallback
//	+-- snap-00000000000000000042/       newest snapshot (seq 42)
//	|   +-- snapshot.json                the state, as encoded by the codec
//	|   +-- snapshot.seq                 "42": decimal text, no newline
//	|   +-- meta.json                    format, seq, codec, file, size,
//	|                                    crc32c, created, metacrc32c
//	+-- .tmp-snap-43-KX2B7QAD/           Create in progress (or crashed)
//	+-- snapshot.json                    legacy snapshot (Rust crate 0.1 layout)
//	+-- snapshot.seq                     legacy snapshot's seq
//	+-- snapshot_00000000000000000040.json  numbered snapshot (current Rust crate)
//
// A snapshot directory is named "snap-" and its sequence number in 20
// zero-padded digits, so `ls` lists them oldest first. Creating a sequence
// number again adds a suffix ".1", ".2", ...; the highest suffix of a
// sequence number is its newest snapshot.
//
// The state file is named "snapshot" + Codec.Ext(): snapshot.json with the
// default JSONCodec, which writes pretty JSON with a two-space indent and
// no trailing newline, exactly like the Rust crate, so
// `jq . DIR/snap-*42/snapshot.json` works. meta.json is pretty JSON:
//
//	{
//	  "format": 1,
//	  "seq": 42,
//	  "codec": "json",
//	  "file": "snapshot.json",
//	  "size": 1234,
//	  "crc32c": "8f9a01bc",
//	  "created": "2026-01-02T03:04:05.123456789Z",
//	  "metacrc32c": "a7e6a48f"
//	}
//
// where crc32c is the CRC-32C (Castagnoli) of the state file's bytes in 8
// lower-case hex digits and size is its length in bytes. A last field,
// metacrc32c, seals meta.json itself: the CRC-32C of the file with that
// field's digits written as "00000000". Any damage to meta.json is then a
// *CorruptError, even one that leaves valid JSON (a codec name "jsom", a
// format 3), so RestoreLatestGood falls back over it; an intact meta.json
// naming a codec the Store lacks is ErrCodec, and one of a newer format
// ErrVersion. A meta.json written before the field existed still reads; it
// must hold exactly the seven fields above (docs/FORMAT.md).
//
// Create writes the three files into DIR/.tmp-snap-<seq>-<random>/, fsyncs
// each file and that directory, renames it to its snap- name and fsyncs
// DIR. Only then does it remove the snapshots beyond Options.Keep, oldest
// first: each is renamed to DIR/.tmp-del-<name>, DIR is fsync'd, and its
// files are deleted. Open deletes any ".tmp-" entries left by a crash.
//
// A directory written by the Rust crate — DIR/snapshot.json and
// DIR/snapshot.seq, no checksum — is a legacy snapshot: Restore and List
// read it (as JSON, whatever the Store's codec), any Go snapshot supersedes
// it whatever its sequence number, and minisnap never writes or deletes it.
//
// The current Rust crate writes one file per snapshot instead,
// DIR/snapshot_<seq in 20 digits>.json, holding {"seq":N,"state":...}. These
// numbered snapshots are read too (Info.Legacy is set, Info.Path names the
// file): they are ordered with the Go snapshots by sequence number (a Go
// snapshot first at the same one), Restore decodes their "state" as JSON,
// and RestoreLatestGood falls back over one that is not a JSON object with
// that "seq" and a "state". minisnap never writes or deletes them (Keep
// counts only Go snapshots). The crate's MessagePack snapshots,
// DIR/snapshot_<seq in 20 digits> without an extension, are read the same
// way when Options.Codec is a NumberedCodec for them (minisnap/msgpacksnap);
// otherwise they are listed (codec "msgpack") and restoring one fails with
// ErrCodec, so that a Store never starts from an older snapshot in silence.
// See docs/FORMAT.md for the full description.
//
// # Concurrency
//
// A Store is safe for concurrent use by multiple goroutines: Create and
// CreateFrom are serialized, and the restore calls and List run in parallel
// with each other but wait for a Create in progress. One directory has one
// writing Store at a time: a Store holds an advisory lock (the file
// .minisnap.lock in the directory) from Open, or its first Create if the
// directory did not exist, until Close, and a second writing Store, in this
// process or another, gets ErrLocked. Only the lock holder removes the
// temporary directories a crash leaves. A Store opened with
// Options.ReadOnly takes no lock, removes nothing and cannot Create: use it
// to inspect a directory another program writes.
//
// # Caveats
//
//   - Durability needs a file system where rename is atomic and fsync of a
//     directory persists its entries (ext4, XFS, APFS, ...); not FAT32 or
//     most network file systems.
//   - Create holds the encoded state of JSONCodec in memory once, because
//     encoding/json marshals a whole value before writing it. Stream a
//     large state with CreateFrom and your own encoder to avoid that.
//   - Restore verifies the checksum while decoding, so a codec sees the
//     bytes before the last of them are verified. Restore itself only
//     assigns *state after verification, but a RestoreTo callback must
//     discard what it built when RestoreTo returns a *CorruptError.
//   - A legacy snapshot has no checksum, and the Rust crate renames its two
//     files one after the other, so a crash of the Rust program could have
//     paired a state with another snapshot's sequence number; minisnap
//     cannot detect that. Only invalid JSON or an unreadable snapshot.seq
//     are reported as corruption. A numbered snapshot has no checksum
//     either: damage that leaves valid JSON with the right "seq" restores.
//   - Create refuses a sequence number below the newest snapshot's
//     (ErrOutOfOrder), even if that snapshot is damaged; remove it by hand
//     to go back.
//   - A meta.json written by a release before metacrc32c existed is only
//     checked for sense: a bit flip that turns its codec name into another
//     valid name reads as ErrCodec, not as corruption.
//   - A Create that fails after publishing (syncing DIR, or removing old
//     snapshots) returns an error although its snapshot may be the newest
//     one; its error message says so.
package minisnap
