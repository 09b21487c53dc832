// SPDX-License-Identifier: MIT OR Apache-2.0

//go:build !unix

package vfs

import "os"

func lockFile(f *os.File) error { return nil } // advisory locking is not implemented here

func syncData(f *os.File) error { return f.Sync() }
