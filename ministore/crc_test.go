// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"math/rand/v2"
	"testing"
)

func TestCRCConcat(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ lenA, lenB int }{
		{0, 0}, {0, 1}, {1, 0}, {30, 1}, {30, 4096}, {7, 16 << 10}, {100, 1<<20 + 3}, {1, 255}, {64, 65537},
	} {
		a, b := make([]byte, tc.lenA), make([]byte, tc.lenB)
		for i := range a {
			a[i] = byte(rnd.Uint32())
		}
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		want := checksum(append(append([]byte{}, a...), b...))
		if got := crcConcat(checksum(a), checksum(b), len(b)); got != want {
			t.Errorf("lengths %d+%d: crcConcat = %08x, want %08x", tc.lenA, tc.lenB, got, want)
		}
	}
}

func FuzzCRCConcat(f *testing.F) {
	f.Add([]byte(`{"seq":1,"sync":0,"rec":`), []byte(`{"k":"v"}`))
	f.Add([]byte{}, []byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		want := checksum(append(append([]byte{}, a...), b...))
		if got := crcConcat(checksum(a), checksum(b), len(b)); got != want {
			t.Fatalf("crcConcat(%q, %q) = %08x, want %08x", a, b, got, want)
		}
	})
}

func BenchmarkCRCConcat(b *testing.B) {
	for b.Loop() {
		crcConcat(0x12345678, 0x9abcdef0, 16<<10)
	}
}

// crcConcat is crcConcatShift for a b of lenB bytes.
func crcConcat(crcA, crcB uint32, lenB int) uint32 {
	return crcConcatShift(crcA, crcB, xPow8n(uint64(lenB)))
}
