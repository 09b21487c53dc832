// SPDX-License-Identifier: MIT OR Apache-2.0

// Package vfs is the file-system seam of the mini packages: every byte they
// read or write, and every create, rename, delete and fsync, goes through an
// FS. Production code uses [OS]; tests use [Mem], which can simulate a power
// loss (forget everything that was not fsync'd), and [Faulty], which injects
// I/O errors or a crash at the Nth operation.
//
// The interface is deliberately narrow. Durability rules are the caller's:
// a new or renamed directory entry is durable only after [FS.SyncDir] of its
// parent, and file data only after [File.Sync].
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
