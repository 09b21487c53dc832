// SPDX-License-Identifier: MIT OR Apache-2.0

// Package damagetest generates damaged copies of a file, for tests that
// check a reader tells damage from a crash, and counts how each copy was
// judged.
//
// A test takes the bytes of a good file, ranges over [Variants], writes
// each variant in place of the file, opens or reads it, and files the
// outcome under a class in a [Counter]:
//
//	var c damagetest.Counter
//	for v := range damagetest.Variants(good, nil) {
//		class := check(t, v) // write v.Data, open, compare; fail on a lost record
//		c.Add(class, v)
//	}
//	c.Log(t)
//
// The default run of a test should stay short: pass Options.Offsets to
// sample the offsets, and run every offset when [Full] reports true
// (MINI_DAMAGE_FULL=1).
package damagetest

import (
	"bytes"
	"fmt"
	"iter"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kinds of damage, the Kind of a Variant.
const (
	KindFlip      = "flip"       // one bit flipped
	KindByte      = "byte"       // one byte replaced by one of Options.Bytes
	KindTruncate  = "truncate"   // the file cut at an offset
	KindZero512   = "zero512"    // one 512-byte aligned block zeroed
	KindZero4096  = "zero4096"   // one 4096-byte aligned block zeroed
	KindSpaceLine = "space-line" // a space before the '\n' of one line
	KindSpaceAll  = "space-all"  // whitespace before every '\n'
	KindCRLFLine  = "crlf-line"  // "\r\n" for the '\n' of one line
	KindCRLFAll   = "crlf-all"   // "\r\n" for every '\n'
	KindDropLine  = "drop-line"  // one line removed
	KindDupLine   = "dup-line"   // one line written twice
)

// A Variant is one damaged copy of a file.
type Variant struct {
	// Name says what was done, e.g. "flip@123.4" (bit 4 of byte 123),
	// "byte@123=0x00", "truncate@123", "zero512@1024", "space-line@7"
	// (line 7, 1-based), "crlf-all".
	Name string
	Kind string // one of the Kind constants
	// Offset is the first byte that differs from the original (for a
	// truncation, the new length); -1 for edits of every line.
	Offset int64
	// Data is the damaged file. It is the caller's: a new slice each time.
	Data []byte
}

// Options selects the variants. The zero Options (or nil) gives every
// variant at every offset with DefaultBytes.
type Options struct {
	// Bytes are the values written over each offset (KindByte); nil means
	// DefaultBytes. A value equal to the original byte is skipped.
	Bytes []byte
	// Offsets, if not nil, keeps only the offsets for which it reports
	// true (for KindFlip, KindByte, KindTruncate); use it to sample the
	// offsets in a test's default run. The line and block edits are
	// always all made.
	Offsets func(off int) bool
	// Kinds, if not empty, keeps only these kinds.
	Kinds []string
}

// DefaultBytes are the byte values KindByte writes: zero, all ones, the
// characters a text editor or a bad sector leaves, and JSON's own
// punctuation and digits, which keep a line well-formed more often.
var DefaultBytes = []byte{0x00, 0xff, ' ', '0', '7', '}', '"', '\n'}

// Full reports whether the environment asks for the full, unsampled run
// of damage tests (MINI_DAMAGE_FULL set to anything but "" or "0").
func Full() bool {
	v := os.Getenv("MINI_DAMAGE_FULL")
	return v != "" && v != "0"
}

// Sample returns an Options.Offsets function that keeps every offset
// when Full reports true, and otherwise about one offset in every, always
// keeping the offsets within two bytes of a '\n' of data and the first 64
// bytes (the header), where damage is most telling. every <= 1 keeps all.
func Sample(data []byte, every int) func(off int) bool {
	if Full() || every <= 1 {
		return nil
	}
	near := make([]bool, len(data)+1)
	for i, c := range data {
		if c == '\n' {
			for j := max(0, i-2); j <= min(len(data), i+2); j++ {
				near[j] = true
			}
		}
	}
	return func(off int) bool {
		if off < 64 || (off < len(near) && near[off]) {
			return true
		}
		// A fixed hash of the offset, so runs are repeatable but the kept
		// offsets are not all at the same place in every line.
		h := uint32(off) * 2654435761
		return int(h>>16)%every == 0
	}
}

// Variants yields the damaged copies of data that opts selects, in a
// fixed order: bit flips, byte values, truncations, zeroed blocks, then
// the line edits. data is not changed.
func Variants(data []byte, opts *Options) iter.Seq[Variant] {
	var o Options
	if opts != nil {
		o = *opts
	}
	values := o.Bytes
	if values == nil {
		values = DefaultBytes
	}
	keep := func(off int) bool { return o.Offsets == nil || o.Offsets(off) }
	kind := func(k string) bool { return len(o.Kinds) == 0 || slices.Contains(o.Kinds, k) }
	return func(yield func(Variant) bool) {
		edit := func(name, k string, off int, fn func(b []byte) []byte) bool {
			b := fn(slices.Clone(data))
			return yield(Variant{Name: name, Kind: k, Offset: int64(off), Data: b})
		}
		if kind(KindFlip) {
			for off := range data {
				if !keep(off) {
					continue
				}
				for bit := range 8 {
					if !edit(fmt.Sprintf("flip@%d.%d", off, bit), KindFlip, off, func(b []byte) []byte {
						b[off] ^= 1 << bit
						return b
					}) {
						return
					}
				}
			}
		}
		if kind(KindByte) {
			for off := range data {
				if !keep(off) {
					continue
				}
				for _, v := range values {
					if data[off] == v {
						continue
					}
					if !edit(fmt.Sprintf("byte@%d=%#02x", off, v), KindByte, off, func(b []byte) []byte {
						b[off] = v
						return b
					}) {
						return
					}
				}
			}
		}
		if kind(KindTruncate) {
			for off := range data {
				if !keep(off) {
					continue
				}
				if !edit("truncate@"+strconv.Itoa(off), KindTruncate, off, func(b []byte) []byte { return b[:off] }) {
					return
				}
			}
		}
		for _, z := range []struct {
			kind string
			size int
		}{{KindZero512, 512}, {KindZero4096, 4096}} {
			if !kind(z.kind) {
				continue
			}
			for off := 0; off < len(data); off += z.size {
				if !edit(z.kind+"@"+strconv.Itoa(off), z.kind, off, func(b []byte) []byte {
					clear(b[off:min(len(b), off+z.size)])
					return b
				}) {
					return
				}
			}
		}
		ends := lineEnds(data)
		lineEdits := []struct {
			kind string
			fn   func(b []byte, nl int) []byte // nl: offset of the '\n'
		}{
			{KindSpaceLine, func(b []byte, nl int) []byte { return slices.Insert(b, nl, ' ') }},
			{KindCRLFLine, func(b []byte, nl int) []byte { return slices.Insert(b, nl, '\r') }},
			{KindDropLine, func(b []byte, nl int) []byte {
				start := bytes.LastIndexByte(b[:nl], '\n') + 1
				return slices.Delete(b, start, nl+1)
			}},
			{KindDupLine, func(b []byte, nl int) []byte {
				start := bytes.LastIndexByte(b[:nl], '\n') + 1
				return slices.Insert(b, nl+1, b[start:nl+1]...)
			}},
		}
		for _, le := range lineEdits {
			if !kind(le.kind) {
				continue
			}
			for i, nl := range ends {
				start := bytes.LastIndexByte(data[:nl], '\n') + 1
				off := nl
				if le.kind == KindDropLine || le.kind == KindDupLine {
					off = start
				}
				if !edit(fmt.Sprintf("%s@%d", le.kind, i+1), le.kind, off, func(b []byte) []byte { return le.fn(b, nl) }) {
					return
				}
			}
		}
		if kind(KindSpaceAll) {
			for _, ws := range []string{" ", "  ", "\t"} {
				name := fmt.Sprintf("%s=%q", KindSpaceAll, ws)
				if !edit(name, KindSpaceAll, -1, func(b []byte) []byte {
					return bytes.ReplaceAll(b, []byte("\n"), []byte(ws+"\n"))
				}) {
					return
				}
			}
		}
		if kind(KindCRLFAll) {
			if !edit(KindCRLFAll, KindCRLFAll, -1, func(b []byte) []byte {
				return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
			}) {
				return
			}
		}
	}
}

// lineEnds returns the offsets of the '\n' bytes of data.
func lineEnds(data []byte) []int {
	var ends []int
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i)
		}
	}
	return ends
}

// Classes tests commonly file variants under. A test may use its own.
const (
	Intact     = "intact"                            // read back whole, no error (the damage changed nothing that matters)
	TypedError = "typed error"                       // refused with the package's typed corruption error
	TornTail   = "torn tail repaired (.broken kept)" // cut as a crash's torn tail, with a .broken copy
	Refused    = "refused (other error)"             // an error that is not the typed corruption error
)

// A Counter counts variants by class, and by kind within each class. It is
// safe for concurrent use. The zero Counter is ready.
type Counter struct {
	mu      sync.Mutex
	classes map[string]*classCount
	order   []string
	total   int
}

type classCount struct {
	n       int
	kinds   map[string]int
	example string
}

// Add files v under class.
func (c *Counter) Add(class string, v Variant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.classes == nil {
		c.classes = map[string]*classCount{}
	}
	cc := c.classes[class]
	if cc == nil {
		cc = &classCount{kinds: map[string]int{}, example: v.Name}
		c.classes[class] = cc
		c.order = append(c.order, class)
	}
	cc.n++
	cc.kinds[v.Kind]++
	c.total++
}

// Count returns how many variants were filed under class.
func (c *Counter) Count(class string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc := c.classes[class]; cc != nil {
		return cc.n
	}
	return 0
}

// Total returns how many variants were filed.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// String returns the summary line: "N variants: class n, class n, ...",
// the classes in the order they were first seen.
func (c *Counter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d variants", c.total)
	for i, class := range c.order {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s %d", class, c.classes[class].n)
	}
	return sb.String()
}

// Log logs one line per class (its count, the count by kind, and the
// first variant filed under it), then the summary line.
func (c *Counter) Log(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	for _, class := range c.order {
		cc := c.classes[class]
		kinds := make([]string, 0, len(cc.kinds))
		for k, n := range cc.kinds {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		slices.Sort(kinds)
		t.Logf("%-36s %6d  (%s; e.g. %s)", class, cc.n, strings.Join(kinds, ", "), cc.example)
	}
	c.mu.Unlock()
	t.Log(c.String())
}

// Guard runs fn and returns an error if it panics (with the stack) or
// does not return within timeout (fn's goroutine is then left running: a
// test should fail at once).
func Guard(timeout time.Duration, fn func()) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		fn()
		done <- nil
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return fmt.Errorf("no return within %v (hang)", timeout)
	}
}
