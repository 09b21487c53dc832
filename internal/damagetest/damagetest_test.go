// SPDX-License-Identifier: MIT OR Apache-2.0

package damagetest

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestVariants(t *testing.T) {
	data := []byte("ab\ncd\n")
	count := map[string]int{}
	seen := map[string]bool{}
	for v := range Variants(data, nil) {
		if seen[v.Name] {
			t.Errorf("variant %s yielded twice", v.Name)
		}
		seen[v.Name] = true
		count[v.Kind]++
		if bytes.Equal(v.Data, data) {
			t.Errorf("variant %s equals the original", v.Name)
		}
	}
	if !bytes.Equal(data, []byte("ab\ncd\n")) {
		t.Fatalf("Variants changed its input: %q", data)
	}
	// DefaultBytes has 8 values; '\n' at offsets 2 and 5 skips one each.
	for _, tc := range []struct {
		kind string
		want int
	}{
		{KindFlip, 6 * 8},
		{KindByte, 6*len(DefaultBytes) - 2},
		{KindTruncate, 6},
		{KindZero512, 1},
		{KindZero4096, 1},
		{KindSpaceLine, 2},
		{KindCRLFLine, 2},
		{KindDropLine, 2},
		{KindDupLine, 2},
		{KindSpaceAll, 3},
		{KindCRLFAll, 1},
	} {
		if count[tc.kind] != tc.want {
			t.Errorf("%s: %d variants, want %d", tc.kind, count[tc.kind], tc.want)
		}
	}
}

func TestVariantEdits(t *testing.T) {
	data := []byte("ab\ncd\n")
	want := map[string]string{
		"flip@0.0":       "`b\ncd\n",
		"byte@4=0x20":    "ab\nc \n",
		"truncate@4":     "ab\nc",
		"zero512@0":      "\x00\x00\x00\x00\x00\x00",
		"space-line@2":   "ab\ncd \n",
		"crlf-line@1":    "ab\r\ncd\n",
		"drop-line@1":    "cd\n",
		"dup-line@2":     "ab\ncd\ncd\n",
		`space-all="\t"`: "ab\t\ncd\t\n",
		"crlf-all":       "ab\r\ncd\r\n",
		`space-all="  "`: "ab  \ncd  \n",
	}
	got := map[string]string{}
	for v := range Variants(data, nil) {
		got[v.Name] = string(v.Data)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %q, want %q", name, got[name], w)
		}
	}
}

func TestOptions(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100)
	n := 0
	for v := range Variants(data, &Options{Kinds: []string{KindTruncate}, Offsets: func(off int) bool { return off%10 == 0 }}) {
		if v.Kind != KindTruncate || v.Offset%10 != 0 {
			t.Fatalf("unexpected variant %s", v.Name)
		}
		n++
	}
	if n != 10 {
		t.Fatalf("%d variants, want 10", n)
	}
	// Stopping early must not panic.
	for range Variants(data, nil) {
		break
	}
}

func TestCounter(t *testing.T) {
	var c Counter
	c.Add(TypedError, Variant{Name: "a", Kind: KindFlip})
	c.Add(Intact, Variant{Name: "b", Kind: KindByte})
	c.Add(TypedError, Variant{Name: "c", Kind: KindByte})
	if c.Total() != 3 || c.Count(TypedError) != 2 || c.Count(Intact) != 1 || c.Count(TornTail) != 0 {
		t.Fatalf("counts wrong: %s", c.String())
	}
	if got, want := c.String(), "3 variants: typed error 2, intact 1"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	c.Log(t)
}

func TestGuard(t *testing.T) {
	if err := Guard(time.Second, func() {}); err != nil {
		t.Fatal(err)
	}
	if err := Guard(time.Second, func() { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic not reported: %v", err)
	}
	block := make(chan struct{})
	defer close(block)
	if err := Guard(10*time.Millisecond, func() { <-block }); err == nil || !strings.Contains(err.Error(), "hang") {
		t.Fatalf("hang not reported: %v", err)
	}
}

func TestSample(t *testing.T) {
	t.Setenv("MINI_DAMAGE_FULL", "")
	data := []byte(strings.Repeat("0123456789012345678901234567890123456789\n", 10))
	keep := Sample(data, 10)
	kept := 0
	for off := range data {
		if keep(off) {
			kept++
		}
	}
	for _, off := range []int{0, 63, 40, 38, 42, 81} {
		if !keep(off) {
			t.Errorf("offset %d not kept", off)
		}
	}
	if kept >= len(data)/2 {
		t.Errorf("kept %d of %d offsets", kept, len(data))
	}
	t.Setenv("MINI_DAMAGE_FULL", "1")
	if Sample(data, 10) != nil {
		t.Error("MINI_DAMAGE_FULL=1 samples")
	}
}
