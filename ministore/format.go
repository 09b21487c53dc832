// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
)

// Format selects how records are laid out in a journal file.
type Format uint8

const (
	// FormatAuto, the zero value, writes new journals in FormatV1 and keeps
	// the format of an existing journal.
	FormatAuto Format = iota
	// FormatV1 is this package's format: every line carries its sequence
	// number and a CRC-32C, so a flipped bit anywhere is detected.
	FormatV1
	// FormatPlain is the Rust crate's format: one bare JSON record a line.
	// A Rust program can replay it, but damage inside a line that still
	// parses as JSON cannot be detected.
	FormatPlain
)

// String returns "auto", "v1" or "plain".
func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatV1:
		return "v1"
	case FormatPlain:
		return "plain"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

const (
	magic = "// MINISTORE JOURNAL v"
	// plainVersion is the version the Rust crate writes; Go writes it too
	// in FormatPlain so Rust readers accept the file.
	plainVersion = "0.1.4"

	linePrefixSeq  = `{"seq":`
	linePrefixSync = `,"sync":`
	linePrefixRec  = `,"rec":`
	lineCRC        = `,"crc":"`
	// headerSchema introduces the optional schema field of a header.
	headerSchema = " schema="
	// lineSuffixLen is len(`,"crc":"xxxxxxxx"}`).
	lineSuffixLen = len(lineCRC) + 8 + 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the parsed first line of a segment.
type header struct {
	format  Format
	version string // as written after "v"
	base    uint64 // first sequence number; 0 when the header has none (Rust files)
	schema  string // what the records hold (Options.Schema); "" when the header says nothing
}

// appendSchemaHeader appends the header line for a segment starting at
// base whose records hold schema ("" for none; a valid name otherwise).
func appendSchemaHeader(dst []byte, format Format, base uint64, schema string) []byte {
	if format == FormatPlain {
		dst = append(dst, magic...)
		dst = append(dst, plainVersion+" base="...)
		dst = strconv.AppendUint(dst, base, 10)
		if schema != "" {
			dst = append(dst, headerSchema...)
			dst = append(dst, schema...)
		}
		return append(dst, '\n')
	}
	start := len(dst)
	dst = append(dst, magic...)
	dst = append(dst, "1 base="...)
	dst = strconv.AppendUint(dst, base, 10)
	if schema != "" {
		dst = append(dst, headerSchema...)
		dst = append(dst, schema...)
	}
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, " crc="...)
	dst = appendHex32(dst, sum)
	return append(dst, '\n')
}

// Reasons a header or record is rejected; they are wrapped in a
// *JournalError whose errors.Is matches ErrCorrupt (or ErrVersion).
var (
	errBadMagic    = errors.New("missing magic header")
	errBadHeader   = errors.New("malformed header")
	errBadRecord   = errors.New("malformed record")
	errChecksum    = errors.New("checksum mismatch")
	errIncomplete  = errors.New("record cut short")
	errGarbageTail = errors.New("non-zero bytes after preallocated space")
)

// parseHeader parses a header line (without its newline).
func parseHeader(line []byte) (header, error) {
	if !bytes.HasPrefix(line, []byte(magic)) {
		return header{}, errBadMagic
	}
	rest := line[len(magic):]
	version, fields, _ := bytes.Cut(rest, []byte(" "))
	// Every header that ends in " crc=XXXXXXXX" (format v1, and any later
	// format) is checked before its version is read: a version that a
	// flipped bit made unknown is damage, not a journal from the future.
	// A version is digits and dots; anything else is a damaged header.
	if !validVersion(version) {
		return header{}, errBadHeader
	}
	if !bytes.HasPrefix(version, []byte("0.")) {
		if text, sum, ok := splitHeaderCRC(line); ok && crc32.Checksum(text, castagnoli) != sum {
			return header{}, errChecksum
		}
	}
	switch {
	case bytes.HasPrefix(version, []byte("0.")):
		h := header{format: FormatPlain, version: string(version)}
		// The Rust crate writes no fields; Go adds base=N and, when the
		// records have one, schema=NAME. Anything else after the version
		// is ignored, as the Rust reader ignores it.
		first, more, spaced := bytes.Cut(fields, []byte(" "))
		if b, ok := bytes.CutPrefix(first, []byte("base=")); ok {
			n, err := parseUint(b)
			if err != nil || n == 0 {
				return header{}, errBadHeader
			}
			h.base = n
			// After base=N, which only Go writes, nothing but a schema.
			if spaced {
				name, ok := bytes.CutPrefix(more, []byte(headerSchema[1:]))
				if !ok || !validSchemaName(name) {
					return header{}, errBadHeader
				}
				h.schema = string(name)
			}
		}
		return h, nil
	case string(version) == "1":
		// "1 base=N crc=XXXXXXXX" or "1 base=N schema=NAME crc=XXXXXXXX"
		b, ok := bytes.CutPrefix(fields, []byte("base="))
		if !ok {
			return header{}, errBadHeader
		}
		num, sum, ok := bytes.Cut(b, []byte(" crc="))
		if !ok {
			return header{}, errBadHeader
		}
		num, name, named := bytes.Cut(num, []byte(headerSchema))
		if named && !validSchemaName(name) {
			return header{}, errBadHeader
		}
		n, err := parseUint(num)
		if err != nil || n == 0 {
			return header{}, errBadHeader
		}
		want, ok := parseHex32(sum)
		if !ok {
			return header{}, errBadHeader
		}
		if crc32.Checksum(line[:len(line)-len(" crc=")-8], castagnoli) != want {
			return header{}, errChecksum
		}
		return header{format: FormatV1, version: "1", base: n, schema: string(name)}, nil
	}
	return header{}, fmt.Errorf("%w v%s", ErrVersion, version)
}

// validVersion reports whether v is a version token: digits and dots,
// starting with a digit.
func validVersion(v []byte) bool {
	if len(v) == 0 || v[0] < '0' || v[0] > '9' {
		return false
	}
	for _, c := range v {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// splitHeaderCRC splits a header line that ends in " crc=XXXXXXXX" into
// the text the checksum covers and the checksum.
func splitHeaderCRC(line []byte) (text []byte, sum uint32, ok bool) {
	const suffix = len(" crc=") + 8
	if len(line) < suffix || !bytes.HasPrefix(line[len(line)-suffix:], []byte(" crc=")) {
		return nil, 0, false
	}
	sum, ok = parseHex32(line[len(line)-8:])
	return line[:len(line)-suffix], sum, ok
}

// appendLinePrefix appends what comes before the payload in a FormatV1
// line: {"seq":SEQ,"sync":SYNCED,"rec":
func appendLinePrefix(dst []byte, seq, synced uint64) []byte {
	dst = append(dst, linePrefixSeq...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, linePrefixSync...)
	dst = strconv.AppendUint(dst, synced, 10)
	return append(dst, linePrefixRec...)
}

// appendLineSuffix appends what comes after the payload in a FormatV1
// line, sum being the CRC-32C of the prefix and the payload:
// ,"crc":"XXXXXXXX"} and the newline.
func appendLineSuffix(dst []byte, sum uint32) []byte {
	dst = append(dst, lineCRC...)
	dst = appendHex32(dst, sum)
	return append(dst, '"', '}', '\n')
}

// record is one decoded line.
type record struct {
	seq     uint64 // 0 in FormatPlain: the position decides
	synced  uint64 // every record up to synced was durable when this was written
	payload []byte // the record's JSON; aliases the read buffer
}

// parseLine decodes a record line (without its newline).
func parseLine(f Format, line []byte) (record, error) {
	if f == FormatPlain {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 || !validJSON(line) {
			return record{}, errBadRecord
		}
		return record{payload: line}, nil
	}
	n := len(line)
	if n < len(linePrefixSeq)+len(linePrefixSync)+len(linePrefixRec)+lineSuffixLen+3 {
		return record{}, errBadRecord
	}
	body, suffix := line[:n-lineSuffixLen], line[n-lineSuffixLen:]
	if !bytes.HasPrefix(suffix, []byte(lineCRC)) || suffix[lineSuffixLen-2] != '"' || suffix[lineSuffixLen-1] != '}' {
		return record{}, errBadRecord
	}
	want, ok := parseHex32(suffix[len(lineCRC) : len(lineCRC)+8])
	if !ok {
		return record{}, errBadRecord
	}
	if crc32.Checksum(body, castagnoli) != want {
		return record{}, errChecksum
	}
	rest, ok := bytes.CutPrefix(body, []byte(linePrefixSeq))
	if !ok {
		return record{}, errBadRecord
	}
	var r record
	var err error
	if r.seq, rest, err = cutUint(rest, linePrefixSync); err != nil || r.seq == 0 {
		return record{}, errBadRecord
	}
	if r.synced, rest, err = cutUint(rest, linePrefixRec); err != nil {
		return record{}, errBadRecord
	}
	if len(rest) == 0 {
		return record{}, errBadRecord
	}
	r.payload = rest
	return r, nil
}

// cutUint parses the decimal number at the start of b, which must be
// followed by sep, and returns the number and what follows sep.
func cutUint(b []byte, sep string) (uint64, []byte, error) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	n, err := parseUint(b[:i])
	if err != nil {
		return 0, nil, err
	}
	rest, ok := bytes.CutPrefix(b[i:], []byte(sep))
	if !ok {
		return 0, nil, errBadRecord
	}
	return n, rest, nil
}

// parseUint parses a canonical decimal number: no sign, no leading zeros.
func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return 0, errBadRecord
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errBadRecord
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, errBadRecord
		}
		n = n*10 + d
	}
	return n, nil
}

const hexDigits = "0123456789abcdef"

func appendHex32(dst []byte, v uint32) []byte {
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(v>>uint(shift))&0xf])
	}
	return dst
}

func parseHex32(b []byte) (uint32, bool) {
	if len(b) != 8 {
		return 0, false
	}
	// A table instead of comparisons: checksums are random hex, so a
	// branch on digit or letter would be mispredicted half the time.
	var v uint32
	bad := byte(0)
	for _, c := range b {
		d := hexDigit[c]
		bad |= d
		v = v<<4 | uint32(d&0x0f)
	}
	return v, bad&0x80 == 0
}

// hexDigit maps '0'-'9' and 'a'-'f' to their values and every other byte
// to 0xff.
var hexDigit = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := range byte(10) {
		t['0'+i] = i
	}
	for i := range byte(6) {
		t['a'+i] = 10 + i
	}
	return t
}()
