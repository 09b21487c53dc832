// SPDX-License-Identifier: MIT OR Apache-2.0

package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrCrashed is returned, wrapped in an *[fs.PathError], by every operation
// of a [Faulty] file system after its simulated crash.
var ErrCrashed = errors.New("vfs: simulated crash")

// OpKind is the kind of a [Faulty] operation.
type OpKind uint8

// The kinds of operations. ReadAt counts as OpRead, and WriteAt and
// WriteVecAt (see [WriteVecAt]) as OpWrite.
const (
	OpOpen OpKind = iota + 1
	OpMkdir
	OpRemove
	OpRename
	OpStat
	OpReadDir
	OpSyncDir
	OpLock
	OpRead
	OpWrite
	OpSync
	OpTruncate
	OpSize
	OpClose
	OpAllocate // [Allocate]
)

var opKindNames = [...]string{
	OpOpen:     "open",
	OpMkdir:    "mkdir",
	OpRemove:   "remove",
	OpRename:   "rename",
	OpStat:     "stat",
	OpReadDir:  "readdir",
	OpSyncDir:  "syncdir",
	OpLock:     "lock",
	OpRead:     "read",
	OpWrite:    "write",
	OpSync:     "sync",
	OpTruncate: "truncate",
	OpSize:     "size",
	OpClose:    "close",
	OpAllocate: "allocate",
}

// String returns the lower-case name of k, as used in the Op field of the
// errors a Faulty returns.
func (k OpKind) String() string {
	if int(k) < len(opKindNames) && opKindNames[k] != "" {
		return opKindNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op describes one operation of a [Faulty] file system.
type Op struct {
	N       int    // its number: the first operation is 1
	Kind    OpKind // what it is
	Path    string // the path it names; a file's Name for file operations
	NewPath string // the target of a Rename; empty for other kinds
}

// Faulty is an FS wrapping another one that numbers its operations and can
// inject errors or a simulated crash at chosen operations.
//
// Every call of an FS method and of a method of a File or lock Closer it
// returned, except File.Name, is one operation. Operations are numbered
// from 1 in the order they start. An operation that fails by injection
// returns an *[fs.PathError] whose Op is its kind's String, whose Path is
// its path, and which wraps the injected error.
//
// A Faulty is safe for concurrent use.
type Faulty struct {
	inner FS
	n     atomic.Int64 // operations started

	mu        sync.Mutex
	injectors []func(Op) error
	crashAt   int
	crashOpts CrashOptions
	crashing  bool // the crash is being taken: later operations fail
	crashed   *Mem

	// inflight is held for reading by every operation while it runs on the
	// inner file system, and for writing while the crash clone is taken, so
	// the clone holds the effect of every operation that reported success
	// and of none that will run after it.
	inflight sync.RWMutex
}

// NewFaulty returns a Faulty wrapping inner. It injects nothing until told
// to.
func NewFaulty(inner FS) *Faulty {
	return &Faulty{inner: inner}
}

// Ops returns the number of operations started so far.
func (f *Faulty) Ops() int { return int(f.n.Load()) }

// FailWhen adds an injector: fn is called as each operation starts, and if
// it returns a non-nil error the operation fails with that error without
// doing its work, except that a failing Write or WriteAt first writes the
// first half of its data (rounded down), returning that count, as a short
// write would. Injectors are consulted in the order they were added; the
// first error wins. fn is called without locks held and may be called
// concurrently.
func (f *Faulty) FailWhen(fn func(Op) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injectors = append(slices.Clip(f.injectors), fn)
}

// FailAt makes operation number n, and only it, fail with err, as
// described at [Faulty.FailWhen].
func (f *Faulty) FailAt(n int, err error) {
	f.FailWhen(func(op Op) error {
		if op.N == n {
			return err
		}
		return nil
	})
}

// CrashAt makes operation number n crash the file system: as it starts,
// before it does anything, Faulty takes a [Mem.CrashClone] of the inner
// file system (with the options of [Faulty.SetCrashOptions]), which
// [Faulty.Crashed] returns from then on. Operation n and every later one,
// on the file system or on any file, fails with an error matching
// [ErrCrashed] without touching the inner file system, except that Close
// still releases the inner file or lock. (An operation that started before
// operation n still completes normally.) CrashAt panics if the inner file
// system is not a *Mem.
func (f *Faulty) CrashAt(n int) {
	f.mem()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashAt = n
}

// SetCrashOptions sets the options used to take the crash clone.
func (f *Faulty) SetCrashOptions(opts CrashOptions) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashOpts = opts
}

// Crash crashes the file system now, as [Faulty.CrashAt] does when its
// operation starts, and returns the clone. If the file system had already
// crashed, Crash returns the clone taken then. It panics if the inner file
// system is not a *Mem.
func (f *Faulty) Crash() *Mem {
	f.mem()
	f.mu.Lock()
	trigger := f.crashed == nil && !f.crashing
	f.crashing = true
	f.mu.Unlock()
	if trigger {
		f.takeCrash()
	}
	f.inflight.Lock() // wait for a crash another goroutine is taking
	//lint:ignore SA2001 the empty section is the wait
	f.inflight.Unlock()
	return f.Crashed()
}

// Crashed returns the disk as it was left by the crash, or nil if the file
// system has not crashed.
func (f *Faulty) Crashed() *Mem {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

func (f *Faulty) mem() *Mem {
	m, ok := f.inner.(*Mem)
	if !ok {
		panic(fmt.Sprintf("vfs: Faulty crash simulation needs a *vfs.Mem inner FS, not %T", f.inner))
	}
	return m
}

// begin starts an operation. If crashed is false, the operation holds
// f.inflight for reading and must call f.end when it is done with the inner
// file system, whether or not err (an injected error) is nil. If crashed is
// true, err matches ErrCrashed and the operation must not touch the inner
// file system at all.
func (f *Faulty) begin(kind OpKind, path, newPath string) (crashed bool, err error) {
	op := Op{N: int(f.n.Add(1)), Kind: kind, Path: path, NewPath: newPath}
	f.inflight.RLock()
	f.mu.Lock()
	trigger := f.crashed == nil && !f.crashing && f.crashAt > 0 && op.N >= f.crashAt
	if trigger {
		f.crashing = true
	}
	crashed = f.crashing
	injectors := f.injectors
	f.mu.Unlock()
	if crashed {
		f.inflight.RUnlock()
		if trigger {
			f.takeCrash()
		}
		return true, &fs.PathError{Op: kind.String(), Path: path, Err: ErrCrashed}
	}
	for _, fn := range injectors {
		if err := fn(op); err != nil {
			return false, &fs.PathError{Op: kind.String(), Path: path, Err: err}
		}
	}
	return false, nil
}

// end ends an operation that begin did not fail with a crash.
func (f *Faulty) end() { f.inflight.RUnlock() }

// run is one operation: begin, then fn on the inner file system unless a
// crash or an injected error fails the operation, then end.
func (f *Faulty) run(kind OpKind, path, newPath string, fn func() error) error {
	crashed, err := f.begin(kind, path, newPath)
	if crashed {
		return err
	}
	defer f.end()
	if err != nil {
		return err
	}
	return fn()
}

// takeCrash waits for the operations in flight, then takes the clone.
func (f *Faulty) takeCrash() {
	f.inflight.Lock()
	defer f.inflight.Unlock()
	f.mu.Lock()
	opts := f.crashOpts
	f.mu.Unlock()
	clone := f.mem().CrashClone(opts)
	f.mu.Lock()
	f.crashed = clone
	f.mu.Unlock()
}

// OpenFile opens name in the inner file system.
func (f *Faulty) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	var file File
	err := f.run(OpOpen, name, "", func() (err error) { file, err = f.inner.OpenFile(name, flag, perm); return err })
	if err != nil {
		return nil, err
	}
	return &faultyFile{fs: f, f: file}, nil
}

// Mkdir creates a directory in the inner file system.
func (f *Faulty) Mkdir(name string, perm fs.FileMode) error {
	return f.run(OpMkdir, name, "", func() error { return f.inner.Mkdir(name, perm) })
}

// Remove removes name from the inner file system.
func (f *Faulty) Remove(name string) error {
	return f.run(OpRemove, name, "", func() error { return f.inner.Remove(name) })
}

// Rename renames oldpath in the inner file system. An injected error's Path
// is oldpath.
func (f *Faulty) Rename(oldpath, newpath string) error {
	return f.run(OpRename, oldpath, newpath, func() error { return f.inner.Rename(oldpath, newpath) })
}

// Stat describes name in the inner file system.
func (f *Faulty) Stat(name string) (info fs.FileInfo, err error) {
	err = f.run(OpStat, name, "", func() (err error) { info, err = f.inner.Stat(name); return err })
	return info, err
}

// ReadDir lists dir in the inner file system.
func (f *Faulty) ReadDir(dir string) (names []string, err error) {
	err = f.run(OpReadDir, dir, "", func() (err error) { names, err = f.inner.ReadDir(dir); return err })
	return names, err
}

// SyncDir syncs dir in the inner file system.
func (f *Faulty) SyncDir(dir string) error {
	return f.run(OpSyncDir, dir, "", func() error { return f.inner.SyncDir(dir) })
}

// Lock locks name in the inner file system. Closing the returned Closer is
// an operation too; it releases the inner lock even when it fails.
func (f *Faulty) Lock(name string) (io.Closer, error) {
	var c io.Closer
	err := f.run(OpLock, name, "", func() (err error) { c, err = f.inner.Lock(name); return err })
	if err != nil {
		return nil, err
	}
	return &faultyCloser{fs: f, c: c, name: name}, nil
}

type faultyCloser struct {
	fs   *Faulty
	c    io.Closer
	name string
}

func (c *faultyCloser) Close() error {
	crashed, err := c.fs.begin(OpClose, c.name, "")
	if !crashed {
		defer c.fs.end()
	}
	if cerr := c.c.Close(); err == nil {
		err = cerr
	}
	return err
}

// faultyFile is a File of a Faulty file system.
type faultyFile struct {
	fs *Faulty
	f  File
}

func (w *faultyFile) Name() string { return w.f.Name() }

func (w *faultyFile) Read(p []byte) (n int, err error) {
	err = w.fs.run(OpRead, w.f.Name(), "", func() (err error) { n, err = w.f.Read(p); return err })
	return n, err
}

func (w *faultyFile) ReadAt(p []byte, off int64) (n int, err error) {
	err = w.fs.run(OpRead, w.f.Name(), "", func() (err error) { n, err = w.f.ReadAt(p, off); return err })
	return n, err
}

func (w *faultyFile) Write(p []byte) (int, error) {
	crashed, err := w.fs.begin(OpWrite, w.f.Name(), "")
	if crashed {
		return 0, err
	}
	defer w.fs.end()
	if err != nil {
		n, _ := w.f.Write(p[:len(p)/2])
		return n, err
	}
	return w.f.Write(p)
}

func (w *faultyFile) WriteAt(p []byte, off int64) (int, error) {
	crashed, err := w.fs.begin(OpWrite, w.f.Name(), "")
	if crashed {
		return 0, err
	}
	defer w.fs.end()
	if err != nil {
		n, _ := w.f.WriteAt(p[:len(p)/2], off)
		return n, err
	}
	return w.f.WriteAt(p, off)
}

// WriteVecAt is one OpWrite. A failing one first writes the first half
// of the buffers' bytes (rounded down), as WriteAt does.
func (w *faultyFile) WriteVecAt(bufs [][]byte, off int64) (int, error) {
	crashed, err := w.fs.begin(OpWrite, w.f.Name(), "")
	if crashed {
		return 0, err
	}
	defer w.fs.end()
	if err != nil {
		total := 0
		for _, b := range bufs {
			total += len(b)
		}
		n, _ := WriteVecAt(w.f, firstBytes(bufs, total/2), off)
		return n, err
	}
	return WriteVecAt(w.f, bufs, off)
}

// firstBytes returns the buffers holding the first n bytes of bufs.
func firstBytes(bufs [][]byte, n int) [][]byte {
	var out [][]byte
	for _, b := range bufs {
		if n <= 0 {
			break
		}
		b = b[:min(len(b), n)]
		out = append(out, b)
		n -= len(b)
	}
	return out
}

// Allocate is one OpAllocate; it allocates in the inner file system, or
// fails with errors.ErrUnsupported as the inner file does.
func (w *faultyFile) Allocate(off, n int64) error {
	return w.fs.run(OpAllocate, w.f.Name(), "", func() error { return Allocate(w.f, off, n) })
}

// Sync syncs the file in the inner file system. An injected failure does
// what Linux does when fsync fails: the file's dirty pages are marked clean
// (a Mem file loses its unsynced changes, see memFile.loseUnsynced), so a
// later Sync that succeeds does not make them durable. A store that ignored
// the error would lose data it acknowledged, and the tests see it.
func (w *faultyFile) Sync() error {
	crashed, err := w.fs.begin(OpSync, w.f.Name(), "")
	if crashed {
		return err
	}
	defer w.fs.end()
	if err != nil {
		if m, ok := w.f.(*memFile); ok {
			m.loseUnsynced()
		}
		return err
	}
	return w.f.Sync()
}

func (w *faultyFile) Truncate(size int64) error {
	return w.fs.run(OpTruncate, w.f.Name(), "", func() error { return w.f.Truncate(size) })
}

func (w *faultyFile) Size() (size int64, err error) {
	err = w.fs.run(OpSize, w.f.Name(), "", func() (err error) { size, err = w.f.Size(); return err })
	return size, err
}

// Close closes the inner file even when the operation fails.
func (w *faultyFile) Close() error {
	crashed, err := w.fs.begin(OpClose, w.f.Name(), "")
	if !crashed {
		defer w.fs.end()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
