// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
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
	// MetaCRC32C is the CRC-32C of meta.json itself, computed with its own
	// 8 digits written as "00000000" (see sealMeta). Written last; absent
	// from the snapshots of earlier releases.
	MetaCRC32C string `json:"metacrc32c,omitempty"`
}

const (
	formatVersion = 1
	maxMetaSize   = 64 << 10 // a real meta.json is ~200 bytes
	maxSeqSize    = 64       // 20 digits and some whitespace
)

// metaFields are the fields of a meta.json written before metacrc32c
// existed; such a file holds exactly these (see checkFields).
var metaFields = []string{"format", "seq", "codec", "file", "size", "crc32c", "created"}

const (
	metaSumKey    = "metacrc32c"
	metaSumDigits = "00000000" // the digits the checksum is computed with
)

// encode returns meta.json's bytes, sealed with their own checksum.
func (m *meta) encode() []byte {
	c := *m
	c.MetaCRC32C = metaSumDigits
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		panic(err) // strings, numbers and a UTC time always marshal
	}
	b = append(b, '\n')
	// The field is the last one MarshalIndent writes.
	at := bytes.LastIndex(b, []byte(`"`+metaSumKey+`": "`)) + len(metaSumKey) + 5
	copy(b[at:], formatCRC(metaSum(b, at)))
	return b
}

// metaSum is the CRC-32C of b with the 8 bytes at b[at:] taken as '0's.
func metaSum(b []byte, at int) uint32 {
	crc := crc32.Update(0, castagnoli, b[:at])
	crc = crc32.Update(crc, castagnoli, []byte(metaSumDigits))
	return crc32.Update(crc, castagnoli, b[at+len(metaSumDigits):])
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
//
// A meta.json with a metacrc32c field must match it: then any damage to the
// file, even one that leaves valid JSON (a flipped letter in the codec's
// name, a digit of the format version), is corruption, and what the file
// says can be trusted: an intact meta.json naming a codec the Store lacks is
// ErrCodec, one of a newer format ErrVersion. A meta.json without the field
// (written by an earlier release) must hold exactly the fields of format 1:
// a damaged field name, or a checksum field whose name was damaged, is
// corruption too. Such a file's values are only checked for sense.
func parseMeta(b []byte, path string, seq uint64) (meta, uint32, error) {
	var m meta
	bad := func(offset int64, format string, args ...any) (meta, uint32, error) {
		return m, 0, corruptAt(path, seq, offset, format, args...)
	}
	sealed, offset, err := checkMetaSum(b)
	if err != nil {
		return m, 0, &CorruptError{Path: path, Seq: seq, Offset: offset, Err: err}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return bad(-1, "unreadable metadata: %w", err)
	}
	switch {
	case m.Format > formatVersion && sealed:
		return m, 0, fmt.Errorf("%w: %s: format version %d, this library reads %d", ErrVersion, path, m.Format, formatVersion)
	case m.Format > formatVersion:
		// Every format after 1 seals its meta.json (docs/FORMAT.md).
		return bad(-1, "format version %d without a metadata checksum", m.Format)
	case m.Format != formatVersion:
		return bad(-1, "bad format version %d", m.Format)
	case m.Seq != seq:
		return bad(-1, "metadata seq %d, directory seq %d", m.Seq, seq)
	case m.Codec == "":
		return bad(-1, "no codec name")
	case m.Size < 0:
		return bad(-1, "negative size %d", m.Size)
	}
	ext, ok := bytes.CutPrefix([]byte(m.File), []byte("snapshot"))
	if !ok || !validExt(string(ext)) {
		return bad(-1, "bad state file name %q", m.File)
	}
	crc, ok := parseCRC(m.CRC32C)
	if !ok {
		return bad(-1, "bad checksum %q", m.CRC32C)
	}
	return m, crc, nil
}

// checkMetaSum walks the fields of meta.json. If it has a metacrc32c field,
// the file must match it (sealed is then true); if not, it must hold
// exactly the fields of an unsealed format-1 meta.json. A field given twice
// is damage either way: no writer repeats one. On error, offset is where
// the damage was found in b, or -1.
func checkMetaSum(b []byte) (sealed bool, offset int64, err error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	unreadable := func(err error) (bool, int64, error) {
		offset := int64(-1)
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			offset = se.Offset
		} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			offset = int64(len(b))
		}
		return false, offset, fmt.Errorf("unreadable metadata: %w", err)
	}
	if tok, err := dec.Token(); err != nil {
		return unreadable(err)
	} else if tok != json.Delim('{') {
		return false, 0, errors.New("metadata is not a JSON object")
	}
	seen := map[string]int64{} // field name -> offset of its end
	sumAt := -1
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return unreadable(err)
		}
		key, _ := tok.(string) // an object's keys are strings
		at := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return unreadable(err)
		}
		if _, ok := seen[key]; ok {
			return false, at, fmt.Errorf("field %q appears twice", key)
		}
		seen[key] = at
		if key == metaSumKey {
			// raw is "xxxxxxxx"; the digits end 1 byte before the offset.
			end := int(dec.InputOffset())
			if len(raw) != len(metaSumDigits)+2 || end > len(b) || !bytes.Equal(b[end-len(raw):end], raw) {
				return false, at, fmt.Errorf("bad metadata checksum %s", truncateForError(raw))
			}
			sumAt = end - len(raw) + 1
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return unreadable(err)
	}
	if sumAt < 0 {
		for key, at := range seen {
			if !slices.Contains(metaFields, key) {
				return false, at, fmt.Errorf("unknown field %q in metadata without a checksum", key)
			}
		}
		return false, -1, nil
	}
	digits := b[sumAt : sumAt+len(metaSumDigits)]
	want, ok := parseCRC(string(digits))
	if !ok {
		return false, int64(sumAt), fmt.Errorf("bad metadata checksum %q", digits)
	}
	if got := metaSum(b, sumAt); got != want {
		return false, -1, fmt.Errorf("metadata checksum mismatch: the file says %08x, its bytes give %08x", want, got)
	}
	return true, -1, nil
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
		return 0, corruptAt(path, seq, -1, "sequence number %q is not a decimal uint64", truncateForError(b))
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
		return nil, corruptAt(path, seq, limit, "file is %d bytes, at most %d expected", size, limit)
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
