// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/minisnap"
)

// metaOf returns the path of the newest snapshot's meta.json.
func metaOf(t *testing.T, s *minisnap.Store) string {
	t.Helper()
	return filepath.Join(snapDir(mustList(t, s)[0]), "meta.json")
}

// Create seals meta.json: its last field is the CRC-32C of the file with
// that field's digits taken as zeros, as docs/FORMAT.md says.
func TestMetaIsSealed(t *testing.T) {
	s, m := openMem(t, nil)
	mustCreate(t, s, 7, "sealed")
	b := readAll(t, m, metaOf(t, s))
	if !bytes.Contains(b, []byte("\"metacrc32c\": \"")) || !bytes.HasSuffix(b, []byte("\"\n}\n")) {
		t.Fatalf("meta.json does not end with its checksum:\n%s", b)
	}
	if got := reseal(t, b); !bytes.Equal(got, b) {
		t.Fatalf("checksum differs from the documented rule:\n%s\nrecomputed:\n%s", b, got)
	}
}

// A meta.json of a newer format whose checksum matches is ErrVersion, and
// RestoreLatestGood stops there; the same without a checksum is damage
// (every format after 1 is sealed), and RestoreLatestGood falls back.
func TestMetaNewerFormat(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(t *testing.T, b []byte) []byte
		version bool
	}{
		{"sealed", func(t *testing.T, b []byte) []byte {
			return reseal(t, bytes.Replace(b, []byte(`"format": 1`), []byte(`"format": 2`), 1))
		}, true},
		{"unsealed", func(t *testing.T, b []byte) []byte {
			return bytes.Replace(unseal(t, b), []byte(`"format": 1`), []byte(`"format": 2`), 1)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, m := openMem(t, nil)
			prev := mustCreate(t, s, 1, "one")
			mustCreate(t, s, 2, "two")
			p := metaOf(t, s)
			writeAll(t, m, p, tc.edit(t, readAll(t, m, p)))
			var st testState
			_, err := s.Restore(&st)
			seq, skipped, lerr := s.RestoreLatestGood(&st)
			if tc.version {
				if !errors.Is(err, minisnap.ErrVersion) || errors.Is(err, minisnap.ErrCorrupt) || !strings.Contains(err.Error(), p) {
					t.Fatalf("Restore = %v, want ErrVersion naming %s", err, p)
				}
				if !errors.Is(lerr, minisnap.ErrVersion) || len(skipped) != 0 {
					t.Fatalf("RestoreLatestGood = %d, %v, %v; want ErrVersion, no fallback", seq, skipped, lerr)
				}
				return
			}
			if ce, ok := errors.AsType[*minisnap.CorruptError](err); !ok || ce.Path != p {
				t.Fatalf("Restore = %v, want a *CorruptError naming %s", err, p)
			}
			if lerr != nil || seq != 1 || !st.equal(prev) || len(skipped) != 1 {
				t.Fatalf("RestoreLatestGood = %d, %v, %v; want the fallback", seq, skipped, lerr)
			}
		})
	}
}

// Snapshots written before meta.json was sealed still restore, and are
// listed without error.
func TestMetaWithoutChecksum(t *testing.T) {
	dir := filepath.Join("testdata", "format1-nometacrc")
	s, err := minisnap.Open(dir, &minisnap.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	infos := mustList(t, s)
	if len(infos) != 2 || infos[0].Seq != 42 || infos[0].Err != nil || infos[1].Err != nil {
		t.Fatalf("List = %+v", infos)
	}
	var got rustState
	seq, err := s.Restore(&got)
	if err != nil || seq != 42 || got.Counter != 42 || got.Message != "the newest, also without a checksum" {
		t.Fatalf("Restore = %d, %+v, %v", seq, got, err)
	}
	var older rustState
	err = s.Load(infos[1], func(r io.Reader) error { return json.NewDecoder(r).Decode(&older) })
	if err != nil || older.Counter != 41 {
		t.Fatalf("Load(41) = %+v, %v", older, err)
	}
}

// What a missing checksum cannot catch: an unsealed meta.json whose codec
// name was damaged into another valid name reads as ErrCodec, as it did
// before meta.json was sealed. (A sealed one is a *CorruptError; see
// TestDamagedNewest.)
func TestMetaWithoutChecksumUnknownCodec(t *testing.T) {
	s, m := openMem(t, nil)
	mustCreate(t, s, 1, "one")
	p := metaOf(t, s)
	writeAll(t, m, p, bytes.Replace(unseal(t, readAll(t, m, p)), []byte(`"codec": "json"`), []byte(`"codec": "jsom"`), 1))
	var st testState
	if _, err := s.Restore(&st); !errors.Is(err, minisnap.ErrCodec) {
		t.Fatalf("Restore = %v, want ErrCodec", err)
	}
}

// The example meta.json in docs/FORMAT.md carries the checksum the rule
// gives, so a reader written from the document can test against it.
func TestMetaFormatExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "FORMAT.md"))
	if err != nil {
		t.Skip(err)
	}
	i := bytes.Index(doc, []byte("```json\n{\n  \"format\": 1,"))
	if i < 0 {
		t.Fatal("no meta.json example in docs/FORMAT.md")
	}
	ex := doc[i+len("```json\n"):]
	ex = ex[:bytes.Index(ex, []byte("```"))]
	if !bytes.Contains(ex, []byte("metacrc32c")) {
		t.Fatalf("the example has no metacrc32c:\n%s", ex)
	}
	if got := reseal(t, ex); !bytes.Equal(got, ex) {
		t.Fatalf("the example's metacrc32c is wrong:\n%s\nshould be:\n%s", ex, got)
	}
}
