// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/ministore"
)

// Issue #13, item 3: the '\n' ending record 19 of 20 damaged. Record 20
// says 19 was durable, so verify must call it corruption, not a torn tail,
// and cat must fail instead of printing 18 records and exiting 0.
func TestLogDamageNotTorn(t *testing.T) {
	for _, c := range []byte{0x00, ' ', '7', 0xff} {
		path := filepath.Join(t.TempDir(), "j.log")
		s, err := ministore.Open[map[string]int](path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 20; i++ {
			if _, err := s.Append(map[string]int{"n": i}); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		b, _ := os.ReadFile(path)
		lines := bytes.SplitAfter(b, []byte("\n"))
		off := 0
		for _, l := range lines[:20] { // the header and records 1 to 19
			off += len(l)
		}
		line19 := off - len(lines[19])
		b[off-1] = c
		os.WriteFile(path, b, 0o644)

		r := mini(t, "log", "verify", path)
		r.want(t, 1, "", "corrupt: "+path+" line 20, byte offset "+itoa(line19)+": ")
		if !strings.Contains(r.stderr, "not a torn write") || strings.Contains(r.stderr, "torn tail:") {
			t.Fatalf("byte %#x: verify: %q", c, r.stderr)
		}
		r = mini(t, "log", "cat", path)
		r.want(t, 1, `{"seq":18,`, "corrupt journal: "+path+":20")
	}
}
