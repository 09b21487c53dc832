// SPDX-License-Identifier: MIT OR Apache-2.0

// Package msgpacksnap is a [minisnap.Codec] for MessagePack, using
// github.com/vmihailenco/msgpack/v5, that also reads the snapshots the
// current Rust crate minisnap writes with its MessagePack codec (RmpCodec,
// rmp-serde): a program migrating from the Rust crates plugs it in and its
// first Restore (or ministate.Open) starts from the crate's newest
// snapshot.
//
//	store, err := minisnap.Open(dir, &minisnap.Options{Codec: msgpacksnap.New()})
//	m, err := ministate.Open[State, Mutation](dir, "app.wal.jsonl", &ministate.Options{SnapshotCodec: msgpacksnap.New()})
//
// # Guarantees
//
// A Rust snapshot is restored only if the whole file is one envelope whose
// sequence number is the file name's; on any error the target is left
// unchanged (minisnap's Restore rule). What does not parse is a
// *minisnap.CorruptError naming the file and the offset where it stops
// making sense, and RestoreLatestGood falls back over it to an older
// snapshot. A state that parses but does not fit the Go type is a decode
// error, not corruption. Go's own snapshots with this codec have
// minisnap's checksum and crash guarantees.
//
// # Format
//
// The crate's RmpCodec writes DIR/snapshot_<seq, 20 digits>, a file name
// without an extension (the codec's ext() is empty), holding the envelope
// struct {seq, state} encoded by rmp_serde::encode::write. rmp-serde's
// default layout writes a struct as an array of its fields in declaration
// order, so the file is the two-element array [seq, state], and every
// struct inside the state is an array too:
//
//	struct AppState { counter: u64, message: String }   (Rust)
//	snapshot_00000000000000000010:  92 0a 92 2a a5 68 65 6c 6c 6f
//	                                [10, [42, "hello"]]
//
// Integers are written in their smallest form, strings as str, Option as
// nil or the value, a unit variant of an enum as its name, a variant with
// data as a one-entry map {name: data}, Vec<u8> (without serde_bytes) as an
// array of integers. SplitNumbered also accepts the envelope as a map
// {"seq": N, "state": ...} (rmp-serde's named layout).
//
// Decode reads a MessagePack struct written as an array into a Go struct
// field by field, in the Go struct's field order, which must then match
// the Rust struct's, with the same number of fields (fields tagged
// `msgpack:"-"` do not count). It reads a struct written as a map by field
// name: the `msgpack` tag, else the `json` tag, else the Go name. A state
// decoded into an `any` gives []any for arrays, map[string]any for maps
// whose keys are all strings and map[any]any for other maps.
//
// Go's own snapshots with this codec are snap- directories like any other
// minisnap snapshot (codec name "msgpack", state file snapshot.msgpack,
// with a checksum); Encode writes structs as maps keyed by field name, so
// adding a field to the Go type later does not break them, and integers in
// their smallest form.
//
// # Concurrency
//
// A Codec is stateless and safe for concurrent use; every call makes its
// own encoder or decoder.
//
// # Caveats
//
// The crate's files have no checksum: damage that still parses as one
// envelope with the file name's sequence number restores.
//
// A struct that rmp-serde wrote as an array is matched to the Go struct by
// position only: a Go type whose fields are in another order, or another
// number of them, gets the values in the wrong fields or an error.
//
// minisnap never writes or deletes the crate's files; delete them yourself
// once Go has snapshots of its own.
package msgpacksnap
