package miniqueue

import (
	"io"
	"io/fs"
	"sync"

	"github.com/mini-go/mini/internal/vfs"
)

// serialFS runs every call into the file system underneath one at a time.
//
// vfs.Faulty takes its crash image as operation n starts, and lets the
// operations that started earlier finish on the live disk. With concurrent
// callers, an fsync that started just before the crash can then complete,
// and report success, after the image was taken: the caller is told
// something is durable that the crashed disk does not hold, which a real
// power loss never does. Over a serialFS no operation is under way when
// the image is taken, so every operation either happened before the crash
// or fails.
type serialFS struct {
	mu    *sync.Mutex
	inner vfs.FS
}

func newSerialFS(inner vfs.FS) serialFS { return serialFS{mu: new(sync.Mutex), inner: inner} }

func (s serialFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return serialFile{mu: s.mu, f: f}, nil
}

func (s serialFS) Mkdir(name string, perm fs.FileMode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inner.Mkdir(name, perm)
}

func (s serialFS) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inner.Remove(name)
}

func (s serialFS) Rename(oldpath, newpath string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inner.Rename(oldpath, newpath)
}

func (s serialFS) Stat(name string) (fs.FileInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inner.Stat(name)
}

func (s serialFS) ReadDir(dir string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inner.ReadDir(dir)
}

func (s serialFS) SyncDir(dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inner.SyncDir(dir)
}

func (s serialFS) Lock(name string) (io.Closer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.inner.Lock(name)
	if err != nil {
		return nil, err
	}
	return serialCloser{mu: s.mu, c: c}, nil
}

type serialCloser struct {
	mu *sync.Mutex
	c  io.Closer
}

func (c serialCloser) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.Close()
}

type serialFile struct {
	mu *sync.Mutex
	f  vfs.File
}

func (f serialFile) Name() string { return f.f.Name() }

func (f serialFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Read(p)
}

func (f serialFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.ReadAt(p, off)
}

func (f serialFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Write(p)
}

func (f serialFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.WriteAt(p, off)
}

func (f serialFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Close()
}

func (f serialFile) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Sync()
}

func (f serialFile) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Truncate(size)
}

func (f serialFile) Size() (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Size()
}
