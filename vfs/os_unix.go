// SPDX-License-Identifier: MIT OR Apache-2.0

//go:build unix

package vfs

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

func lockFile(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}

// syncData flushes the file's data and the metadata needed to read it back
// (its size), which is what fdatasync promises; Darwin's fsync does not reach
// the platter, so there F_FULLFSYNC is used through os.File.Sync.
func syncData(f *os.File) error {
	if err := fdatasync(f); err != nil {
		return &fs.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
	return nil
}
