// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/vfs"
)

func TestOpenMissingDir(t *testing.T) {
	s, m := openMem(t, nil)
	if s.Exists() {
		t.Error("Exists on a missing directory = true")
	}
	if s.Dir() != memDir {
		t.Errorf("Dir = %q, want %q", s.Dir(), memDir)
	}
	if ok, _ := vfs.Exists(m, memDir); ok {
		t.Error("Open created the directory")
	}
	var st testState
	if _, err := s.Restore(&st); !errors.Is(err, minisnap.ErrNotFound) {
		t.Errorf("Restore = %v, want ErrNotFound", err)
	}
	if _, err := s.RestoreTo(func(io.Reader, minisnap.Info) error { return nil }); !errors.Is(err, minisnap.ErrNotFound) {
		t.Errorf("RestoreTo = %v, want ErrNotFound", err)
	}
	if infos := mustList(t, s); len(infos) != 0 {
		t.Errorf("List = %v, want none", infos)
	}
	mustCreate(t, s, 1, "a")
	if !s.Exists() {
		t.Error("Exists after Create = false")
	}
}

func TestOpenErrors(t *testing.T) {
	m := vfs.NewMem()
	writeAll(t, m, "/file", []byte("x"))
	tests := []struct {
		name string
		dir  string
		opts *minisnap.Options
	}{
		{"empty dir", "", nil},
		{"dir is a file", "/file", &minisnap.Options{FS: m}},
		{"codec without name", "/d", &minisnap.Options{FS: m, Codec: fakeCodec{name: "", ext: ".x"}}},
		{"codec name with space", "/d", &minisnap.Options{FS: m, Codec: fakeCodec{name: "a b", ext: ".x"}}},
		{"ext without dot", "/d", &minisnap.Options{FS: m, Codec: fakeCodec{name: "x", ext: "x"}}},
		{"ext with slash", "/d", &minisnap.Options{FS: m, Codec: fakeCodec{name: "x", ext: ".a/b"}}},
		{"ext .seq", "/d", &minisnap.Options{FS: m, Codec: fakeCodec{name: "x", ext: ".seq"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := minisnap.Open(tt.dir, tt.opts); err == nil {
				t.Fatal("Open succeeded")
			} else if !strings.HasPrefix(err.Error(), "minisnap: ") {
				t.Errorf("error %q lacks the minisnap: prefix", err)
			}
		})
	}
}

func TestOptionsNotMutated(t *testing.T) {
	m := vfs.NewMem()
	opts := minisnap.Options{FS: m}
	want := opts
	s, err := minisnap.Open(memDir, &opts)
	if err != nil {
		t.Fatal(err)
	}
	if opts != want {
		t.Errorf("Open changed the options: %+v, want %+v", opts, want)
	}
	mustCreate(t, s, 1, "a")
	if opts != want {
		t.Errorf("Create changed the options: %+v", opts)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		seqs  []uint64
		codec minisnap.Codec
	}{
		{"one", []uint64{7}, nil},
		{"seq zero", []uint64{0}, nil},
		{"max seq", []uint64{1<<64 - 1}, nil},
		{"several", []uint64{1, 5, 9, 200}, nil},
		{"repeated seq", []uint64{3, 3, 3}, nil},
		{"compact json", []uint64{1, 2}, minisnap.JSONCodec{Compact: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openMem(t, &minisnap.Options{Codec: tt.codec})
			var last testState
			for i, seq := range tt.seqs {
				last = mustCreate(t, s, seq, fmt.Sprint("create-", i))
			}
			got, seq := mustRestore(t, s)
			if want := tt.seqs[len(tt.seqs)-1]; seq != want || !got.equal(last) {
				t.Fatalf("Restore = %+v, %d; want %+v, %d", got, seq, last, want)
			}
		})
	}
}

func TestRealFS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "snaps")
	s, err := minisnap.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want testState
	for seq := range uint64(4) {
		want = mustCreate(t, s, seq+1, "os")
	}
	got, seq := mustRestore(t, s)
	if seq != 4 || !got.equal(want) {
		t.Fatalf("Restore = %+v, %d", got, seq)
	}
	if infos := mustList(t, s); !slices.Equal(seqsOf(infos), []uint64{4, 3}) {
		t.Fatalf("List seqs = %v, want [4 3]", seqsOf(infos))
	}
	// Reopen, as after a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := minisnap.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, seq := mustRestore(t, s2); seq != 4 || !got.equal(want) {
		t.Fatalf("Restore after reopen = %+v, %d", got, seq)
	}
}

func TestKeep(t *testing.T) {
	tests := []struct {
		keep int
		want []uint64
	}{
		{0, []uint64{6, 5}},
		{1, []uint64{6}},
		{2, []uint64{6, 5}},
		{4, []uint64{6, 5, 4, 3}},
		{-1, []uint64{6, 5, 4, 3, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("keep=", tt.keep), func(t *testing.T) {
			s, m := openMem(t, &minisnap.Options{Keep: tt.keep})
			for seq := uint64(1); seq <= 6; seq++ {
				mustCreate(t, s, seq, "k")
			}
			if got := seqsOf(mustList(t, s)); !slices.Equal(got, tt.want) {
				t.Errorf("List seqs = %v, want %v", got, tt.want)
			}
			names, _ := m.ReadDir(memDir)
			names = slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, "snap-") })
			if len(names) != len(tt.want) {
				t.Errorf("directory holds %v, want %d snapshot directories", names, len(tt.want))
			}
		})
	}
}

func TestSeqOrder(t *testing.T) {
	s, _ := openMem(t, &minisnap.Options{Keep: -1})
	mustCreate(t, s, 10, "first")
	err := s.Create(stateFor(9, "x"), 9)
	if !errors.Is(err, minisnap.ErrOutOfOrder) {
		t.Fatalf("Create below newest = %v, want ErrOutOfOrder", err)
	}
	second := mustCreate(t, s, 10, "second")
	third := mustCreate(t, s, 10, "third")
	got, seq := mustRestore(t, s)
	if seq != 10 || !got.equal(third) {
		t.Fatalf("Restore = %+v, want the third create", got)
	}
	infos := mustList(t, s)
	if !slices.Equal(seqsOf(infos), []uint64{10, 10, 10}) {
		t.Fatalf("List = %v", seqsOf(infos))
	}
	var older testState
	if err := s.Load(infos[1], func(r io.Reader) error { return json.NewDecoder(r).Decode(&older) }); err != nil {
		t.Fatal(err)
	}
	if !older.equal(second) {
		t.Errorf("Load(infos[1]) = %+v, want the second create", older)
	}
}

func TestClosed(t *testing.T) {
	s, _ := openMem(t, nil)
	mustCreate(t, s, 1, "a")
	infos := mustList(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var st testState
	calls := map[string]error{
		"Create":     s.Create(st, 2),
		"CreateFrom": s.CreateFrom(2, func(io.Writer) error { return nil }),
		"Load":       s.Load(infos[0], func(io.Reader) error { return nil }),
	}
	_, calls["Restore"] = s.Restore(&st)
	_, _, calls["RestoreLatestGood"] = s.RestoreLatestGood(&st)
	_, calls["RestoreTo"] = s.RestoreTo(func(io.Reader, minisnap.Info) error { return nil })
	_, calls["List"] = s.List()
	for name, err := range calls {
		if !errors.Is(err, minisnap.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if s.Exists() {
		t.Error("Exists after Close = true")
	}
}

func TestRestoreTarget(t *testing.T) {
	s, _ := openMem(t, nil)
	mustCreate(t, s, 1, "a")
	var nilPtr *testState
	for _, target := range []any{nil, testState{}, nilPtr} {
		if _, err := s.Restore(target); err == nil {
			t.Errorf("Restore(%T) succeeded", target)
		}
	}
	// Restore replaces the value; it does not merge into it.
	st := testState{Labels: map[string]string{"stale": "yes"}, Tag: "old"}
	if _, err := s.Restore(&st); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Labels["stale"]; ok || !st.equal(stateFor(1, "a")) {
		t.Errorf("Restore merged into the old value: %+v", st)
	}
	// Any pointer works, as for json.Unmarshal.
	var generic any
	if seq, err := s.Restore(&generic); err != nil || seq != 1 {
		t.Fatalf("Restore(*any) = %d, %v", seq, err)
	}
	if m, ok := generic.(map[string]any); !ok || m["tag"] != "a" {
		t.Errorf("Restore(*any) = %#v", generic)
	}
}

func TestLayout(t *testing.T) {
	s, m := openMem(t, nil)
	before := time.Now().UTC()
	st := mustCreate(t, s, 42, "layout")
	infos := mustList(t, s)
	if len(infos) != 1 {
		t.Fatalf("List = %v", infos)
	}
	info := infos[0]
	wantDir := filepath.Join(memDir, "snap-00000000000000000042")
	if info.Path != filepath.Join(wantDir, "snapshot.json") {
		t.Errorf("Path = %q", info.Path)
	}
	data := readAll(t, m, info.Path)
	pretty, _ := json.MarshalIndent(st, "", "  ")
	if !bytes.Equal(data, pretty) {
		t.Errorf("snapshot.json is not two-space pretty JSON without a trailing newline:\n%s", data)
	}
	if got := string(readAll(t, m, filepath.Join(wantDir, "snapshot.seq"))); got != "42" {
		t.Errorf("snapshot.seq = %q, want \"42\"", got)
	}
	var meta map[string]any
	if err := json.Unmarshal(readAll(t, m, filepath.Join(wantDir, "meta.json")), &meta); err != nil {
		t.Fatalf("meta.json: %v", err)
	}
	if meta["seq"] != 42.0 || meta["codec"] != "json" || meta["file"] != "snapshot.json" || meta["size"] != float64(len(data)) {
		t.Errorf("meta.json = %v", meta)
	}
	if info.Seq != 42 || info.Size != int64(len(data)) || info.Codec != "json" || info.Legacy || info.Err != nil {
		t.Errorf("Info = %+v", info)
	}
	if info.Time.Before(before.Add(-time.Second)) || info.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("Info.Time = %v, want about %v", info.Time, before)
	}
}

func TestLeftoversRemovedOnOpen(t *testing.T) {
	s, m := openMem(t, nil)
	want := mustCreate(t, s, 1, "a")
	for _, dir := range []string{".tmp-snap-2-ABCDEFGH", ".tmp-del-snap-00000000000000000000"} {
		p := filepath.Join(memDir, dir)
		if err := m.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		writeAll(t, m, filepath.Join(p, "snapshot.json"), []byte(`{"half`))
	}
	other := filepath.Join(memDir, "notes.txt") // not ours: left alone
	writeAll(t, m, other, []byte("keep me"))
	// A second writer is locked out while the first is open...
	if _, err := minisnap.Open(memDir, &minisnap.Options{FS: m}); !errors.Is(err, minisnap.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	// ...and a reader removes nothing.
	ro, err := minisnap.Open(memDir, &minisnap.Options{FS: m, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if left := tempEntries(t, m, memDir); len(left) != 2 {
		t.Errorf("a read-only Open removed leftovers: %v", left)
	}
	if err := ro.Create("x", 9); !errors.Is(err, minisnap.ErrReadOnly) {
		t.Errorf("Create on a read-only Store = %v", err)
	}
	s.Close()
	s2, err := minisnap.Open(memDir, &minisnap.Options{FS: m})
	if err != nil {
		t.Fatal(err)
	}
	if left := tempEntries(t, m, memDir); len(left) != 0 {
		t.Errorf("Open left %v", left)
	}
	if ok, _ := vfs.Exists(m, other); !ok {
		t.Error("Open removed a file that is not its own")
	}
	if got, _ := mustRestore(t, s2); !got.equal(want) {
		t.Errorf("Restore = %+v", got)
	}
}

// A symbolic link in a leftover directory is removed, not followed: the
// directory it points to, outside the snapshots, keeps its files.
func TestLeftoverLinkNotFollowed(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	keep := filepath.Join(outside, "keep.txt")
	if err := os.WriteFile(keep, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".tmp-snap-2-ABCDEFGH")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(tmp, "link")); err != nil {
		t.Skip("no symbolic links:", err)
	}
	s, err := minisnap.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("leftover %s still there: %v", tmp, err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the file the leftover's link points to: %v", err)
	}
}

func TestCreateFromAndRestoreTo(t *testing.T) {
	s, m := openMem(t, nil)
	// A state larger than the internal buffers, written in small pieces.
	var want bytes.Buffer
	want.WriteString("[")
	for i := range 200_000 {
		if i > 0 {
			want.WriteString(",")
		}
		fmt.Fprintf(&want, "%d", i)
	}
	want.WriteString("]")
	err := s.CreateFrom(5, func(w io.Writer) error {
		for chunk := range slices.Chunk(want.Bytes(), 1000) {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	seq, err := s.RestoreTo(func(r io.Reader, info minisnap.Info) error {
		if info.Seq != 5 || info.Size != int64(want.Len()) {
			t.Errorf("info = %+v", info)
		}
		_, err := io.Copy(&got, r)
		return err
	})
	if err != nil || seq != 5 {
		t.Fatalf("RestoreTo = %d, %v", seq, err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("RestoreTo returned other bytes")
	}
	var ints []int
	if _, err := s.Restore(&ints); err != nil || len(ints) != 200_000 || ints[199_999] != 199_999 {
		t.Fatalf("Restore = %d ints, %v", len(ints), err)
	}

	// A failing writer: its error comes back, nothing is left behind.
	boom := errors.New("boom")
	if err := s.CreateFrom(6, func(w io.Writer) error {
		w.Write([]byte("[1,2"))
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("CreateFrom = %v, want boom", err)
	}
	if left := tempEntries(t, m, memDir); len(left) != 0 {
		t.Errorf("failed CreateFrom left %v", left)
	}
	if seq, err := s.RestoreTo(func(r io.Reader, _ minisnap.Info) error { return nil }); err != nil || seq != 5 {
		t.Fatalf("after failed CreateFrom: RestoreTo = %d, %v", seq, err)
	}
	// An error from the reader callback comes back wrapped.
	if _, err := s.RestoreTo(func(io.Reader, minisnap.Info) error { return boom }); !errors.Is(err, boom) || errors.Is(err, minisnap.ErrCorrupt) {
		t.Fatalf("RestoreTo = %v, want boom", err)
	}
}

// fakeCodec is a trivial non-JSON codec: fmt's %q of a string.
type fakeCodec struct{ name, ext string }

func (c fakeCodec) Name() string { return c.name }
func (c fakeCodec) Ext() string  { return c.ext }
func (fakeCodec) Encode(w io.Writer, v any) error {
	_, err := fmt.Fprintf(w, "%q", *v.(*string))
	return err
}
func (fakeCodec) Decode(r io.Reader, v any) error {
	_, err := fmt.Fscanf(r, "%q", v.(*string))
	return err
}

func TestCodecs(t *testing.T) {
	m := vfs.NewMem()
	qc := fakeCodec{name: "quoted", ext: ".q"}
	js, _ := minisnap.Open(memDir, &minisnap.Options{FS: m, Keep: -1})
	if err := js.Create("from json", 1); err != nil {
		t.Fatal(err)
	}
	js.Close() // one writer at a time; reopen it read-only
	js, _ = minisnap.Open(memDir, &minisnap.Options{FS: m, ReadOnly: true})
	qs, err := minisnap.Open(memDir, &minisnap.Options{FS: m, Keep: -1, Codec: qc})
	if err != nil {
		t.Fatal(err)
	}
	// A store with another codec still reads JSON snapshots.
	var got string
	if seq, err := qs.Restore(&got); err != nil || seq != 1 || got != "from json" {
		t.Fatalf("quoted store restoring json = %q, %d, %v", got, seq, err)
	}
	v := "from quoted"
	if err := qs.Create(&v, 2); err != nil {
		t.Fatal(err)
	}
	if ok, _ := vfs.Exists(m, filepath.Join(memDir, "snap-00000000000000000002", "snapshot.q")); !ok {
		t.Error("state file is not named after the codec's extension")
	}
	if seq, err := qs.Restore(&got); err != nil || seq != 2 || got != v {
		t.Fatalf("quoted round trip = %q, %d, %v", got, seq, err)
	}
	// The JSON store cannot decode it, and says why.
	_, err = js.Restore(&got)
	if !errors.Is(err, minisnap.ErrCodec) || !strings.Contains(err.Error(), `"quoted"`) {
		t.Fatalf("json store restoring quoted = %v, want ErrCodec naming it", err)
	}
	if infos := mustList(t, js); infos[0].Codec != "quoted" || infos[1].Codec != "json" {
		t.Errorf("List codecs = %q, %q", infos[0].Codec, infos[1].Codec)
	}
}

func TestConcurrent(t *testing.T) {
	s, _ := openMem(t, nil)
	mustCreate(t, s, 0, "w")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := uint64(1); seq <= 50; seq++ {
			if err := s.Create(stateFor(seq, "w"), seq); err != nil {
				t.Errorf("Create: %v", err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			if _, seq := mustRestore(t, s); seq != 50 {
				t.Errorf("final seq %d", seq)
			}
			return
		default:
		}
		var st testState
		seq, err := s.Restore(&st)
		if err != nil {
			t.Fatalf("Restore during Create: %v", err)
		}
		if !st.equal(stateFor(seq, "w")) {
			t.Fatalf("Restore = seq %d with state %+v", seq, st)
		}
		if _, err := s.List(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMissingDirIsNotAnError(t *testing.T) {
	// A Store whose directory disappears behaves like a new one.
	s, m := openMem(t, nil)
	mustCreate(t, s, 1, "a")
	infos := mustList(t, s)
	for _, p := range []string{infos[0].Path, filepath.Join(snapDir(infos[0]), "snapshot.seq"), filepath.Join(snapDir(infos[0]), "meta.json"), snapDir(infos[0]), filepath.Join(memDir, ".minisnap.lock"), memDir} {
		if err := m.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if s.Exists() {
		t.Error("Exists = true")
	}
	mustCreate(t, s, 2, "b")
	if _, seq := mustRestore(t, s); seq != 2 {
		t.Errorf("seq = %d", seq)
	}
}
