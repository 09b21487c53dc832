// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/vfs"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writers recycles the buffers between a codec and a state file.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}

const (
	bufSize  = 1 << 20 // between the codec and the file, both ways
	dirPerm  = 0o755
	filePerm = 0o644
)

// Create writes state, encoded with the Store's codec, as the snapshot
// covering sequence number seq. When Create returns nil the snapshot is
// durable: a crash at any later moment restores it or a newer one. When it
// returns an error, Restore returns the previous snapshot, or the new one if
// the failure came after it was published (see CreateFrom).
func (s *Store) Create(state any, seq uint64) error {
	return s.CreateFrom(seq, func(w io.Writer) error {
		return s.codec.Encode(w, state)
	})
}

// CreateFrom is Create for a state the caller streams: write must write the
// encoded state to w and return nil. The bytes are stored as they are,
// recorded as written by the Store's codec, so Restore can decode them if
// write used that codec, and RestoreTo hands them back verbatim either way.
// w is buffered; write need not buffer.
//
// seq must not be below the newest snapshot's (ErrOutOfOrder). Creating the
// same seq again is allowed: the new snapshot supersedes the old one.
//
// Steps, each a point a crash may interrupt: write the state, snapshot.seq
// and meta.json into a temporary directory, fsync each file, fsync the
// temporary directory, rename it to its final name, fsync DIR. The rename
// publishes the snapshot; the last fsync makes it durable, and Create then
// removes the snapshots beyond Options.Keep. A failure before the rename
// removes the temporary directory (or leaves it for Open to remove) and
// changes nothing else. A failure after it is reported as an error even
// though the new snapshot may already be the one Restore returns; the
// previous snapshots still restore either way.
func (s *Store) CreateFrom(seq uint64, write func(w io.Writer) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.readOnly {
		return ErrReadOnly
	}
	es, err := s.scan()
	if err != nil {
		return err
	}
	var gen uint64
	if len(es) > 0 {
		newest := es[0]
		if newest.legacy {
			if info, err := s.legacyInfo(); err == nil {
				newest.seq = info.Seq
			}
		}
		if seq < newest.seq {
			return fmt.Errorf("%w: create seq %d, newest is %d", ErrOutOfOrder, seq, newest.seq)
		}
		if seq == newest.seq && !newest.rust() {
			gen = newest.gen + 1
		}
	}
	if err := vfs.MkdirAll(s.fs, s.dir, dirPerm); err != nil {
		return fmt.Errorf("minisnap: create %s: %w", s.dir, err)
	}
	if s.lock == nil {
		if err := s.takeLock(); err != nil {
			return err
		}
	}
	tmp, err := s.mkTemp("snap", seq)
	if err != nil {
		return err
	}
	if err := s.writeSnapshot(tmp, seq, write); err != nil {
		_ = backup.RemoveAll(s.fs, tmp) // best effort; Open removes it otherwise
		return err
	}
	name := dirName(seq, gen)
	if err := s.fs.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		_ = backup.RemoveAll(s.fs, tmp)
		return fmt.Errorf("minisnap: publish snapshot %d: %w", seq, err)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("minisnap: publish snapshot %d: sync %s: %w", seq, s.dir, err)
	}
	if err := s.prune(append([]entry{{name: name, seq: seq, gen: gen}}, es...)); err != nil {
		return fmt.Errorf("minisnap: snapshot %d is durable, but removing old snapshots failed: %w", seq, err)
	}
	return nil
}

// mkTemp creates a fresh temporary directory in s.dir for kind and seq.
func (s *Store) mkTemp(kind string, seq uint64) (string, error) {
	for {
		path := filepath.Join(s.dir, tmpPrefix+kind+"-"+strconv.FormatUint(seq, 10)+"-"+rand.Text()[:8])
		err := s.fs.Mkdir(path, dirPerm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("minisnap: create temporary directory: %w", err)
		}
		return path, nil
	}
}

// writeSnapshot fills the temporary directory tmp and makes it durable.
func (s *Store) writeSnapshot(tmp string, seq uint64, write func(io.Writer) error) error {
	stateName := "snapshot" + s.codec.Ext()
	size, crc, err := s.writeFile(filepath.Join(tmp, stateName), func(w io.Writer) error {
		var bw *bufio.Writer
		if s.buf == bufSize {
			bw = writers.Get().(*bufio.Writer)
			defer func() {
				bw.Reset(nil)
				writers.Put(bw)
			}()
			bw.Reset(w)
		} else {
			bw = bufio.NewWriterSize(w, s.buf)
		}
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("minisnap: write snapshot %d: %w", seq, err)
	}
	m := meta{
		Format:  formatVersion,
		Seq:     seq,
		Codec:   s.codec.Name(),
		File:    stateName,
		Size:    size,
		CRC32C:  formatCRC(crc),
		Created: time.Now().UTC(),
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{seqName, strconv.AppendUint(nil, seq, 10)},
		{metaName, m.encode()},
	} {
		if _, _, err := s.writeFile(filepath.Join(tmp, f.name), func(w io.Writer) error {
			_, err := w.Write(f.data)
			return err
		}); err != nil {
			return fmt.Errorf("minisnap: write snapshot %d: %w", seq, err)
		}
	}
	if err := s.fs.SyncDir(tmp); err != nil {
		return fmt.Errorf("minisnap: write snapshot %d: %w", seq, err)
	}
	return nil
}

// writeFile creates path, lets write fill it, fsyncs and closes it. It
// returns the number of bytes written and their CRC-32C.
func (s *Store) writeFile(path string, write func(io.Writer) error) (int64, uint32, error) {
	f, err := s.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return 0, 0, err
	}
	hw := &hashWriter{w: f}
	err = write(hw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return hw.n, hw.crc, nil
}

// hashWriter counts and checksums what passes through it, stopping at the
// first error so a failed write is never retried into a gap.
type hashWriter struct {
	w   io.Writer
	n   int64
	crc uint32
	err error
}

func (h *hashWriter) Write(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	n, err := h.w.Write(p)
	h.crc = crc32.Update(h.crc, castagnoli, p[:n])
	h.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	h.err = err
	return n, err
}

// prune removes the Go snapshots in es (newest first, the new one included)
// beyond s.keep, oldest first. Each is first renamed to a temporary name and
// DIR is synced, so a crash never leaves a half-deleted snapshot under a
// snapshot name; Open removes what the crash left.
func (s *Store) prune(es []entry) error {
	if s.keep < 0 {
		return nil
	}
	var old []entry
	kept := 0
	for _, e := range es {
		if e.rust() {
			continue
		}
		if kept < s.keep {
			kept++
			continue
		}
		old = append(old, e)
	}
	if len(old) == 0 {
		return nil
	}
	for i := len(old) - 1; i >= 0; i-- {
		e := old[i]
		trash := filepath.Join(s.dir, tmpPrefix+"del-"+e.name)
		if err := s.fs.Rename(filepath.Join(s.dir, e.name), trash); err != nil {
			return err
		}
		if err := s.fs.SyncDir(s.dir); err != nil {
			return err
		}
		if err := backup.RemoveAll(s.fs, trash); err != nil {
			return err
		}
	}
	return s.fs.SyncDir(s.dir)
}
