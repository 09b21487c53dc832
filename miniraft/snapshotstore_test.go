// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/minisnap"
)

func openSnapshotStore(tb testing.TB, dir string, keep int) *SnapshotStore {
	tb.Helper()
	s, err := OpenSnapshotStore(dir, &StoreOptions{Logger: testutil.Quiet(), KeepSnapshots: keep})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

var testConfig = raft.Configuration{Servers: []raft.Server{
	{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7001"},
	{Suffrage: raft.Nonvoter, ID: "n2", Address: "127.0.0.1:7002"},
}}

func createSnapshot(tb testing.TB, s *SnapshotStore, index, term uint64, data []byte) string {
	tb.Helper()
	sink, err := s.Create(raft.SnapshotVersionMax, index, term, testConfig, 2, nil)
	if err != nil {
		tb.Fatal(err)
	}
	// Write in pieces, as an FSM's Persist does.
	for len(data) > 0 {
		n := min(len(data), 1000)
		if _, err := sink.Write(data[:n]); err != nil {
			tb.Fatal(err)
		}
		data = data[n:]
	}
	if err := sink.Close(); err != nil {
		tb.Fatal(err)
	}
	return sink.ID()
}

func readSnapshot(tb testing.TB, s *SnapshotStore, id string) (*raft.SnapshotMeta, []byte, error) {
	tb.Helper()
	meta, rc, err := s.Open(id)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return meta, b, err
}

func TestSnapshotStoreCreateListOpen(t *testing.T) {
	dir := t.TempDir()
	s := openSnapshotStore(t, dir, 0)
	if metas, err := s.List(); err != nil || len(metas) != 0 {
		t.Fatalf("List of an empty store = %v, %v", metas, err)
	}
	data := bytes.Repeat([]byte("state\n"), 5000)
	id := createSnapshot(t, s, 10, 3, data)

	metas, err := s.List()
	if err != nil || len(metas) != 1 {
		t.Fatalf("List = %v, %v", metas, err)
	}
	want := raft.SnapshotMeta{Version: raft.SnapshotVersionMax, ID: id, Index: 10, Term: 3,
		Configuration: testConfig, ConfigurationIndex: 2, Size: int64(len(data))}
	if !reflect.DeepEqual(*metas[0], want) {
		t.Fatalf("List()[0] = %+v\nwant %+v", *metas[0], want)
	}
	meta, got, err := readSnapshot(t, s, id)
	if err != nil || !bytes.Equal(got, data) || !reflect.DeepEqual(*meta, want) {
		t.Fatalf("Open: %+v, %d bytes, %v", meta, len(got), err)
	}

	// The metadata survives a reopen: it is in the file, not in memory.
	s.Close()
	s = openSnapshotStore(t, dir, 0)
	metas, err = s.List()
	if err != nil || len(metas) != 1 || !reflect.DeepEqual(*metas[0], want) {
		t.Fatalf("List after reopen = %v, %v", metas, err)
	}
	if _, _, err := s.Open("no-such-id"); err == nil {
		t.Fatal("Open of an unknown id succeeded")
	}
}

func TestSnapshotStoreRetentionAndOrder(t *testing.T) {
	s := openSnapshotStore(t, t.TempDir(), 3)
	var ids []string
	for i := uint64(1); i <= 5; i++ {
		ids = append(ids, createSnapshot(t, s, i*10, 1, []byte{byte(i)}))
	}
	// The same index again (a user restore can do that) is newer.
	ids = append(ids, createSnapshot(t, s, 50, 2, []byte{6}))
	metas, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range metas {
		got = append(got, m.ID)
	}
	if want := []string{ids[5], ids[4], ids[3]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %v, want the newest three %v", got, want)
	}
	// An older index than the newest is refused by minisnap.
	sink, err := s.Create(1, 5, 1, testConfig, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink.Write([]byte("x"))
	if err := sink.Close(); !errors.Is(err, minisnap.ErrOutOfOrder) {
		t.Fatalf("Close of an out-of-order snapshot: %v", err)
	}
}

func TestSnapshotStoreCancel(t *testing.T) {
	dir := t.TempDir()
	s := openSnapshotStore(t, dir, 0)
	sink, err := s.Create(1, 10, 1, testConfig, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if err := sink.Cancel(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Cancel(); err != nil {
		t.Fatalf("second Cancel: %v", err)
	}
	if metas, err := s.List(); err != nil || len(metas) != 0 {
		t.Fatalf("List after Cancel = %v, %v", metas, err)
	}
	names, _ := os.ReadDir(dir)
	for _, e := range names {
		if e.Name() != ".minisnap.lock" {
			t.Fatalf("Cancel left %s in the directory", e.Name())
		}
	}
	// Unsupported versions are refused up front.
	if _, err := s.Create(raft.SnapshotVersionMax+1, 10, 1, testConfig, 1, nil); err == nil {
		t.Fatal("Create of an unknown version succeeded")
	}
}

func TestSnapshotStoreDamage(t *testing.T) {
	dir := t.TempDir()
	s := openSnapshotStore(t, dir, 0)
	old := createSnapshot(t, s, 10, 1, []byte("old state"))
	id := createSnapshot(t, s, 20, 1, bytes.Repeat([]byte("new state "), 1000))
	files, _ := filepath.Glob(filepath.Join(dir, "snap-*20", "snapshot.raft"))
	if len(files) != 1 {
		t.Fatalf("state files: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"id":"`+id+`","version":1,"term":1,"index":20,"configurationIndex":2,"servers":[`) {
		t.Fatalf("header: %.200s", b)
	}
	// A flipped byte in the FSM's data: the reader fails at the end.
	b[len(b)-10] ^= 1
	if err := os.WriteFile(files[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readSnapshot(t, s, id); !errors.Is(err, minisnap.ErrCorrupt) {
		t.Fatalf("reading a damaged snapshot: %v, want minisnap.ErrCorrupt", err)
	}
	// A damaged header: List leaves the snapshot out, the older one stays.
	b[2] = '!'
	if err := os.WriteFile(files[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openSnapshotStore(t, dir, 0)
	metas, err := s.List()
	if err != nil || len(metas) != 1 || metas[0].ID != old {
		t.Fatalf("List with a damaged header = %v, %v", metas, err)
	}
	if _, got, err := readSnapshot(t, s, old); err != nil || string(got) != "old state" {
		t.Fatalf("older snapshot: %q, %v", got, err)
	}
}

// Closing the reader early must not leave the store blocked.
func TestSnapshotStoreEarlyClose(t *testing.T) {
	s := openSnapshotStore(t, t.TempDir(), 0)
	id := createSnapshot(t, s, 10, 1, bytes.Repeat([]byte("x"), 1<<20))
	_, rc, err := s.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	createSnapshot(t, s, 11, 1, []byte("next"))
}
