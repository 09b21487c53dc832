// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"strings"
	"testing"
)

func TestQuickstart(t *testing.T) {
	var out strings.Builder
	if err := run(&out, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"appended #3 {Kind:created Order:2}",
		"after reopening: appended #4, journal holds #1..#4",
		"  #4 shipped order 1",
		`{"seq":1,"sync":0,"rec":{"kind":"created","order":1},"crc":"`,
		"stock after restart: apple 15, pear 4, plum 7 (sequence 4)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
