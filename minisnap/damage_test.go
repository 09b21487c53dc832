// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/damagetest"
	"github.com/mini-go/mini/minisnap"
)

// Classes of TestDamageSweep's variants, after the damaged file's name.
const (
	classIntact   = damagetest.Intact                       // the damage changed nothing that matters
	classFellBack = ": typed error, fell back to the older" // *CorruptError; RestoreLatestGood restored the older snapshot
	classOlder    = ": older damaged, newest restored"      // damage to the fallback; the newest restores
)

// TestDamageSweep damages every file of a store's two snapshots in every
// way internal/damagetest knows (every bit flip, byte values and
// truncation at every offset, zeroed blocks, line edits), plus removing the
// file, and checks each variant:
//
//   - damage to the newest snapshot: Restore and RestoreTo fail with a
//     *CorruptError naming a file of that snapshot (or restore the exact
//     state, if the damage changed nothing that matters), and
//     RestoreLatestGood falls back to the older snapshot, never past it;
//   - damage to the older snapshot: the newest restores;
//   - List never fails, and reports damage only as a *CorruptError;
//
// and fails on any other error, a wrong state, a panic or a hang. It logs
// the count of each class (go test -v). The default run samples the
// offsets (damagetest.Sample: about one in four, and all near a newline
// and in the first 64 bytes); MINI_DAMAGE_FULL=1 tries every offset.
func TestDamageSweep(t *testing.T) {
	s, m := openMem(t, nil)
	older := mustCreate(t, s, 5, "older")
	newest := mustCreate(t, s, 10, "newest")
	infos := mustList(t, s)
	dirs := map[uint64]string{10: snapDir(infos[0]), 5: snapDir(infos[1])}

	var c damagetest.Counter
	classes := map[string]bool{}
	for _, seq := range []uint64{10, 5} {
		for _, name := range []string{"meta.json", "snapshot.seq", "snapshot.json"} {
			path := filepath.Join(dirs[seq], name)
			good := readAll(t, m, path)
			check := func(v damagetest.Variant, write func()) {
				var class string
				err := damagetest.Guard(10*time.Second, func() {
					write()
					class = judgeSnapDamage(t, s, seq, dirs[seq], older, newest)
				})
				if err != nil {
					t.Fatalf("%s %s: %v", path, v.Name, err)
				}
				if t.Failed() {
					t.Fatalf("%s %s: stopping at the first failure", path, v.Name)
				}
				if class != classIntact {
					class = name + class
				}
				c.Add(class, v)
				classes[class] = true
				writeAll(t, m, path, good)
			}
			for v := range damagetest.Variants(good, &damagetest.Options{Offsets: damagetest.Sample(good, 4)}) {
				if bytes.Equal(v.Data, good) {
					continue // a line edit of a file without lines (snapshot.seq)
				}
				check(v, func() { writeAll(t, m, path, v.Data) })
			}
			check(damagetest.Variant{Name: "missing", Kind: "missing", Offset: -1}, func() { mustRemove(t, m, path) })
		}
	}
	c.Log(t)
	for _, name := range []string{"meta.json", "snapshot.seq", "snapshot.json"} {
		if !classes[name+classFellBack] || !classes[name+classOlder] {
			t.Fatalf("the sweep exercised too little of %s: %s", name, c.String())
		}
	}
}

// judgeSnapDamage checks the store after one file of snapshot seq (in dir)
// was damaged, and returns the variant's class. It reports a failure with
// t.Errorf.
func judgeSnapDamage(t *testing.T, s *minisnap.Store, seq uint64, dir string, older, newest testState) string {
	t.Helper()
	for _, info := range mustList(t, s) {
		if info.Err != nil && !isCorruptIn(info.Err, dir) {
			t.Errorf("List: snapshot %d: %v, want nil or a *CorruptError in %s", info.Seq, info.Err, dir)
		}
	}
	var got testState
	rseq, rerr := s.Restore(&got)
	_, toErr := s.RestoreTo(func(r io.Reader, _ minisnap.Info) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	var good testState
	lseq, skipped, lerr := s.RestoreLatestGood(&good)
	if lerr != nil {
		t.Errorf("RestoreLatestGood = %v, want a snapshot", lerr)
		return ""
	}

	if seq == 5 { // the fallback is damaged; the newest is whole
		if rerr != nil || rseq != 10 || !got.equal(newest) || toErr != nil {
			t.Errorf("older snapshot damaged: Restore = %d, %v; RestoreTo: %v; want the newest", rseq, rerr, toErr)
		}
		if lseq != 10 || len(skipped) != 0 || !good.equal(newest) {
			t.Errorf("older snapshot damaged: RestoreLatestGood = %d (skipped %v), want the newest", lseq, skipped)
		}
		return classOlder
	}

	if rerr == nil {
		if rseq != 10 || !got.equal(newest) || toErr != nil {
			t.Errorf("Restore = %d, %+v; RestoreTo: %v; want the newest snapshot or a *CorruptError", rseq, got, toErr)
		}
		if lseq != 10 || len(skipped) != 0 {
			t.Errorf("RestoreLatestGood = %d (skipped %v) after Restore succeeded", lseq, skipped)
		}
		return classIntact
	}
	if !isCorruptIn(rerr, dir) {
		t.Errorf("Restore = %v, want a *CorruptError naming a file in %s", rerr, dir)
	}
	if !isCorruptIn(toErr, dir) {
		t.Errorf("RestoreTo = %v, want a *CorruptError naming a file in %s", toErr, dir)
	}
	if lseq != 5 || !good.equal(older) || len(skipped) != 1 || !isCorruptIn(skipped[0], dir) {
		t.Errorf("RestoreLatestGood = %d (skipped %v), want the older snapshot, 5", lseq, skipped)
	}
	return classFellBack
}

// isCorruptIn reports whether err is a *CorruptError naming a file in dir
// (or dir itself) in an error message that starts with "minisnap: ".
func isCorruptIn(err error, dir string) bool {
	ce, ok := errors.AsType[*minisnap.CorruptError](err)
	return ok && errors.Is(err, minisnap.ErrCorrupt) && strings.HasPrefix(err.Error(), "minisnap: ") &&
		(ce.Path == dir || filepath.Dir(ce.Path) == dir)
}
