// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"io/fs"

	"github.com/mini-go/mini/vfs"
)

// renamedFile is a file created under a temporary name and then renamed:
// the errors of its operations name the file as it is now called, not the
// temporary name the operating system remembers (NAME.tmp no longer
// exists).
type renamedFile struct {
	vfs.File
	name string
}

// renamed returns f, whose errors name the file name.
func renamed(f vfs.File, name string) vfs.File {
	if f.Name() == name {
		return f
	}
	return &renamedFile{File: f, name: name}
}

func (f *renamedFile) fix(err error) error {
	if e, ok := err.(*fs.PathError); ok && e.Path != f.name {
		return &fs.PathError{Op: e.Op, Path: f.name, Err: e.Err}
	}
	return err
}

// fixN is fix for the results of a call that returns a count.
func (f *renamedFile) fixN(n int, err error) (int, error) { return n, f.fix(err) }

func (f *renamedFile) Name() string                            { return f.name }
func (f *renamedFile) Read(b []byte) (int, error)              { return f.fixN(f.File.Read(b)) }
func (f *renamedFile) ReadAt(b []byte, off int64) (int, error) { return f.fixN(f.File.ReadAt(b, off)) }
func (f *renamedFile) Write(b []byte) (int, error)             { return f.fixN(f.File.Write(b)) }
func (f *renamedFile) WriteAt(b []byte, off int64) (int, error) {
	return f.fixN(f.File.WriteAt(b, off))
}
func (f *renamedFile) Sync() error               { return f.fix(f.File.Sync()) }
func (f *renamedFile) Truncate(size int64) error { return f.fix(f.File.Truncate(size)) }
func (f *renamedFile) Close() error              { return f.fix(f.File.Close()) }

func (f *renamedFile) WriteVecAt(bufs [][]byte, off int64) (int, error) {
	return f.fixN(vfs.WriteVecAt(f.File, bufs, off))
}

func (f *renamedFile) Size() (int64, error) {
	n, err := f.File.Size()
	return n, f.fix(err)
}
