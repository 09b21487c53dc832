// SPDX-License-Identifier: MIT OR Apache-2.0

package vfs

import "errors"

// Errors that Mem reports where other systems have an errno.
var (
	errBadFD      = errors.New("bad file descriptor")
	errFileTooBig = errors.New("file too large")
	errNotEmpty   = errors.New("directory not empty")
)
