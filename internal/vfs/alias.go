// SPDX-License-Identifier: MIT OR Apache-2.0

// Package vfs is the old home of the file-system seam, now the public
// package github.com/mini-go/mini/vfs. It only forwards to it, for code
// written before the move; it goes away once nothing imports it.
package vfs

import pub "github.com/mini-go/mini/vfs"

type (
	FS             = pub.FS
	File           = pub.File
	Mem            = pub.Mem
	Faulty         = pub.Faulty
	CrashOptions   = pub.CrashOptions
	Op             = pub.Op
	OpKind         = pub.OpKind
	Allocator      = pub.Allocator
	VectorWriterAt = pub.VectorWriterAt
)

const (
	OpOpen     = pub.OpOpen
	OpMkdir    = pub.OpMkdir
	OpRemove   = pub.OpRemove
	OpRename   = pub.OpRename
	OpStat     = pub.OpStat
	OpReadDir  = pub.OpReadDir
	OpSyncDir  = pub.OpSyncDir
	OpLock     = pub.OpLock
	OpRead     = pub.OpRead
	OpWrite    = pub.OpWrite
	OpSync     = pub.OpSync
	OpTruncate = pub.OpTruncate
	OpSize     = pub.OpSize
	OpClose    = pub.OpClose
	OpAllocate = pub.OpAllocate
)

var (
	ErrCrashed = pub.ErrCrashed
	ErrLocked  = pub.ErrLocked
	OS         = pub.OS
	Allocate   = pub.Allocate
	Exists     = pub.Exists
	Lstat      = pub.Lstat
	MkdirAll   = pub.MkdirAll
	ReadFile   = pub.ReadFile
	WriteVecAt = pub.WriteVecAt
	NewFaulty  = pub.NewFaulty
	NewMem     = pub.NewMem
)
