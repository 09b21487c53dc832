// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/vfs"
)

// fuzzStore returns a Store holding snapshots 1 and 2, its file system,
// the newest snapshot's Info and its encoded state.
func fuzzStore(t testing.TB) (*minisnap.Store, *vfs.Mem, minisnap.Info, []byte) {
	s, m := openMem(t, &minisnap.Options{Keep: -1})
	mustCreate(t, s, 1, "prev")
	mustCreate(t, s, 2, "fuzz")
	newest := mustList(t, s)[0]
	return s, m, newest, readAll(t, m, newest.Path)
}

// checkFallback: whatever happened to snapshot 2, snapshot 1 is intact,
// so RestoreLatestGood must find it when snapshot 2 is corrupt.
func checkFallback(t *testing.T, s *minisnap.Store, restoreErr error) {
	var st testState
	seq, skipped, err := s.RestoreLatestGood(&st)
	switch {
	case restoreErr == nil:
		if err != nil || seq != 2 || len(skipped) != 0 {
			t.Fatalf("Restore succeeded but RestoreLatestGood = %d, %v", seq, err)
		}
	case errors.Is(restoreErr, minisnap.ErrCorrupt):
		if err != nil || seq != 1 || !st.equal(stateFor(1, "prev")) || len(skipped) != 1 {
			t.Fatalf("RestoreLatestGood after %v = %d, %v", restoreErr, seq, err)
		}
	}
}

// FuzzRestoreState stores arbitrary bytes as the newest snapshot's state
// file. With fixMeta false the metadata is left as it was, so the bytes
// must be reported as corrupt unless they are the original; with fixMeta
// true it is rewritten to match them, so they reach the JSON decoder.
// Nothing may panic.
func FuzzRestoreState(f *testing.F) {
	valid, _ := json.MarshalIndent(stateFor(2, "fuzz"), "", "  ")
	for _, seed := range [][]byte{valid, valid[:len(valid)/2], {}, []byte("{}"), []byte(`{"items":[1,2,`), []byte(`{"seq":2,"labels":{"a":1}}`), []byte("null"), []byte("\xff\xfe")} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, fixMeta bool) {
		s, m, newest, origBytes := fuzzStore(t)
		writeAll(t, m, newest.Path, data)
		if fixMeta {
			metaPath := filepath.Join(filepath.Dir(newest.Path), "meta.json")
			var meta map[string]any
			if err := json.Unmarshal(readAll(t, m, metaPath), &meta); err != nil {
				t.Fatal(err)
			}
			meta["size"] = len(data)
			meta["crc32c"] = fmt.Sprintf("%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
			b, err := json.Marshal(meta)
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, m, metaPath, reseal(t, b))
		}
		intact := fixMeta || bytes.Equal(data, origBytes)

		var got testState
		seq, err := s.Restore(&got)
		switch {
		case err == nil:
			if seq != 2 || !intact {
				t.Fatalf("Restore = seq %d, nil for changed bytes %q", seq, data)
			}
			if !fixMeta && !got.equal(stateFor(2, "fuzz")) {
				t.Fatalf("Restore = %+v", got)
			}
		case intact:
			if errors.Is(err, minisnap.ErrCorrupt) {
				t.Fatalf("bytes that match their metadata reported as corrupt: %v", err)
			}
		default:
			if !errors.Is(err, minisnap.ErrCorrupt) {
				t.Fatalf("changed state bytes: Restore = %v, want ErrCorrupt", err)
			}
		}
		checkFallback(t, s, err)
		_, err = s.RestoreTo(func(r io.Reader, _ minisnap.Info) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if (err == nil) != intact {
			t.Fatalf("RestoreTo = %v, intact = %v", err, intact)
		}
	})
}

// FuzzRestoreMetadata stores arbitrary bytes as the newest snapshot's
// meta.json and snapshot.seq. Nothing may panic, and a Restore that
// succeeds must return the original state: the state file is untouched.
func FuzzRestoreMetadata(f *testing.F) {
	_, m, newest, _ := fuzzStore(f)
	validMeta := readAll(f, m, filepath.Join(filepath.Dir(newest.Path), "meta.json"))
	f.Add(validMeta, []byte("2"))
	f.Add(validMeta, []byte("1"))
	f.Add(validMeta, []byte(" 2\n"))
	f.Add(validMeta[:len(validMeta)/2], []byte("2"))
	f.Add(bytes.Replace(validMeta, []byte(`"format": 1`), []byte(`"format": 2`), 1), []byte("2"))
	f.Add(bytes.Replace(validMeta, []byte(`"size": `), []byte(`"size": -`), 1), []byte("2"))
	f.Add(bytes.Replace(validMeta, []byte(`snapshot.json`), []byte(`../../etc/x`), 1), []byte("2"))
	f.Add(bytes.Replace(validMeta, []byte(`"codec": "json"`), []byte(`"codec": "jsom"`), 1), []byte("2"))
	f.Add(bytes.Replace(validMeta, []byte(`"metacrc32c"`), []byte(`"metacrc32C"`), 1), []byte("2"))
	f.Add(regexp.MustCompile(`,\n\s*"metacrc32c": "[0-9a-f]{8}"`).ReplaceAll(validMeta, nil), []byte("2"))
	f.Add([]byte("{}"), []byte(""))
	f.Add([]byte("null"), []byte("18446744073709551616"))
	f.Fuzz(func(t *testing.T, meta, seqFile []byte) {
		s, m, newest, _ := fuzzStore(t)
		dir := filepath.Dir(newest.Path)
		writeAll(t, m, filepath.Join(dir, "meta.json"), meta)
		writeAll(t, m, filepath.Join(dir, "snapshot.seq"), seqFile)
		var got testState
		seq, err := s.Restore(&got)
		if err == nil && (seq != 2 || !got.equal(stateFor(2, "fuzz"))) {
			t.Fatalf("Restore = seq %d, %+v", seq, got)
		}
		checkFallback(t, s, err)
		if _, err := s.List(); err != nil {
			t.Fatalf("List: %v", err)
		}
	})
}

// FuzzRestoreLegacy stores arbitrary bytes as a Rust-layout snapshot.
func FuzzRestoreLegacy(f *testing.F) {
	f.Add([]byte("{\n  \"counter\": 42,\n  \"message\": \"hello\"\n}"), []byte("10"))
	f.Add([]byte("{\n  \"counter\": 42,\n  \"mess"), []byte("10"))
	f.Add([]byte("[]"), []byte("x"))
	f.Add([]byte(""), []byte(""))
	f.Fuzz(func(t *testing.T, state, seqFile []byte) {
		s, m := openMem(t, nil)
		if err := vfs.MkdirAll(m, memDir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeAll(t, m, filepath.Join(memDir, "snapshot.json"), state)
		writeAll(t, m, filepath.Join(memDir, "snapshot.seq"), seqFile)
		var got rustState
		if _, err := s.Restore(&got); err != nil {
			var any any
			if json.Unmarshal(state, &any) == nil && errors.Is(err, minisnap.ErrCorrupt) && filepath.Base(errPath(err)) == "snapshot.json" {
				t.Fatalf("valid JSON reported as corrupt: %v", err)
			}
		}
		if _, err := s.List(); err != nil {
			t.Fatal(err)
		}
	})
}

func errPath(err error) string {
	if ce, ok := errors.AsType[*minisnap.CorruptError](err); ok {
		return ce.Path
	}
	return ""
}
