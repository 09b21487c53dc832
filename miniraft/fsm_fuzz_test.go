// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"slices"
	"testing"
)

// FuzzRestore feeds the fsm's snapshot parser arbitrary bytes: it returns
// an error or restores a state whose snapshot restores to the same
// sequence and request window; it never panics.
func FuzzRestore(f *testing.F) {
	f.Add([]byte(`{"seq":7,"state":{"ids":[1],"sum":1}}` + "\n"))
	f.Add([]byte(`{"seq":9,"state":{"ids":[],"sum":0},"requests":[{"id":"a","seq":3},{"id":"b","seq":5,"code":"refused","msg":"no"}]}`))
	f.Add([]byte(`{"seq":9,"state":null,"requests":[{"id":"a","seq":3},{"id":"a","seq":4}]}`))
	f.Add([]byte(`{"seq":1`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := newTestFSM(t)
		if err := a.Restore(readCloser(string(data))); err != nil {
			return
		}
		b, err := restoredCopy(t, a)
		if err != nil {
			t.Fatalf("a snapshot of a restored state does not restore: %v", err)
		}
		if a.sequence() != b.sequence() || !slices.Equal(a.reqs.list(), b.reqs.list()) {
			t.Fatalf("round trip: seq %d/%d, %d/%d request IDs", a.sequence(), b.sequence(), len(a.reqs.list()), len(b.reqs.list()))
		}
		// Every ID listed is found, with its record.
		for _, r := range b.reqs.list() {
			if got := b.reqs.get(r.ID); got == nil {
				t.Fatalf("ID %q listed but not found", r.ID)
			}
		}
	})
}

// FuzzRequestExt: an ID survives its log's Extensions; any Extensions
// decode to an ID or "", without panicking.
func FuzzRequestExt(f *testing.F) {
	f.Add("client7-42", []byte(`{"rid":"x"}`))
	f.Add("", []byte(`garbage`))
	f.Fuzz(func(t *testing.T, id string, ext []byte) {
		parseExt(ext)
		if checkRequestID(id) != nil {
			return
		}
		b, err := encodeRequestExt(id)
		if err != nil {
			t.Fatal(err)
		}
		got, _, _, err := parseExt(b)
		if err != nil || got != id {
			t.Fatalf("ID %q came back as %q", id, got)
		}
	})
}
