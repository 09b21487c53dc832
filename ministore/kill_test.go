// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/internal/killtest"
)

type killRec struct {
	Round, Worker, I int
}

var killWorkloads = map[string]killtest.Workload{
	// Eight goroutines append; one of them drops the front now and then.
	"append": func(dir string, round int, ack func(string)) error {
		s, err := Open[killRec](filepath.Join(dir, "j.log"), &Options{MaxSegmentBytes: 32 << 10,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		var failed atomic.Value
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					seq, err := s.Append(killRec{round, w, i})
					if err != nil {
						failed.Store(err)
						return
					}
					ack(fmt.Sprintf("a %d %d %d %d", seq, round, w, i))
					if w == 0 && i%500 == 499 {
						cut := seq - 1000
						if seq > 1000 {
							ack(fmt.Sprintf("F %d", cut)) // about to drop records below cut
							if err := s.TruncateFront(cut); err != nil {
								failed.Store(err)
								return
							}
							ack(fmt.Sprintf("f %d", cut))
						}
					}
				}
			})
		}
		wg.Wait()
		return failed.Load().(error)
	},
}

// TestKillAppend kills a process appending from eight goroutines (and
// truncating the front) at random moments, and checks after each kill
// that every acknowledged record is there, unchanged, in order.
func TestKillAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	killtest.Run(t, killtest.Config{Workload: "append"}, func(dir string, acks []string) error {
		s, err := Open[killRec](filepath.Join(dir, "j.log"), &Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return fmt.Errorf("reopen: %w", err)
		}
		defer s.Close()
		got := map[uint64]killRec{}
		var prev uint64
		for r, err := range s.All(1) {
			if err != nil {
				return err
			}
			if prev != 0 && r.Seq != prev+1 {
				return fmt.Errorf("seq %d after %d", r.Seq, prev)
			}
			prev = r.Seq
			got[r.Seq] = r.Value
		}
		// floor: a TruncateFront below it was acknowledged; mayDrop: one
		// below it was started, so those records may be gone.
		floor, mayDrop := uint64(0), uint64(0)
		for _, a := range acks {
			if f, ok := strings.CutPrefix(a, "f "); ok {
				n, _ := strconv.ParseUint(f, 10, 64)
				floor = max(floor, n)
			}
			if f, ok := strings.CutPrefix(a, "F "); ok {
				n, _ := strconv.ParseUint(f, 10, 64)
				mayDrop = max(mayDrop, n)
			}
		}
		if first := s.FirstSeq(); first != 0 && first < floor {
			return fmt.Errorf("TruncateFront(%d) was acknowledged, but the log starts at %d", floor, first)
		}
		for _, a := range acks {
			var seq uint64
			var want killRec
			if _, err := fmt.Sscanf(a, "a %d %d %d %d", &seq, &want.Round, &want.Worker, &want.I); err != nil {
				continue
			}
			rec, ok := got[seq]
			if !ok && seq < mayDrop {
				continue
			}
			if !ok || rec != want {
				return fmt.Errorf("acknowledged record %d %+v: found %+v (present %v)", seq, want, rec, ok)
			}
		}
		// Each goroutine's records are in its own order.
		last := map[[2]int]int{}
		for seq := s.FirstSeq(); seq != 0 && seq <= s.LastSeq(); seq++ {
			r := got[seq]
			k := [2]int{r.Round, r.Worker}
			if i, ok := last[k]; ok && r.I != i+1 {
				return fmt.Errorf("round %d worker %d: record %d after %d", r.Round, r.Worker, r.I, i)
			}
			last[k] = r.I
		}
		return nil
	})
}
