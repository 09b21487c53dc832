// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The current Rust crate minisnap writes each snapshot as one file,
// DIR/snapshot_<seq in 20 digits>.json, holding {"seq":N,"state":...}, or
// with its MessagePack codec DIR/snapshot_<seq in 20 digits> holding the
// same envelope as [N, state]. minisnap reads the JSON ones, and the others
// when the Store's codec is a NumberedCodec (no checksum, like the legacy
// snapshot.json); it never writes or deletes them.
const (
	numberedPrefix = "snapshot_"
	numberedExt    = ".json"
)

// parseNumberedName returns the seq of a numbered snapshot's file name,
// "snapshot_" + seq in exactly seqDigits digits + ext; it accepts nothing
// else.
func parseNumberedName(name, ext string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, numberedPrefix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, ext)
	if !ok || len(digits) != seqDigits {
		return 0, false
	}
	return parseDecimal(digits, true)
}

// parseNumbered returns the entry of a numbered snapshot's file name: a
// JSON one, or one in the encoding of the Store's NumberedCodec.
func (s *Store) parseNumbered(name string) (entry, bool) {
	if seq, ok := parseNumberedName(name, numberedExt); ok {
		return entry{name: name, seq: seq, numbered: true}, true
	}
	if nc, ok := s.codec.(NumberedCodec); ok {
		if seq, ok := parseNumberedName(name, nc.NumberedExt()); ok {
			return entry{name: name, seq: seq, numbered: true, encoded: true}, true
		}
	} else if seq, ok := parseNumberedName(name, ""); ok {
		// The crate's MessagePack snapshot, which this Store cannot read:
		// listed, so that restoring it fails with ErrCodec rather than
		// silently starting from an older snapshot.
		return entry{name: name, seq: seq, numbered: true, encoded: true}, true
	}
	return entry{}, false
}

// rmpCodecName is the codec name of the crate's MessagePack snapshots for
// a Store whose codec cannot read them (minisnap/msgpacksnap's name).
const rmpCodecName = "msgpack"

// numberedInfo describes the numbered snapshot e from the directory
// listing and the file's size and time; it does not read the file.
func (s *Store) numberedInfo(e entry) (Info, error) {
	codec := JSONCodec{}.Name()
	if _, ok := s.codec.(NumberedCodec); ok && e.encoded {
		codec = s.codec.Name()
	} else if e.encoded {
		codec = rmpCodecName
	}
	info := Info{
		Seq:    e.seq,
		Codec:  codec,
		Path:   filepath.Join(s.dir, e.name),
		Legacy: true,
		id:     e,
	}
	st, err := s.fs.Stat(info.Path)
	if err != nil {
		err = missingAsCorrupt(err, info.Path, e.seq)
		info.Err = err
		return info, err
	}
	info.Size, info.Time = st.Size(), st.ModTime().UTC()
	return info, nil
}

// numberedFile is the content of a numbered snapshot.
type numberedFile struct {
	Seq   *uint64         `json:"seq"`
	State json.RawMessage `json:"state"`
}

// openNumbered reads numbered snapshot e whole and returns a reader of its
// state (the "state" value). Bytes that are not one JSON object with a
// "seq" equal to the name's and a "state" are a *CorruptError: without a
// checksum that is the only sign of damage.
func (s *Store) openNumbered(e entry) (Info, io.Closer, *verifyReader, error) {
	info, err := s.numberedInfo(e)
	if err != nil {
		return info, nil, nil, err
	}
	if _, ok := s.codec.(NumberedCodec); e.encoded && !ok {
		return info, nil, nil, fmt.Errorf("%w: %s is the Rust crate's MessagePack snapshot; open the store with the codec minisnap/msgpacksnap to read it", ErrCodec, info.Path)
	}
	f, err := s.fs.OpenFile(info.Path, os.O_RDONLY, 0)
	if err != nil {
		return info, nil, nil, missingAsCorrupt(err, info.Path, info.Seq)
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return info, nil, nil, fmt.Errorf("minisnap: read %s: %w", info.Path, err)
	}
	info.Size = int64(len(b))
	if e.encoded {
		return s.openEncoded(e, info, b)
	}
	var nf numberedFile
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&nf); err != nil {
		off := dec.InputOffset()
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			off = se.Offset
		} else if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			off = int64(len(b)) // cut short: the damage is where the file ends
		}
		return info, nil, nil, &CorruptError{Path: info.Path, Seq: info.Seq, Offset: off, Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return info, nil, nil, corruptAt(info.Path, info.Seq, dec.InputOffset(), "data after the snapshot's JSON object")
	}
	switch {
	case nf.Seq == nil:
		return info, nil, nil, corruptAt(info.Path, info.Seq, -1, `no "seq" field`)
	case *nf.Seq != e.seq:
		return info, nil, nil, corruptAt(info.Path, info.Seq, -1, "holds seq %d, file name seq %d", *nf.Seq, e.seq)
	case nf.State == nil:
		return info, nil, nil, corruptAt(info.Path, info.Seq, -1, `no "state" field`)
	}
	vr := &verifyReader{r: bytes.NewReader(nf.State), path: info.Path, seq: info.Seq}
	return info, io.NopCloser(nil), vr, nil
}

// openEncoded checks the content b of numbered snapshot e in the encoding
// of the Store's NumberedCodec and returns a reader of its state.
func (s *Store) openEncoded(e entry, info Info, b []byte) (Info, io.Closer, *verifyReader, error) {
	seq, state, off, err := s.codec.(NumberedCodec).SplitNumbered(b)
	switch {
	case err != nil:
		return info, nil, nil, &CorruptError{Path: info.Path, Seq: info.Seq, Offset: off, Err: err}
	case seq != e.seq:
		return info, nil, nil, corruptAt(info.Path, info.Seq, -1, "holds seq %d, file name seq %d", seq, e.seq)
	}
	vr := &verifyReader{r: bytes.NewReader(state), path: info.Path, seq: info.Seq}
	return info, io.NopCloser(nil), vr, nil
}
