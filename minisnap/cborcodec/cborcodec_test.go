// SPDX-License-Identifier: MIT OR Apache-2.0

package cborcodec_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/cborcodec"
)

type record struct {
	ID      int64             `json:"id"`
	Name    string            `json:"name"`
	Created time.Time         `json:"created"`
	Tags    map[string]string `json:"tags,omitempty"`
}

type state struct {
	Records []record `json:"records"`
	Index   map[string]int
}

func bigState(n int) state {
	s := state{Index: map[string]int{}}
	base := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for i := range n {
		name := fmt.Sprintf("rec-%d", i)
		s.Records = append(s.Records, record{ID: int64(i), Name: name, Created: base.Add(time.Duration(i) * time.Nanosecond)})
		s.Index[name] = i
	}
	s.Records[0].Tags = map[string]string{"k": "v"}
	return s
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	store, err := minisnap.Open(dir, &minisnap.Options{Codec: cborcodec.New()})
	if err != nil {
		t.Fatal(err)
	}
	// More elements than the cbor library's default limit (131072).
	want := bigState(140_000)
	if err := store.Create(&want, 7); err != nil {
		t.Fatal(err)
	}
	var got state
	seq, err := store.Restore(&got)
	if err != nil || seq != 7 {
		t.Fatalf("Restore = %d, %v", seq, err)
	}
	if len(got.Records) != len(want.Records) || len(got.Index) != len(want.Index) || got.Records[0].Tags["k"] != "v" {
		t.Fatalf("Restore returned %d records, %d index entries", len(got.Records), len(got.Index))
	}
	for i, r := range got.Records {
		if !r.Created.Equal(want.Records[i].Created) || r.Name != want.Records[i].Name || got.Index[r.Name] != i {
			t.Fatalf("record %d = %+v, want %+v", i, r, want.Records[i])
		}
	}
	infos, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	if infos[0].Codec != "cbor" || filepath.Base(infos[0].Path) != "snapshot.cbor" {
		t.Errorf("Info = %+v", infos[0])
	}
}

func TestCorruptAndMismatch(t *testing.T) {
	dir := t.TempDir()
	js, _ := minisnap.Open(dir, nil)
	if err := js.Create(bigState(3), 1); err != nil {
		t.Fatal(err)
	}
	js.Close() // one writer at a time; reopen it read-only below
	js, _ = minisnap.Open(dir, &minisnap.Options{ReadOnly: true})
	cs, err := minisnap.Open(dir, &minisnap.Options{Codec: cborcodec.New()})
	if err != nil {
		t.Fatal(err)
	}
	// A CBOR store still restores the older JSON snapshot.
	var got state
	if seq, err := cs.Restore(&got); err != nil || seq != 1 || len(got.Records) != 3 {
		t.Fatalf("cbor store restoring json = %d, %v", seq, err)
	}
	if err := cs.Create(bigState(3), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Restore(&got); !errors.Is(err, minisnap.ErrCodec) {
		t.Fatalf("json store restoring cbor = %v, want ErrCodec", err)
	}
	path := filepath.Join(dir, "snap-00000000000000000002", "snapshot.cbor")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = cs.Restore(&got)
	if ce, ok := errors.AsType[*minisnap.CorruptError](err); !ok || ce.Path != path {
		t.Fatalf("Restore of a damaged cbor snapshot = %v, want a *CorruptError naming %s", err, path)
	}
}

func FuzzDecode(f *testing.F) {
	c := cborcodec.New()
	f.Add([]byte{0xa1, 0x61, 0x61, 0x01})
	f.Add([]byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s state
		_ = c.Decode(bytes.NewReader(data), &s)
		var v any
		_ = c.Decode(bytes.NewReader(data), &v)
	})
}

func Example() {
	dir, err := os.MkdirTemp("", "cborcodec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := minisnap.Open(dir, &minisnap.Options{Codec: cborcodec.New()})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Create(map[string]int{"a": 1, "b": 2}, 5); err != nil {
		log.Fatal(err)
	}
	var m map[string]int
	seq, err := store.Restore(&m)
	if err != nil {
		log.Fatal(err)
	}
	infos, _ := store.List()
	fmt.Println(seq, m["a"], m["b"], infos[0].Codec, infos[0].Size, filepath.Base(infos[0].Path))
	// Output: 5 1 2 cbor 7 snapshot.cbor
}
