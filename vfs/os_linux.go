// SPDX-License-Identifier: MIT OR Apache-2.0

package vfs

import (
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// maxIovecs is how many buffers one pwritev(2) takes (IOV_MAX on Linux).
const maxIovecs = 1024

// WriteVecAt writes bufs at off with pwritev(2), as many calls as the
// buffers need (IOV_MAX a call, and again after a short write).
func (f osFile) WriteVecAt(bufs [][]byte, off int64) (int, error) {
	total := 0
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	if len(bufs) == 1 { // one buffer: no need for a vector
		n, err := f.File.WriteAt(bufs[0], off)
		return n, err
	}
	rc, err := f.File.SyscallConn()
	if err != nil {
		return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	var werr error
	cerr := rc.Write(func(fd uintptr) bool {
		for len(bufs) > 0 {
			chunk := bufs[:min(len(bufs), maxIovecs)]
			n, err := unix.Pwritev(int(fd), chunk, off+int64(total))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return true
			}
			if n == 0 {
				werr = io.ErrShortWrite
				return true
			}
			total += n
			bufs = skip(bufs, n)
		}
		return true
	})
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		return total, &fs.PathError{Op: "write", Path: f.Name(), Err: werr}
	}
	return total, nil
}

// skip returns bufs without their first n bytes. It does not change the
// caller's slice: a buffer written in part starts a new one.
func skip(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			rest := make([][]byte, len(bufs))
			copy(rest, bufs)
			rest[0] = rest[0][n:]
			return rest
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	return bufs
}

// Allocate reserves [off, off+n) with fallocate(2) mode 0: on ext4, XFS and
// btrfs the blocks are allocated as unwritten extents, which read as zeros
// and cost no write of zeros.
func (f osFile) Allocate(off, n int64) error {
	rc, err := f.File.SyscallConn()
	if err != nil {
		return &fs.PathError{Op: "allocate", Path: f.Name(), Err: err}
	}
	var aerr error
	cerr := rc.Control(func(fd uintptr) {
		for {
			aerr = unix.Fallocate(int(fd), 0, off, n)
			if aerr != unix.EINTR {
				return
			}
		}
	})
	if aerr == nil {
		aerr = cerr
	}
	if aerr != nil {
		return &fs.PathError{Op: "allocate", Path: f.Name(), Err: aerr}
	}
	return nil
}
