// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/vfs"
)

// Store keeps the snapshots of one directory. Create one with Open. A Store
// is safe for concurrent use; Create calls are serialized, restores run in
// parallel with each other but not with Create.
type Store struct {
	dir      string
	fs       vfs.FS
	codec    Codec
	keep     int
	buf      int // size of the buffers between codec and file; bufSize but in tests
	readOnly bool

	mu     sync.RWMutex
	closed bool
	lock   io.Closer // held while the Store may write; nil until the directory exists
}

// lockName is the advisory lock a writing Store holds in its directory.
const lockName = ".minisnap.lock"

// Open returns a Store for the snapshots in dir. The directory need not
// exist: Create makes it (and its missing parents) on first use, so Open on
// a missing directory succeeds and Exists reports false.
//
// Unless Options.ReadOnly is set, a Store takes an advisory lock on the
// directory (the file .minisnap.lock in it) when the directory exists, or
// at the first Create otherwise, and holds it until Close: a second writing
// Store on the same directory, in this process or another, fails with
// ErrLocked. Under the lock, Open removes what a crash may have left
// behind: temporary directories of an unfinished Create or of an
// interrupted removal of old snapshots. They are never part of a published
// snapshot.
func Open(dir string, opts *Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("minisnap: empty directory name")
	}
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	s := &Store{dir: filepath.Clean(dir), fs: o.FS, codec: o.Codec, keep: o.Keep, buf: bufSize, readOnly: o.ReadOnly}
	if s.readOnly {
		return s, nil
	}
	if ok, err := vfs.Exists(s.fs, s.dir); err != nil {
		return nil, fmt.Errorf("minisnap: open %s: %w", s.dir, err)
	} else if !ok {
		return s, nil // locked by the first Create
	}
	if err := s.takeLock(); err != nil {
		return nil, err
	}
	return s, nil
}

// takeLock takes the directory's lock and removes leftovers. Called with
// the directory in place and, after Open, with s.mu held.
func (s *Store) takeLock() error {
	lock, err := s.fs.Lock(filepath.Join(s.dir, lockName))
	if errors.Is(err, vfs.ErrLocked) {
		return fmt.Errorf("%w: %s", ErrLocked, s.dir)
	}
	if err != nil {
		return fmt.Errorf("minisnap: lock %s: %w", s.dir, err)
	}
	if err := s.removeLeftovers(); err != nil {
		lock.Close()
		return err
	}
	s.lock = lock
	return nil
}

// Dir returns the directory the Store was opened on (cleaned).
func (s *Store) Dir() string { return s.dir }

// Close marks the Store closed, so later calls return ErrClosed, and
// releases the directory's lock. It waits for calls in progress.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.lock != nil {
		return s.lock.Close()
	}
	return nil
}

// Exists reports whether the directory holds at least one snapshot (Go or
// legacy). It does not verify it; Restore does. It reports false when the
// Store is closed or the directory cannot be listed, so do not use it to
// choose how to recover: call Restore and test its error for ErrNotFound.
func (s *Store) Exists() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false
	}
	es, err := s.scan()
	return err == nil && len(es) > 0
}

// List describes the snapshots in the directory, newest first: the Go
// snapshots by sequence number (a repeated sequence number lists the later
// Create first), then the legacy snapshot if there is one. It reads each
// snapshot's metadata only; a snapshot whose metadata is damaged is listed
// with Info.Err set.
func (s *Store) List() ([]Info, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	es, err := s.scan()
	if err != nil {
		return nil, err
	}
	infos := make([]Info, len(es))
	for i, e := range es {
		infos[i] = s.info(e)
	}
	return infos, nil
}

// removeLeftovers deletes the temporary directories in s.dir, then makes
// the deletions durable.
func (s *Store) removeLeftovers() error {
	names, err := s.fs.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("minisnap: open %s: %w", s.dir, err)
	}
	removed := false
	for _, name := range names {
		if !strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		if err := backup.RemoveAll(s.fs, filepath.Join(s.dir, name)); err != nil {
			return fmt.Errorf("minisnap: remove leftover %s: %w", name, err)
		}
		removed = true
	}
	if removed {
		if err := s.fs.SyncDir(s.dir); err != nil {
			return fmt.Errorf("minisnap: open %s: %w", s.dir, err)
		}
	}
	return nil
}
