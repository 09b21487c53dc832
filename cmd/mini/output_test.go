// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The bar's rate counts from when the work started: 10 MB read in 200 ms
// is about 50 MB/s, not the "(1000 GB/s)" of a clock started at the first
// update.
func TestProgressRate(t *testing.T) {
	var buf bytes.Buffer
	update, finish := progressTo(&buf, "reading", true)
	time.Sleep(200 * time.Millisecond)
	update(10e6, 20e6)
	time.Sleep(150 * time.Millisecond) // past the 100 ms throttle
	update(10e6+1, 20e6)
	finish()
	rates := regexp.MustCompile(`\(([0-9.]+) (B|kB|MB|GB|TB)/s\)`).FindAllStringSubmatch(buf.String(), -1)
	if len(rates) == 0 {
		t.Fatalf("no rate drawn: %q", buf.String())
	}
	scale := map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
	for _, m := range rates {
		v, _ := strconv.ParseFloat(m[1], 64)
		if rate := v * scale[m[2]]; rate > 60e6 { // 10 MB in ≥ 200 ms is ≤ 50 MB/s
			t.Errorf("rate %s %s/s drawn for 10 MB read in 200 ms or more:\n%q", m[1], m[2], buf.String())
		}
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 files"}, {1, "1 file"}, {2, "2 files"}} {
		if got := plural(tc.n, "file"); got != tc.want {
			t.Errorf("plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
