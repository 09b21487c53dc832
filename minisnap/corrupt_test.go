// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/vfs"
)

// damage is one way to break the newest snapshot. It returns the file the
// error must name.
type damage struct {
	name       string
	apply      func(t *testing.T, m *vfs.Mem, dir, state string) (blame string)
	wantOffset bool // the error must carry an offset
}

var damages = []damage{
	{"flipped byte in state", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		b := readAll(t, m, state)
		b[len(b)/2] ^= 0x01
		writeAll(t, m, state, b)
		return state
	}, false},
	{"flipped byte keeps JSON valid", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		b := readAll(t, m, state)
		i := bytes.Index(b, []byte(`"tag": "`)) + len(`"tag": "`)
		b[i] ^= 0x02 // 'n' -> 'l': still a valid string
		writeAll(t, m, state, b)
		return state
	}, false},
	{"truncated state", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		b := readAll(t, m, state)
		writeAll(t, m, state, b[:len(b)-7])
		return state
	}, true},
	{"empty state", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		writeAll(t, m, state, nil)
		return state
	}, true},
	{"state with trailing garbage", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		writeAll(t, m, state, append(readAll(t, m, state), " {}"...))
		return state
	}, true},
	{"missing state", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		mustRemove(t, m, state)
		return state
	}, false},
	{"missing meta", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		mustRemove(t, m, p)
		return p
	}, false},
	{"garbage meta", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		writeAll(t, m, p, []byte("{\n  \"format\": 1,\n  \"seq\": ?"))
		return p
	}, true},
	{"meta checksum changed", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		b := readAll(t, m, p)
		i := bytes.Index(b, []byte(`"crc32c": "`)) + len(`"crc32c": "`)
		b[i] = map[bool]byte{true: '1', false: '0'}[b[i] == '0']
		writeAll(t, m, p, b)
		return p // meta.json no longer matches its own checksum
	}, false},
	{"meta checksum changed and resealed", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		b := readAll(t, m, p)
		i := bytes.Index(b, []byte(`"crc32c": "`)) + len(`"crc32c": "`)
		b[i] = map[bool]byte{true: '1', false: '0'}[b[i] == '0']
		writeAll(t, m, p, reseal(t, b))
		return state // the state no longer matches it
	}, false},
	{"meta codec name bit flip", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		writeAll(t, m, p, bytes.Replace(readAll(t, m, p), []byte(`"codec": "json"`), []byte(`"codec": "jsom"`), 1))
		return p
	}, false},
	{"meta format digit flip", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		writeAll(t, m, p, bytes.Replace(readAll(t, m, p), []byte(`"format": 1`), []byte(`"format": 3`), 1))
		return p
	}, false},
	{"meta created changed", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		b := readAll(t, m, p)
		i := bytes.Index(b, []byte(`"created": "2`)) + len(`"created": "2`)
		b[i] ^= 0x01
		writeAll(t, m, p, b)
		return p
	}, false},
	{"meta checksum field name flipped", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		writeAll(t, m, p, bytes.Replace(readAll(t, m, p), []byte(`"metacrc32c"`), []byte(`"metacrc32C"`), 1))
		return p
	}, false},
	{"meta checksum field removed after damage", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		// Not a crash or a bit flip, but the one edit an unsealed
		// meta.json still catches: a field it does not know.
		p := filepath.Join(dir, "meta.json")
		b := unseal(t, readAll(t, m, p))
		writeAll(t, m, p, bytes.Replace(b, []byte(`"size"`), []byte(`"sizf"`), 1))
		return p
	}, false},
	{"meta not an object", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		writeAll(t, m, p, []byte("null"))
		return p
	}, false},
	{"meta field twice", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		writeAll(t, m, p, bytes.Replace(readAll(t, m, p), []byte(`"format": 1,`), []byte(`"format": 1, "format": 1,`), 1))
		return p
	}, false},
	{"meta seq changed", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		writeAll(t, m, p, bytes.Replace(readAll(t, m, p), []byte(`"seq": 2,`), []byte(`"seq": 1,`), 1))
		return p
	}, false},
	{"meta file escapes", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "meta.json")
		writeAll(t, m, p, bytes.Replace(readAll(t, m, p), []byte(`"file": "snapshot.json"`), []byte(`"file": "snapshot/../../x"`), 1))
		return p
	}, false},
	{"missing seq file", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "snapshot.seq")
		mustRemove(t, m, p)
		return p
	}, false},
	{"seq file disagrees", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "snapshot.seq")
		writeAll(t, m, p, []byte("1"))
		return p
	}, false},
	{"seq file not a number", func(t *testing.T, m *vfs.Mem, dir, state string) string {
		p := filepath.Join(dir, "snapshot.seq")
		writeAll(t, m, p, []byte("2x"))
		return p
	}, false},
}

func mustRemove(t *testing.T, m *vfs.Mem, p string) {
	t.Helper()
	if err := m.Remove(p); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedNewest(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			s, m := openMem(t, nil)
			prev := mustCreate(t, s, 1, "one")
			mustCreate(t, s, 2, "two")
			newest := mustList(t, s)[0]
			blame := d.apply(t, m, snapDir(newest), newest.Path)

			// Restore: a typed error naming the file; *state unchanged.
			sentinel := testState{Tag: "untouched"}
			st := sentinel
			_, err := s.Restore(&st)
			ce, ok := errors.AsType[*minisnap.CorruptError](err)
			if !ok || !errors.Is(err, minisnap.ErrCorrupt) {
				t.Fatalf("Restore = %v, want a *CorruptError", err)
			}
			if ce.Path != blame || ce.Seq != 2 {
				t.Errorf("CorruptError names %s (seq %d), want %s (seq 2)", ce.Path, ce.Seq, blame)
			}
			if !strings.Contains(err.Error(), blame) || !strings.HasPrefix(err.Error(), "minisnap: ") {
				t.Errorf("message %q does not name %s", err, blame)
			}
			if d.wantOffset && ce.Offset < 0 {
				t.Errorf("Offset = %d, want a position", ce.Offset)
			}
			if !st.equal(sentinel) {
				t.Errorf("failed Restore changed the state to %+v", st)
			}

			// RestoreTo: the same error, even if the callback succeeds.
			_, err = s.RestoreTo(func(r io.Reader, _ minisnap.Info) error {
				_, err := io.Copy(io.Discard, r)
				return err
			})
			if ce, ok := errors.AsType[*minisnap.CorruptError](err); !ok || ce.Path != blame {
				t.Errorf("RestoreTo = %v, want a *CorruptError naming %s", err, blame)
			}

			// RestoreLatestGood: the previous snapshot, and what it skipped.
			seq, skipped, err := s.RestoreLatestGood(&st)
			if err != nil || seq != 1 || !st.equal(prev) {
				t.Fatalf("RestoreLatestGood = %d, %+v, %v; want seq 1", seq, st, err)
			}
			if len(skipped) != 1 || skipped[0].Path != blame {
				t.Errorf("skipped = %v, want one naming %s", skipped, blame)
			}

			// Creating again at the same seq supersedes the damaged one.
			again := mustCreate(t, s, 2, "again")
			if got, seq := mustRestore(t, s); seq != 2 || !got.equal(again) {
				t.Errorf("after re-create: %+v, %d", got, seq)
			}
		})
	}
}

func TestAllDamaged(t *testing.T) {
	s, m := openMem(t, nil)
	mustCreate(t, s, 1, "one")
	mustCreate(t, s, 2, "two")
	for _, info := range mustList(t, s) {
		writeAll(t, m, info.Path, []byte("{}"))
	}
	var st testState
	seq, skipped, err := s.RestoreLatestGood(&st)
	if !errors.Is(err, minisnap.ErrCorrupt) || len(skipped) != 2 || seq != 0 {
		t.Fatalf("RestoreLatestGood = %d, %v, %v", seq, skipped, err)
	}
}

func TestDamagedMetaInList(t *testing.T) {
	s, m := openMem(t, nil)
	mustCreate(t, s, 1, "one")
	mustCreate(t, s, 2, "two")
	p := filepath.Join(snapDir(mustList(t, s)[0]), "meta.json")
	writeAll(t, m, p, []byte("not json"))
	infos := mustList(t, s)
	if len(infos) != 2 || infos[0].Seq != 2 || !errors.Is(infos[0].Err, minisnap.ErrCorrupt) || infos[1].Err != nil {
		t.Fatalf("List = %+v", infos)
	}
}

// A snapshot whose bytes verify but do not fit the state is a decode
// error, not corruption, and RestoreLatestGood does not fall back over it.
func TestDecodeErrorIsNotCorruption(t *testing.T) {
	s, _ := openMem(t, nil)
	mustCreate(t, s, 1, "one")
	if err := s.Create([]string{"not", "a", "testState"}, 2); err != nil {
		t.Fatal(err)
	}
	var st testState
	_, err := s.Restore(&st)
	if err == nil || errors.Is(err, minisnap.ErrCorrupt) {
		t.Fatalf("Restore = %v, want a decode error", err)
	}
	if _, _, err := s.RestoreLatestGood(&st); err == nil || errors.Is(err, minisnap.ErrCorrupt) {
		t.Fatalf("RestoreLatestGood = %v, want the decode error", err)
	}
}

// The checksum in meta.json is the CRC-32C of the state file.
func TestChecksumIsCRC32C(t *testing.T) {
	s, m := openMem(t, nil)
	mustCreate(t, s, 3, "crc")
	info := mustList(t, s)[0]
	sum := crc32.Checksum(readAll(t, m, info.Path), crc32.MakeTable(crc32.Castagnoli))
	meta := readAll(t, m, filepath.Join(snapDir(info), "meta.json"))
	if want := fmt.Sprintf(`"crc32c": "%08x"`, sum); !bytes.Contains(meta, []byte(want)) {
		t.Errorf("meta.json lacks %s:\n%s", want, meta)
	}
}

// A file with a snapshot directory's name is a damaged snapshot.
func TestSnapshotNameIsAFile(t *testing.T) {
	s, m := openMem(t, nil)
	mustCreate(t, s, 1, "one")
	p := filepath.Join(memDir, "snap-00000000000000000002")
	writeAll(t, m, p, []byte("stray"))
	var st testState
	if _, err := s.Restore(&st); !errors.Is(err, minisnap.ErrCorrupt) {
		t.Fatalf("Restore = %v, want ErrCorrupt", err)
	}
	if seq, _, err := s.RestoreLatestGood(&st); err != nil || seq != 1 {
		t.Fatalf("RestoreLatestGood = %d, %v", seq, err)
	}
}
