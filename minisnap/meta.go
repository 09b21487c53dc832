package minisnap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// meta is the content of meta.json in a snapshot directory.
type meta struct {
	Format  int       `json:"format"`  // formatVersion
	Seq     uint64    `json:"seq"`     // equals the directory's and snapshot.seq's
	Codec   string    `json:"codec"`   // Codec.Name()
	File    string    `json:"file"`    // "snapshot" + Codec.Ext()
	Size    int64     `json:"size"`    // bytes in File
	CRC32C  string    `json:"crc32c"`  // CRC-32C (Castagnoli) of File, 8 hex digits
	Created time.Time `json:"created"` // UTC, RFC 3339
}

const (
	formatVersion = 1
	maxMetaSize   = 64 << 10 // a real meta.json is ~200 bytes
	maxSeqSize    = 64       // 20 digits and some whitespace
)

func (m *meta) encode() []byte {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err) // strings, numbers and a UTC time always marshal
	}
	return append(b, '\n')
}

// readMeta reads, parses and checks the metadata of Go snapshot e. It
// returns what it learned as an Info (partially filled on error) and the
// expected checksum of the state file.
func (s *Store) readMeta(e entry) (Info, uint32, error) {
	dir := filepath.Join(s.dir, e.name)
	path := filepath.Join(dir, metaName)
	info := Info{Seq: e.seq, Path: path, id: e}
	b, err := s.readSmall(path, e.seq, maxMetaSize)
	if err != nil {
		return info, 0, err
	}
	m, crc, err := parseMeta(b, path, e.seq)
	if err != nil {
		return info, 0, err
	}
	info.Size, info.Time, info.Codec = m.Size, m.Created, m.Codec
	info.Path = filepath.Join(dir, m.File)
	return info, crc, nil
}

// parseMeta decodes and validates a meta.json read from path, which belongs
// to the snapshot directory for seq.
func parseMeta(b []byte, path string, seq uint64) (meta, uint32, error) {
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		offset := int64(-1)
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			offset = se.Offset
		}
		return m, 0, &CorruptError{Path: path, Seq: seq, Offset: offset, Err: fmt.Errorf("unreadable metadata: %w", err)}
	}
	bad := func(format string, args ...any) (meta, uint32, error) {
		return m, 0, corrupt(path, seq, -1, format, args...)
	}
	switch {
	case m.Format != formatVersion:
		if m.Format > formatVersion {
			return m, 0, fmt.Errorf("minisnap: %s: format version %d is newer than this library's %d", path, m.Format, formatVersion)
		}
		return bad("bad format version %d", m.Format)
	case m.Seq != seq:
		return bad("metadata seq %d, directory seq %d", m.Seq, seq)
	case m.Codec == "":
		return bad("no codec name")
	case m.Size < 0:
		return bad("negative size %d", m.Size)
	}
	ext, ok := bytes.CutPrefix([]byte(m.File), []byte("snapshot"))
	if !ok || !validExt(string(ext)) {
		return bad("bad state file name %q", m.File)
	}
	crc, ok := parseCRC(m.CRC32C)
	if !ok {
		return bad("bad checksum %q", m.CRC32C)
	}
	return m, crc, nil
}

// parseCRC parses exactly 8 lowercase hex digits.
func parseCRC(s string) (uint32, bool) {
	if len(s) != 8 {
		return 0, false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 16, 32)
	return uint32(v), err == nil
}

func formatCRC(crc uint32) string { return fmt.Sprintf("%08x", crc) }

// readSeqFile reads a snapshot.seq: decimal text (surrounding whitespace
// is tolerated, for hand-edited legacy files).
func (s *Store) readSeqFile(path string, seq uint64) (uint64, error) {
	b, err := s.readSmall(path, seq, maxSeqSize)
	if err != nil {
		return 0, err
	}
	v, ok := parseDecimal(string(bytes.TrimSpace(b)), true)
	if !ok {
		return 0, corrupt(path, seq, -1, "sequence number %q is not a decimal uint64", truncateForError(b))
	}
	return v, nil
}

// readSmall reads a whole file of at most limit bytes. A missing file or a
// larger one is corrupt: these files are only found in published snapshots.
func (s *Store) readSmall(path string, seq uint64, limit int64) ([]byte, error) {
	f, err := s.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, missingAsCorrupt(err, path, seq)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("minisnap: %s: %w", path, err)
	}
	if size > limit {
		return nil, corrupt(path, seq, limit, "file is %d bytes, at most %d expected", size, limit)
	}
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) == size) {
		return nil, fmt.Errorf("minisnap: read %s: %w", path, err)
	}
	return b, nil
}

func truncateForError(b []byte) string {
	const max = 24
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
