// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/damagetest"
	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// sweepMsg is the message type of the damage sweep.
type sweepMsg struct {
	N int    `json:"n"`
	S string `json:"s"`
}

func sweepValue(seq uint64) sweepMsg { return sweepMsg{N: int(seq), S: fmt.Sprintf("message %d", seq)} }

// damageScenario is what the folder of the damage sweep holds, closed:
// twelve messages pushed one by one; the default consumer acknowledged
// 2, 3, 5 and 7, moved 1 and 6 to the dead-letter queue (MaxDeliveries 2,
// two Nacks each), holds 4 in flight, and never received 8 to 12.
var damageScenario = struct {
	pushed   uint64
	acked    []uint64
	dead     []uint64 // in the order they were moved
	resolved []uint64 // acked and dead, in the order of their records
}{pushed: 12, acked: []uint64{2, 3, 5, 7}, dead: []uint64{1, 6}, resolved: []uint64{1, 2, 3, 5, 6, 7}}

// buildDamageScenario writes damageScenario into /q of a fresh file system.
func buildDamageScenario(t *testing.T) *vfs.Mem {
	t.Helper()
	mem := vfs.NewMem()
	q := openT[sweepMsg](t, "/q", withFS(Options{MaxDeliveries: 2}, mem))
	for seq := uint64(1); seq <= damageScenario.pushed; seq++ {
		if got, err := q.Push(sweepValue(seq)); err != nil || got != seq {
			t.Fatalf("Push = %d, %v; want %d", got, err, seq)
		}
	}
	c := q.Consumer("")
	recv := func(want uint64) *Message[sweepMsg] {
		t.Helper()
		m := recvT(t, c)
		if m.Seq != want {
			t.Fatalf("received %d, want %d", m.Seq, want)
		}
		return m
	}
	nackTwice := func(seq uint64) {
		for range 2 {
			if err := recv(seq).Nack(0); err != nil {
				t.Fatal(err)
			}
		}
	}
	nackTwice(1)
	mustAck(t, recv(2)) // 1 goes to the dead-letter queue on the way
	mustAck(t, recv(3))
	recv(4) // in flight
	mustAck(t, recv(5))
	nackTwice(6)
	mustAck(t, recv(7))
	if n := q.DeadLetters().Len(); n != 2 {
		t.Fatalf("%d dead letters, want 2", n)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return mem
}

// The files the sweep damages, and the journal each belongs to.
var damageFiles = []string{"/q/messages.log", "/q/consumers.log", "/q/dead/messages.log", "/q/dead/consumers.log"}

// Classes of TestDamageSweep's variants (besides damagetest's).
const (
	classTypedOpen   = "typed error from Open naming the file"
	classTypedOther  = "typed error from Open (records disagree)"
	classTypedLater  = "typed error after Open (receive, dead letters)"
	classTornNothing = "torn tail cut (.broken kept), nothing lost"
	classTornLost    = "torn tail cut (.broken kept), last acks lost"
	classPending     = "PENDING ministore fix: cut or rewritten without .broken"
	classPendingVer  = "PENDING ministore fix: damaged header read as ErrVersion"
	classShortened   = "shortened at a line end (undetectable), later acks lost"
)

// TestDamageSweep damages each file of a queue folder (both journals and
// both journals of dead/) in every way internal/damagetest knows, plus
// removing it, reopens the queue and reads everything back: every message
// not acknowledged, every dead letter. It fails on
//
//   - a message pushed and neither acknowledged nor dead-lettered that is
//     neither delivered nor in the dead-letter queue, a dead letter that
//     is gone, or an acknowledged or dead-lettered message delivered again
//     (an acknowledgement lost), without a typed error. Messages and dead
//     letters may never be lost: the checkpoint Close wrote records the
//     last durable one. Acknowledgements may, in two ways that nothing in
//     the folder can tell from a crash: the last records of the consumer
//     journal cut as a torn tail with a .broken copy kept (ministore's own
//     sweep checks that it cuts nothing a later record proves durable),
//     and the records after a line end where the consumer journal was cut
//     short (a truncation at a line end, the last line dropped), which
//     leaves a valid shorter journal;
//   - a cut or rewrite of the damaged file without a .broken copy;
//   - a wrong value, or a sequence number that was never pushed;
//   - an error that matches neither ministore.ErrCorrupt nor ErrCorrupt;
//   - a panic, or a hang (10 s).
//
// Pending h1's ministore fix (issue #13, items 2 and 3): while ministore's
// Open still cuts damage as a torn tail without keeping a .broken copy (or
// cuts a record that a later record proves durable), variants where Open
// cut the damaged file without a .broken copy and data was lost are
// counted as "PENDING ministore fix" instead of failing. probeStoreFix
// detects the fix, which turns that class into failures by itself;
// MINI_DAMAGE_STRICT=1 fails on it today.
//
// The default run samples offsets (see sweepOffsets); MINI_DAMAGE_FULL=1
// tries every offset. Counts per class are logged (go test -v).
func TestDamageSweep(t *testing.T) {
	base := buildDamageScenario(t)
	strict := os.Getenv("MINI_DAMAGE_STRICT") != "" && os.Getenv("MINI_DAMAGE_STRICT") != "0"
	var pend pendingFixes
	if !strict {
		pend = probeStoreFix(t)
	}
	if pend.cut {
		t.Log("ministore still cuts damage without a .broken copy: such variants count as PENDING (MINI_DAMAGE_STRICT=1 fails on them)")
	}
	if pend.version {
		t.Log("ministore still reads a damaged v1 header as ErrVersion: such variants count as PENDING (MINI_DAMAGE_STRICT=1 fails on them)")
	}
	var c damagetest.Counter
	for _, path := range damageFiles {
		good := readFile(t, base, path)
		opts := &damagetest.Options{Offsets: sweepOffsets(good)}
		check := func(v damagetest.Variant, damage func(m *vfs.Mem)) {
			mem := base.CrashClone(vfs.CrashOptions{})
			damage(mem)
			var class string
			err := damagetest.Guard(10*time.Second, func() {
				class = judgeQueueDamage(t, mem, path, good, v, pend)
			})
			if err != nil {
				t.Fatalf("%s %s: %v", path, v.Name, err)
			}
			if t.Failed() {
				t.Fatalf("%s %s: stopping at the first failure", path, v.Name)
			}
			c.Add(strings.TrimPrefix(path, "/q/")+": "+class, v)
		}
		for v := range damagetest.Variants(good, opts) {
			check(v, func(m *vfs.Mem) { writeFile(t, m, path, v.Data) })
		}
		check(damagetest.Variant{Name: "missing", Kind: "missing", Offset: -1}, func(m *vfs.Mem) {
			if err := m.Remove(path); err != nil {
				t.Fatal(err)
			}
		})
	}
	c.Log(t)
}

// sweepEvery is the sampling of offsets in the default run.
const sweepEvery = 89

// sweepOffsets keeps every offset with MINI_DAMAGE_FULL; otherwise one in
// sweepEvery, the header's version, and those within 2 bytes of the last
// two line ends, where a torn tail and a record that the next one proves
// durable meet.
func sweepOffsets(data []byte) func(int) bool {
	if damagetest.Full() {
		return nil
	}
	var ends []int
	for i := len(data) - 1; i >= 0 && len(ends) < 2; i-- {
		if data[i] == '\n' {
			ends = append(ends, i)
		}
	}
	return func(off int) bool {
		for _, e := range ends {
			if off >= e-2 && off <= e+2 {
				return true
			}
		}
		// 21-23: "v1 " of the header, the version a damaged header
		// must not be mistaken for.
		return off%sweepEvery == 7 || (off >= 21 && off <= 23)
	}
}

// judgeQueueDamage opens the damaged queue in mem, reads back everything
// and returns the variant's class, reporting failures with t.Errorf.
func judgeQueueDamage(t *testing.T, mem *vfs.Mem, path string, good []byte, v damagetest.Variant, pend pendingFixes) string {
	t.Helper()
	fail := func(format string, args ...any) string {
		t.Errorf("%s %s: "+format, append([]any{path, v.Name}, args...)...)
		return "FAILED"
	}
	// MaxDeliveries is raised so that reading back moves nothing more to
	// the dead-letter queue.
	// Small segments keep ministore's preallocation (zeros ahead of the
	// writes) small: the sweep opens the queue thousands of times.
	q, err := Open[sweepMsg]("/q", withFS(Options{MaxDeliveries: 100, MaxSegmentBytes: 16 << 10, consSegmentBytes: 16 << 10}, mem))
	if err != nil {
		if pend.version && errors.Is(err, ministore.ErrVersion) && v.Offset < int64(bytes.IndexByte(v.Data, '\n')+1) {
			return classPendingVer
		}
		if !isTypedDamage(err) {
			return fail("Open = %v, want an error matching ministore.ErrCorrupt or miniqueue.ErrCorrupt", err)
		}
		if strings.Contains(err.Error(), path) {
			return classTypedOpen
		}
		return classTypedOther
	}
	defer q.Close()
	cut := v.Kind != "missing" && wasCut(mem, path, v.Data)

	// Read everything back.
	got := map[uint64]int{} // seq -> deliveries
	c := q.Consumer("")
	for n := c.Lag(); n > 0; n-- {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := c.Receive(ctx)
		cancel()
		if err != nil {
			if isTypedDamage(err) {
				return classTypedLater
			}
			return fail("Receive = %v with %d more to come, want a message or a typed error", err, n)
		}
		if m.Seq < 1 || m.Seq > damageScenario.pushed || m.Value != sweepValue(m.Seq) {
			return fail("received message %d = %+v, want %+v", m.Seq, m.Value, sweepValue(m.Seq))
		}
		got[m.Seq]++
	}
	dead := map[uint64]int{}
	for dl, err := range q.DeadLetters().All() {
		if err != nil {
			if isTypedDamage(err) {
				return classTypedLater
			}
			return fail("DeadLetters().All = %v, want dead letters or a typed error", err)
		}
		if dl.Consumer != "" || dl.Seq < 1 || dl.Seq > damageScenario.pushed || dl.Value != sweepValue(dl.Seq) {
			return fail("dead letter %+v, want consumer \"\" and the value of message %d", dl, dl.Seq)
		}
		dead[dl.Seq]++
	}
	if n := q.DeadLetters().Len(); n != len(dead) {
		return fail("DeadLetters().Len() = %d, All gave %d", n, len(dead))
	}

	// What was lost?
	var lostMsgs, lostDead, redelivered []uint64
	for seq := uint64(1); seq <= damageScenario.pushed; seq++ {
		switch {
		case slices.Contains(damageScenario.acked, seq):
			if got[seq] > 0 {
				redelivered = append(redelivered, seq)
			}
		case slices.Contains(damageScenario.dead, seq):
			if got[seq] > 0 {
				redelivered = append(redelivered, seq)
			} else if dead[seq] == 0 {
				lostDead = append(lostDead, seq)
			}
		default:
			if got[seq] == 0 && dead[seq] == 0 {
				lostMsgs = append(lostMsgs, seq)
			}
		}
	}
	broken := brokenKept(mem, path)
	lost := len(lostMsgs)+len(lostDead)+len(redelivered) > 0
	switch {
	case !lost && !cut:
		return damagetest.Intact
	case !lost && broken:
		return classTornNothing
	case pend.cut && cut && !broken:
		return classPending
	}
	what := fmt.Sprintf("messages lost %v, dead letters lost %v, acknowledged or dead-lettered messages delivered again %v",
		lostMsgs, lostDead, redelivered)
	if !lost {
		return fail("Open cut or rewrote the file without a .broken copy")
	}
	// A journal that ends at a line end earlier than it did is a valid,
	// shorter journal: nothing in the file shows records are missing. (A
	// record that refers to a missing one, such as an ack of a message
	// the message journal no longer holds, fails Open above.)
	// The message journals have no such excuse: the checkpoint Close wrote
	// records the last message that was durable.
	consJournal := strings.HasSuffix(path, "/consumers.log")
	if consJournal && v.Kind != "missing" && len(v.Data) < len(good) && bytes.HasPrefix(good, v.Data) &&
		(len(v.Data) == 0 || v.Data[len(v.Data)-1] == '\n') {
		return classShortened
	}
	// A torn tail cut with a .broken copy loses the last records of the
	// journal it cut, and nothing else: for the consumer journal, the
	// last acknowledgements.
	if broken && cut && path == "/q/consumers.log" && len(lostMsgs)+len(lostDead) == 0 &&
		isSuffix(sortedLike(redelivered, damageScenario.resolved), damageScenario.resolved) {
		return classTornLost
	}
	return fail("Open succeeded, but %s (cut %v, .broken kept %v)", what, cut, broken)
}

// isSuffix reports whether sub is a suffix of list.
func isSuffix(sub, list []uint64) bool {
	return len(sub) <= len(list) && slices.Equal(sub, list[len(list)-len(sub):])
}

// sortedLike returns the elements of sub in the order they have in list
// (every element of sub is in list).
func sortedLike(sub, list []uint64) []uint64 {
	var out []uint64
	for _, x := range list {
		if slices.Contains(sub, x) {
			out = append(out, x)
		}
	}
	return out
}

// isTypedDamage reports whether err is one of the typed corruption errors.
func isTypedDamage(err error) bool {
	return errors.Is(err, ministore.ErrCorrupt) || errors.Is(err, ErrCorrupt)
}

// wasCut reports whether Open cut or rewrote the damaged file: whether
// the file no longer starts with the variant's bytes, or a partial last
// line of it was completed.
func wasCut(mem *vfs.Mem, path string, variant []byte) bool {
	b, err := vfs.ReadFile(mem, path)
	if err != nil {
		return true // moved aside or removed
	}
	if !bytes.HasPrefix(b, variant) {
		return true // cut, or zeros written over
	}
	// A partial last line that is now longer was overwritten (a torn
	// header completed as a new journal's, a torn record replaced).
	b, v := bytes.TrimRight(b, "\x00"), bytes.TrimRight(variant, "\x00")
	return len(v) > 0 && v[len(v)-1] != '\n' && len(b) > len(v)
}

// brokenKept reports whether a ".broken" copy of a file of path's journal
// exists beside it.
func brokenKept(mem *vfs.Mem, path string) bool {
	names, err := mem.ReadDir(filepath.Dir(path))
	if err != nil {
		return false
	}
	for _, n := range names {
		if strings.HasPrefix(n, filepath.Base(path)) && strings.Contains(n, ".broken") {
			return true
		}
	}
	return false
}

// pendingFixes are the ministore fixes of issue #13 that probeStoreFix
// found missing.
type pendingFixes struct {
	cut     bool // Open cuts or rewrites damage without a .broken copy, or cuts a record the next one proves durable (items 1-3)
	version bool // a damaged v1 header (its version digit) reads as ErrVersion, not ErrCorrupt
}

// probeStoreFix checks ministore's Open on journals of three records.
func probeStoreFix(t *testing.T) pendingFixes {
	t.Helper()
	open := func(edit func(b []byte) []byte) (*vfs.Mem, error) {
		mem := vfs.NewMem()
		o := &ministore.Options{FS: mem, Logger: testutil.Quiet()}
		s, err := ministore.Open[json.RawMessage]("/p/j.log", o)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := s.Append(json.RawMessage(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		writeFile(t, mem, "/p/j.log", edit(readFile(t, mem, "/p/j.log")))
		s, err = ministore.Open[json.RawMessage]("/p/j.log", o)
		if err == nil {
			s.Close()
		}
		return mem, err
	}
	var p pendingFixes
	// The '\n' that ends record 2 of 3: record 3's sync proves 2 durable.
	if _, err := open(func(b []byte) []byte {
		b[bytes.LastIndexByte(b[:len(b)-1], '\n')] = 0
		return b
	}); err == nil {
		p.cut = true
	}
	// The last record's checksum: a cut, with a .broken copy.
	if mem, err := open(func(b []byte) []byte {
		b[len(b)-4] ^= 0x01
		return b
	}); err == nil && !brokenKept(mem, "/p/j.log") {
		p.cut = true
	}
	// The header's version digit.
	if _, err := open(func(b []byte) []byte {
		return bytes.Replace(b, []byte("JOURNAL v1 "), []byte("JOURNAL v3 "), 1)
	}); errors.Is(err, ministore.ErrVersion) {
		p.version = true
	}
	return p
}

func readFile(t testing.TB, fsys vfs.FS, path string) []byte {
	t.Helper()
	b, err := vfs.ReadFile(fsys, path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
