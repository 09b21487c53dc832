// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"testing"
)

func TestDirNames(t *testing.T) {
	tests := []struct {
		name     string
		seq, gen uint64
		ok       bool
	}{
		{"snap-00000000000000000000", 0, 0, true},
		{"snap-00000000000000000042", 42, 0, true},
		{"snap-00000000000000000042.1", 42, 1, true},
		{"snap-18446744073709551615.12", 1<<64 - 1, 12, true},
		{"snap-18446744073709551616", 0, 0, false}, // overflows
		{"snap-0000000000000000042", 0, 0, false},  // 19 digits
		{"snap-00000000000000000042.0", 0, 0, false},
		{"snap-00000000000000000042.01", 0, 0, false},
		{"snap-00000000000000000042.", 0, 0, false},
		{"snap-00000000000000000042x", 0, 0, false},
		{"snap-+0000000000000000042", 0, 0, false},
		{".tmp-snap-42-ABCDEFGH", 0, 0, false},
		{"snapshot.json", 0, 0, false},
	}
	for _, tt := range tests {
		seq, gen, ok := parseDirName(tt.name)
		if ok != tt.ok || seq != tt.seq || gen != tt.gen {
			t.Errorf("parseDirName(%q) = %d, %d, %v; want %d, %d, %v", tt.name, seq, gen, ok, tt.seq, tt.gen, tt.ok)
		}
		if tt.ok && dirName(seq, gen) != tt.name {
			t.Errorf("dirName(%d, %d) = %q, want %q", seq, gen, dirName(seq, gen), tt.name)
		}
	}
}

func FuzzDirName(f *testing.F) {
	f.Add("snap-00000000000000000042.3")
	f.Add("snap-99999999999999999999")
	f.Fuzz(func(t *testing.T, name string) {
		seq, gen, ok := parseDirName(name)
		if ok && dirName(seq, gen) != name {
			t.Fatalf("parseDirName(%q) = %d, %d but dirName gives %q", name, seq, gen, dirName(seq, gen))
		}
	})
}
