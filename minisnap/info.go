// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Info describes one snapshot in a Store's directory. List returns them
// newest first.
type Info struct {
	// Seq is the sequence number the snapshot covers.
	Seq uint64
	// Size is the length of the encoded state file in bytes.
	Size int64
	// Time is when Create wrote the snapshot (UTC); for a legacy snapshot,
	// the modification time of its snapshot.json.
	Time time.Time
	// Codec is the name of the codec that encoded the state, e.g. "json".
	Codec string
	// Path is the state file, e.g. DIR/snap-00000000000000000010/snapshot.json;
	// `cat` or `jq` it when the codec is JSON.
	Path string
	// Legacy is true for a snapshot in one of the Rust crate's layouts,
	// which have no checksum: DIR/snapshot.json and DIR/snapshot.seq
	// (minisnap 0.1), or one file DIR/snapshot_<seq, 20 digits>.json
	// holding {"seq":N,"state":...} (the current crate; Path names it), or
	// such a file in the encoding of a NumberedCodec (Codec names it).
	Legacy bool
	// Err is non-nil when the snapshot's metadata could not be read: it is
	// damaged (a *CorruptError) or unreadable, and Restore would fail on
	// it. The other fields then hold what is known. List reads only the
	// metadata; the state's checksum is verified by the restore calls.
	Err error

	id entry
}

// entry is a snapshot found by listing the directory.
type entry struct {
	name     string // directory (or numbered file) name; "" for the legacy snapshot
	seq      uint64 // from the name; 0 for legacy until read
	gen      uint64 // n in "snap-<seq>.<n>", for repeated sequence numbers
	legacy   bool   // DIR/snapshot.json + DIR/snapshot.seq
	numbered bool   // DIR/snapshot_<seq>.json of the current Rust crate
	encoded  bool   // numbered, in the encoding of the Store's NumberedCodec
}

// rust reports whether e is one of the Rust crate's snapshots, which
// minisnap never writes or deletes.
func (e entry) rust() bool { return e.legacy || e.numbered }

const (
	dirPrefix   = "snap-"
	tmpPrefix   = ".tmp-"
	metaName    = "meta.json"
	seqName     = "snapshot.seq"
	seqExt      = ".seq"
	legacyState = "snapshot.json"
	seqDigits   = 20 // len of math.MaxUint64 in decimal
)

// dirName is the name of the directory holding snapshot (seq, gen).
func dirName(seq, gen uint64) string {
	name := fmt.Sprintf("%s%0*d", dirPrefix, seqDigits, seq)
	if gen > 0 {
		name += "." + strconv.FormatUint(gen, 10)
	}
	return name
}

// parseDirName is the inverse of dirName; it accepts nothing else.
func parseDirName(name string) (seq, gen uint64, ok bool) {
	rest, found := strings.CutPrefix(name, dirPrefix)
	if !found || len(rest) < seqDigits {
		return 0, 0, false
	}
	digits, suffix := rest[:seqDigits], rest[seqDigits:]
	seq, ok = parseDecimal(digits, true)
	if !ok {
		return 0, 0, false
	}
	if suffix == "" {
		return seq, 0, true
	}
	g, found := strings.CutPrefix(suffix, ".")
	if !found {
		return 0, 0, false
	}
	gen, ok = parseDecimal(g, false)
	if !ok || gen == 0 {
		return 0, 0, false
	}
	return seq, gen, true
}

// parseDecimal parses an unsigned decimal of digits only (no sign, no
// spaces); leading zeros are allowed only when zeros is set.
func parseDecimal(s string, zeros bool) (uint64, bool) {
	if s == "" || (!zeros && len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// scan lists the snapshots in the directory, newest first: the Go
// snapshots and the Rust crate's numbered ones by seq (a Go snapshot before
// a numbered one of the same seq, later gen first), then the legacy one if
// present. A missing directory holds no snapshots.
func (s *Store) scan() ([]entry, error) {
	names, err := s.fs.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("minisnap: list %s: %w", s.dir, err)
	}
	var (
		out    []entry
		legacy bool
	)
	for _, name := range names {
		if seq, gen, ok := parseDirName(name); ok {
			out = append(out, entry{name: name, seq: seq, gen: gen})
		} else if e, ok := s.parseNumbered(name); ok {
			out = append(out, e)
		} else if name == legacyState || name == seqName {
			legacy = true
		}
	}
	slices.SortFunc(out, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.seq, a.seq), compareBool(a.numbered, b.numbered), cmp.Compare(b.gen, a.gen), strings.Compare(a.name, b.name))
	})
	if legacy {
		out = append(out, entry{legacy: true})
	}
	return out, nil
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// info reads what List shows about e: its metadata, not its state.
func (s *Store) info(e entry) Info {
	if e.legacy {
		info, _ := s.legacyInfo()
		return info
	}
	if e.numbered {
		info, _ := s.numberedInfo(e)
		return info
	}
	info, _, err := s.readMeta(e)
	info.Err = err
	return info
}

// legacyInfo describes the Rust-layout snapshot at the top of the directory.
func (s *Store) legacyInfo() (Info, error) {
	info := Info{
		Codec:  JSONCodec{}.Name(),
		Path:   filepath.Join(s.dir, legacyState),
		Legacy: true,
		id:     entry{legacy: true},
	}
	seq, err := s.readSeqFile(filepath.Join(s.dir, seqName), 0)
	if err != nil {
		info.Err = err
		return info, err
	}
	info.Seq, info.id.seq = seq, seq
	st, err := s.fs.Stat(info.Path)
	if err != nil {
		err = missingAsCorrupt(err, info.Path, seq)
		info.Err = err
		return info, err
	}
	info.Size, info.Time = st.Size(), st.ModTime().UTC()
	return info, nil
}

// missingAsCorrupt turns "file does not exist" (or "not a directory", for
// a snap- name that is a file) inside a published snapshot into a
// *CorruptError, since a published snapshot always has all its files.
func missingAsCorrupt(err error, path string, seq uint64) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return &CorruptError{Path: path, Seq: seq, Offset: -1, Err: fmt.Errorf("missing: %w", err)}
	}
	return fmt.Errorf("minisnap: %w", err)
}
