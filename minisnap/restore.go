// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
)

// Restore decodes the newest snapshot into state, which must be a non-nil
// pointer (as for json.Unmarshal), and returns its sequence number.
//
// The state is decoded into a fresh zero value and stored into *state only
// when the whole snapshot has been read and its checksum verified: on any
// error *state is unchanged, and on success it holds exactly the snapshot
// (nothing is merged with what *state held before).
//
// Errors: ErrNotFound if there is no snapshot; a *CorruptError (matching
// ErrCorrupt) naming the damaged file if the newest snapshot does not
// verify — Restore never silently returns an older one, use
// RestoreLatestGood for that; a decode error from the codec if the bytes
// verify but do not fit state.
func (s *Store) Restore(state any) (seq uint64, err error) {
	target, err := checkTarget(state)
	if err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	es, err := s.entries()
	if err != nil {
		return 0, err
	}
	return s.restoreEntry(es[0], target)
}

// RestoreLatestGood is Restore that falls back: it tries the snapshots
// newest first and restores the first that verifies. skipped lists the
// damaged snapshots it passed over, newest first; when it is not empty the
// returned seq is older than the newest snapshot, so the caller must replay
// its log from there (and must not have discarded that part of it).
//
// Only corruption makes it fall back. Any other error (an I/O error, a
// state that does not decode) is returned at once. If every snapshot is
// damaged, err matches ErrCorrupt and joins the skipped errors.
func (s *Store) RestoreLatestGood(state any) (seq uint64, skipped []*CorruptError, err error) {
	target, err := checkTarget(state)
	if err != nil {
		return 0, nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	es, err := s.entries()
	if err != nil {
		return 0, nil, err
	}
	for _, e := range es {
		seq, err := s.restoreEntry(e, target)
		if ce, ok := errors.AsType[*CorruptError](err); ok {
			skipped = append(skipped, ce)
			continue
		}
		return seq, skipped, err
	}
	errs := make([]error, len(skipped))
	for i, ce := range skipped {
		errs[i] = ce
	}
	return 0, skipped, fmt.Errorf("minisnap: no intact snapshot in %s: %w", s.dir, errors.Join(errs...))
}

// RestoreTo streams the newest snapshot's state bytes to read, with the
// snapshot's Info, and returns its sequence number. The reader is verified
// as it is read: where it would return io.EOF it returns a *CorruptError
// instead if the size or checksum is wrong. After read returns, RestoreTo
// reads whatever read left and verifies it, so a nil error means the bytes
// read matched the checksum. If read returns an error it is wrapped and
// returned, unless the snapshot is damaged, in which case the *CorruptError
// is returned (it is the likely cause).
//
// read sees the bytes before the last of them is verified: on a
// *CorruptError, discard whatever it built.
func (s *Store) RestoreTo(read func(r io.Reader, info Info) error) (seq uint64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	es, err := s.entries()
	if err != nil {
		return 0, err
	}
	info, err := s.load(es[0], read)
	return info.Seq, err
}

// Load streams the state bytes of the snapshot info (from List) to read,
// verified as for RestoreTo. Use it to restore a specific snapshot, e.g. an
// older one, or to copy one out.
func (s *Store) Load(info Info, read func(r io.Reader) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if info.id == (entry{}) {
		return errors.New("minisnap: Load needs an Info from List")
	}
	_, err := s.load(info.id, func(r io.Reader, _ Info) error { return read(r) })
	return err
}

// entries lists the snapshots, failing with ErrClosed or ErrNotFound.
func (s *Store) entries() ([]entry, error) {
	if s.closed {
		return nil, ErrClosed
	}
	es, err := s.scan()
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNotFound, s.dir)
	}
	return es, nil
}

func checkTarget(state any) (reflect.Value, error) {
	v := reflect.ValueOf(state)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return reflect.Value{}, fmt.Errorf("%w, got %T", errNotPointer, state)
	}
	return v, nil
}

// restoreEntry decodes snapshot e into a fresh value and, if everything
// verifies, stores it into *target.
func (s *Store) restoreEntry(e entry, target reflect.Value) (uint64, error) {
	fresh := reflect.New(target.Elem().Type())
	info, err := s.load(e, func(r io.Reader, info Info) error {
		c, err := s.decoder(info)
		if err != nil {
			return err
		}
		return c.Decode(r, fresh.Interface())
	})
	if err != nil {
		return 0, err
	}
	target.Elem().Set(fresh.Elem())
	return info.Seq, nil
}

// decoder picks the codec for a snapshot's recorded codec name.
func (s *Store) decoder(info Info) (Codec, error) {
	switch info.Codec {
	case s.codec.Name():
		return s.codec, nil
	case JSONCodec{}.Name():
		return JSONCodec{}, nil
	}
	return nil, fmt.Errorf("%w: %s was written with codec %q, the store's is %q", ErrCodec, info.Path, info.Codec, s.codec.Name())
}

// load opens snapshot e, checks everything that can be checked before
// reading the state, then hands read a verifying reader of the state.
func (s *Store) load(e entry, read func(io.Reader, Info) error) (Info, error) {
	info, f, vr, err := s.open(e)
	if err != nil {
		return info, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(vr, int(min(int64(s.buf), max(info.Size+1, 4096))))
	rerr := read(br, info)
	if errors.Is(rerr, ErrCodec) {
		return info, rerr // nothing was read; no point verifying
	}
	// Read what the decoder left, so the checksum covers every byte.
	_, derr := io.Copy(io.Discard, br)
	if ce, ok := errors.AsType[*CorruptError](derr); ok {
		return info, ce
	}
	if ce, ok := errors.AsType[*CorruptError](rerr); ok {
		return info, ce
	}
	if rerr != nil {
		if e.legacy {
			// No checksum: a JSON syntax error is the only sign of damage.
			if se, ok := errors.AsType[*json.SyntaxError](rerr); ok {
				return info, &CorruptError{Path: info.Path, Seq: info.Seq, Offset: se.Offset, Err: rerr}
			}
			if errors.Is(rerr, io.ErrUnexpectedEOF) {
				return info, &CorruptError{Path: info.Path, Seq: info.Seq, Offset: vr.n, Err: rerr}
			}
		}
		return info, fmt.Errorf("minisnap: restore %s: %w", info.Path, rerr)
	}
	if derr != nil {
		return info, fmt.Errorf("minisnap: read %s: %w", info.Path, derr)
	}
	return info, nil
}

// open reads and checks e's metadata and sequence file and opens its state
// file, whose size must match the metadata.
func (s *Store) open(e entry) (Info, io.Closer, *verifyReader, error) {
	if e.numbered {
		return s.openNumbered(e)
	}
	var (
		info Info
		want uint32
		err  error
	)
	if e.legacy {
		info, err = s.legacyInfo()
	} else {
		info, want, err = s.readMeta(e)
		if err == nil {
			var seq uint64
			seq, err = s.readSeqFile(filepath.Join(s.dir, e.name, seqName), e.seq)
			if err == nil && seq != e.seq {
				err = corruptAt(filepath.Join(s.dir, e.name, seqName), e.seq, -1, "holds seq %d, directory seq %d", seq, e.seq)
			}
		}
	}
	if err != nil {
		return info, nil, nil, err
	}
	f, err := s.fs.OpenFile(info.Path, os.O_RDONLY, 0)
	if err != nil {
		return info, nil, nil, missingAsCorrupt(err, info.Path, info.Seq)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return info, nil, nil, fmt.Errorf("minisnap: %s: %w", info.Path, err)
	}
	vr := &verifyReader{r: f, path: info.Path, seq: info.Seq, verify: !e.legacy, size: info.Size, want: want}
	if e.legacy {
		info.Size = size
	} else if size != info.Size {
		f.Close()
		return info, nil, nil, corruptAt(info.Path, info.Seq, min(size, info.Size), "file is %d bytes, metadata says %d", size, info.Size)
	}
	return info, f, vr, nil
}

// verifyReader reads a state file, checksumming as it goes. At the
// recorded size it compares checksums and returns io.EOF, or a
// *CorruptError in its place.
type verifyReader struct {
	r      io.Reader
	path   string
	seq    uint64
	verify bool   // false for legacy snapshots: no checksum
	size   int64  // expected size
	want   uint32 // expected CRC-32C
	n      int64  // bytes read so far
	crc    uint32
	err    error // sticky
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if !v.verify {
		n, err := v.r.Read(p)
		v.n += int64(n)
		if err != nil {
			v.err = err
		}
		return n, err
	}
	if rem := v.size - v.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	var (
		n   int
		err error
	)
	if len(p) > 0 {
		n, err = v.r.Read(p)
		v.crc = crc32.Update(v.crc, castagnoli, p[:n])
		v.n += int64(n)
	}
	switch {
	case v.n == v.size:
		if v.crc != v.want {
			v.err = corruptAt(v.path, v.seq, -1, "checksum mismatch: metadata says %08x, data has %08x", v.want, v.crc)
		} else {
			v.err = io.EOF
		}
	case err == io.EOF:
		v.err = corruptAt(v.path, v.seq, v.n, "file ends at %d bytes, metadata says %d", v.n, v.size)
	case err != nil:
		v.err = err
	}
	if n > 0 {
		return n, nil
	}
	return 0, v.err
}
