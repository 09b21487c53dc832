// SPDX-License-Identifier: MIT OR Apache-2.0

// Package vfs is the file-system seam of the mini packages: every byte they
// read or write, and every create, rename, delete, lock and fsync, goes
// through an [FS]. Production code uses [OS], the default of every
// package's Options.FS. Tests use [Mem], which can simulate a power loss
// (forget everything that was not fsync'd), and [Faulty], which injects I/O
// errors or a power loss at the Nth operation. A program built on the mini
// packages can use them too, to test its own recovery: pass a Faulty over a
// Mem as Options.FS, run the program's workload, and open what
// [Faulty.Crashed] kept.
//
// # Guarantees
//
// [OS] is a thin layer over package os: File.Sync is fdatasync on Linux
// (fsync elsewhere), SyncDir fsyncs the directory, Lock is an advisory
// flock held until the returned Closer is closed, and Allocate reserves
// space with fallocate where the file system supports it (zeros, never
// stale data).
//
// [Mem] keeps two states of every file and directory: the current one and
// the durable one. File.Sync makes a file's data and size durable;
// FS.SyncDir makes a directory's entries (creates, renames, removes)
// durable. [Mem.CrashClone] returns what a power loss would leave: the
// durable state, plus, if asked, a random part of what was not synced
// (whole 4096-byte blocks, as a disk writes them back), so a test sees torn
// writes as real disks produce them.
//
// [Faulty] counts operations (1, 2, …) and fails the one a test chooses,
// with the error it chooses ([Faulty.FailAt], [Faulty.FailWhen]), or takes
// the crash clone as operation N starts ([Faulty.CrashAt]); every later
// operation then fails with [ErrCrashed].
//
// # Format
//
// vfs writes nothing of its own: the files are the callers'.
//
// # Concurrency
//
// OS, Mem and Faulty are safe for concurrent use by multiple goroutines; a
// File is safe for concurrent ReadAt and WriteAt at distinct offsets, as an
// *os.File is.
//
// # Caveats
//
// The durability rules are the caller's: a new or renamed directory entry is
// durable only after [FS.SyncDir] of its parent, and file data only after
// [File.Sync]. Mem models a file system that honours fsync; it cannot show
// what a disk that lies about flushes loses. Mem's clock is logical (a
// counter), not wall time. The interface is deliberately narrow: only what
// the mini packages use.
package vfs
