// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/mini-go/mini/ministore"
)

func TestStableStore_Set_Get(t *testing.T) {
	s := openStableStore(t)
	k, v := []byte("hello"), []byte("world")
	if _, err := s.Get(k); err == nil || err.Error() != "not found" {
		t.Fatalf("Get of a missing key: %v; raft needs the text \"not found\"", err)
	}
	if err := s.Set(k, v); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(k)
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("Get = %q, %v; want %q", got, err, v)
	}
	got[0] = 'W' // the caller's copy
	v[0] = 'X'   // the caller's value
	if got, _ := s.Get(k); string(got) != "world" {
		t.Fatalf("stored value changed through a caller's slice: %q", got)
	}
}

func TestStableStore_SetUint64_GetUint64(t *testing.T) {
	s := openStableStore(t)
	k, v := []byte("abc"), uint64(123)
	if _, err := s.GetUint64(k); err == nil || err.Error() != "not found" {
		t.Fatalf("GetUint64 of a missing key: %v", err)
	}
	if err := s.SetUint64(k, v); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetUint64(k); err != nil || got != v {
		t.Fatalf("GetUint64 = %d, %v; want %d", got, err, v)
	}
	// As in raft-boltdb, a uint64 is 8 bytes big-endian through Get, and
	// 8 bytes set with Set read back as a uint64.
	if b, err := s.Get(k); err != nil || !bytes.Equal(b, []byte{0, 0, 0, 0, 0, 0, 0, 123}) {
		t.Fatalf("Get of a uint64 = %x, %v", b, err)
	}
	if err := s.Set([]byte("raw"), []byte{0, 0, 0, 0, 0, 0, 1, 0}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetUint64([]byte("raw")); err != nil || got != 256 {
		t.Fatalf("GetUint64 of 8 set bytes = %d, %v", got, err)
	}
	if err := s.Set([]byte("short"), []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUint64([]byte("short")); err == nil {
		t.Fatal("GetUint64 of a 1-byte value succeeded")
	}
}

func TestStableStoreRecovery(t *testing.T) {
	s := openStableStore(t)
	path := s.j.Path()
	keys := map[string][]byte{
		"CurrentTerm":  nil,
		"LastVoteCand": []byte("127.0.0.1:7001"),
		"empty":        {},
		"\xff\x00bin":  {0xff, 0, '\n'},
	}
	for round := range 3 {
		if err := s.SetUint64([]byte("CurrentTerm"), uint64(round+1)); err != nil {
			t.Fatal(err)
		}
		for k, v := range keys {
			if v != nil {
				if err := s.Set([]byte(k), append(v, byte(round))); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	s.Close()
	s, err := OpenStableStore(path, quietOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.GetUint64([]byte("CurrentTerm")); err != nil || got != 3 {
		t.Fatalf("CurrentTerm after reopen = %d, %v", got, err)
	}
	for k, v := range keys {
		if v == nil {
			continue
		}
		if got, err := s.Get([]byte(k)); err != nil || !bytes.Equal(got, append(v, 2)) {
			t.Fatalf("%q after reopen = %q, %v", k, got, err)
		}
	}
}

func TestStableStoreCompacts(t *testing.T) {
	s := openStableStore(t)
	path := s.j.Path()
	const writes = 3000
	for i := range writes {
		if err := s.SetUint64(fmt.Appendf(nil, "k%d", i%5), uint64(i)); err != nil {
			t.Fatal(err)
		}
		if n := s.records; n > compactMin { // no other goroutine uses s
			t.Fatalf("after %d writes the journal holds %d records", i+1, n)
		}
	}
	if first := s.j.FirstSeq(); first < writes-compactMin {
		t.Fatalf("journal starts at record %d after %d writes", first, writes)
	}
	s.Close()
	s, err := OpenStableStore(path, quietOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for k := range 5 {
		if got, err := s.GetUint64(fmt.Appendf(nil, "k%d", k)); err != nil || got != uint64(writes-5+k) {
			t.Fatalf("k%d = %d, %v", k, got, err)
		}
	}
}

func TestStableStoreClosedAndLocked(t *testing.T) {
	s := openStableStore(t)
	if _, err := OpenStableStore(s.j.Path(), quietOpts(nil)); !errors.Is(err, ministore.ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	s.Close()
	if err := s.Set([]byte("a"), nil); err != ErrClosed {
		t.Fatalf("Set after Close: %v", err)
	}
	if _, err := s.Get([]byte("a")); err != ErrClosed {
		t.Fatalf("Get after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
