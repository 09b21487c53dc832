// SPDX-License-Identifier: MIT OR Apache-2.0

//go:build !plan9

package vfs

import "syscall"

// Errors that Mem reports as the operating system would; plan9 lacks these
// errnos.
var (
	errBadFD      error = syscall.EBADF
	errFileTooBig error = syscall.EFBIG
	errNotEmpty   error = syscall.ENOTEMPTY
)
