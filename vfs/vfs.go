// SPDX-License-Identifier: MIT OR Apache-2.0

package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrLocked is returned by [FS.Lock] when another holder has the lock.
var ErrLocked = errors.New("vfs: locked by another process")

// FS is a file system.
type FS interface {
	// OpenFile opens name with the os.O_* flags and, when creating, perm.
	// Supported flags: O_RDONLY, O_RDWR, O_WRONLY, O_CREATE, O_EXCL, O_TRUNC.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Mkdir creates one directory. It does not sync the parent.
	Mkdir(name string, perm fs.FileMode) error
	// Remove deletes a file or an empty directory. It does not sync the parent.
	Remove(name string) error
	// Rename atomically replaces newpath with oldpath. It syncs nothing.
	Rename(oldpath, newpath string) error
	// Stat describes name.
	Stat(name string) (fs.FileInfo, error)
	// ReadDir lists the names in dir, sorted.
	ReadDir(dir string) ([]string, error)
	// SyncDir makes the entries of dir (creates, renames, deletes) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive advisory lock on the file name (created if
	// needed) without waiting: it fails with an error matching ErrLocked if
	// another holder, in this process or another, has it. Closing the
	// returned Closer releases the lock.
	Lock(name string) (io.Closer, error)
}

// File is an open file.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	// Sync makes the file's data and size durable (fdatasync where available).
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Size is the file's current size.
	Size() (int64, error)
	// Name is the name the file was opened with.
	Name() string
}

// MkdirAll creates dir and any missing parents, and makes the whole path
// durable: it syncs every parent on the way, whether or not this call
// created the directory in it. (A directory an earlier call created, whose
// parent's sync then failed, exists now but may vanish in a power loss;
// syncing again is the only way to know it will not.) It does not sync dir
// itself.
func MkdirAll(fsys FS, dir string, perm fs.FileMode) error {
	dir = filepath.Clean(dir)
	info, err := fsys.Stat(dir)
	if err == nil && !info.IsDir() {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: errors.New("not a directory")}
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(fsys, parent, perm); err != nil {
			return err
		}
	}
	if err != nil { // dir does not exist
		if err := fsys.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	if parent == dir {
		return nil
	}
	return fsys.SyncDir(parent)
}

// ReadFile reads a whole file.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	n, err := f.ReadAt(buf, 0)
	if err == io.EOF && int64(n) == size {
		err = nil
	}
	return buf[:n], err
}

// Lstat describes name without following a symbolic link, if fsys has
// symbolic links (it has a method Lstat, as OS does); otherwise it is
// fsys.Stat.
func Lstat(fsys FS, name string) (fs.FileInfo, error) {
	if l, ok := fsys.(interface {
		Lstat(name string) (fs.FileInfo, error)
	}); ok {
		return l.Lstat(name)
	}
	return fsys.Stat(name)
}

// Exists reports whether name exists. Errors other than "does not exist"
// are returned.
func Exists(fsys FS, name string) (bool, error) {
	_, err := fsys.Stat(name)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// VectorWriterAt is implemented by a [File] that can write several buffers
// at an offset with one call (pwritev(2) on Linux). Use [WriteVecAt], which
// falls back to WriteAt for a File without it.
type VectorWriterAt interface {
	// WriteVecAt writes the buffers one after another at off, as one
	// WriteAt of their concatenation would. It returns the number of bytes
	// written, and an error when that is less than their total.
	WriteVecAt(bufs [][]byte, off int64) (int, error)
}

// WriteVecAt writes bufs one after another at off: with one call when f is
// a [VectorWriterAt], else with one WriteAt a buffer. It returns the number
// of bytes written, and an error when that is less than their total. Like
// a WriteAt, it is not atomic across a crash: any part of it can be lost
// until [File.Sync].
func WriteVecAt(f File, bufs [][]byte, off int64) (int, error) {
	if v, ok := f.(VectorWriterAt); ok {
		return v.WriteVecAt(bufs, off)
	}
	return writeEach(f, bufs, off)
}

// writeEach writes bufs with one WriteAt a buffer.
func writeEach(f io.WriterAt, bufs [][]byte, off int64) (int, error) {
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := f.WriteAt(b, off+int64(total))
		total += n
		if err == nil && n < len(b) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Allocator is implemented by a [File] that can reserve space without
// writing it (fallocate(2) on Linux). Use [Allocate].
type Allocator interface {
	// Allocate is described at [Allocate].
	Allocate(off, n int64) error
}

// Allocate reserves the bytes [off, off+n) of f and makes its size at least
// off+n, without writing them where the file system can: the new bytes read
// as zeros, and a crash before the next [File.Sync] leaves the old size or
// the new one, never anything but zeros past the old end. It never shrinks
// the file or changes its bytes. It fails with an error matching
// [errors.ErrUnsupported] when f, or the file system under it, cannot.
func Allocate(f File, off, n int64) error {
	if a, ok := f.(Allocator); ok {
		return a.Allocate(off, n)
	}
	return &fs.PathError{Op: "allocate", Path: f.Name(), Err: errors.ErrUnsupported}
}
