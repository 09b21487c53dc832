// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/internal/killtest"
	"github.com/mini-go/mini/ministate"
)

func TestMain(m *testing.M) { killtest.Main(m, killWorkloads) }

// progress is a state: for each writer ("round/worker"), the number of its
// mutations applied, and the total.
type progress struct {
	Done  map[string]int `json:"done"`
	Total int            `json:"total"`
}

// step is writer W's mutation number I; applied in order, Done[W] is I+1.
type step struct {
	W string `json:"w"`
	I int    `json:"i"`
}

func (s step) Apply(p *progress) {
	if p.Done == nil {
		p.Done = map[string]int{}
	}
	if p.Done[s.W] == s.I { // in order; a repeat or a gap would show
		p.Done[s.W] = s.I + 1
	}
	p.Total++
}

var killWorkloads = map[string]killtest.Workload{
	// Six goroutines apply; every 200 records a snapshot is taken and the
	// journal compacted behind it, inside Apply.
	"apply": func(dir string, round int, ack func(string)) error {
		m, err := ministate.Open[progress, step](dir, "progress.log", &ministate.Options{
			SnapshotEvery: 200, MaxSegmentBytes: 16 << 10, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		var failed atomic.Value
		for w := range 6 {
			wg.Go(func() {
				name := fmt.Sprintf("%d/%d", round, w)
				for i := 0; ; i++ {
					seq, err := m.Apply(step{name, i})
					if err != nil {
						failed.Store(err)
						return
					}
					ack(fmt.Sprintf("%d %s %d", seq, name, i))
				}
			})
		}
		wg.Wait()
		return failed.Load().(error)
	},
}

// TestKillApply kills a process applying mutations from six goroutines,
// with automatic snapshots and compaction, at random moments, and checks
// after each kill that the recovered state holds every acknowledged
// mutation, in order, and nothing that was never applied.
func TestKillApply(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	snapshotted := 0
	killtest.Run(t, killtest.Config{Workload: "apply", MaxRun: 400e6}, func(dir string, acks []string) error {
		m, err := ministate.Open[progress, step](dir, "progress.log", &ministate.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return fmt.Errorf("reopen: %w", err)
		}
		defer m.Close()
		if seq, ok := m.SnapshotSeq(); ok && seq > 0 {
			snapshotted++
		}
		acked := map[string]int{} // writer -> mutations acknowledged
		var maxSeq uint64
		for _, a := range acks {
			var seq uint64
			var w string
			var i int
			if _, err := fmt.Sscanf(a, "%d %s %d", &seq, &w, &i); err != nil {
				return fmt.Errorf("bad ack %q", a)
			}
			acked[w] = max(acked[w], i+1)
			maxSeq = max(maxSeq, seq)
		}
		var problem error
		m.View(func(p *progress) {
			if m.Sequence() < maxSeq {
				problem = fmt.Errorf("state at sequence %d, but %d was acknowledged", m.Sequence(), maxSeq)
				return
			}
			if uint64(p.Total) != m.Sequence() {
				problem = fmt.Errorf("state holds %d mutations at sequence %d", p.Total, m.Sequence())
				return
			}
			sum := 0
			for w, n := range p.Done {
				sum += n
				// At most the one in flight beyond what was acknowledged.
				if n < acked[w] || n > acked[w]+1 {
					problem = fmt.Errorf("writer %s: %d applied, %d acknowledged", w, n, acked[w])
					return
				}
			}
			for w, n := range acked {
				if p.Done[w] < n {
					problem = fmt.Errorf("writer %s: acknowledged %d, recovered %d", w, n, p.Done[w])
					return
				}
			}
			if sum != p.Total {
				problem = fmt.Errorf("%d mutations applied out of order or twice (%d in order)", p.Total-sum, sum)
			}
		})
		return problem
	})
	if snapshotted == 0 {
		t.Fatal("no round recovered from a snapshot: the workload did not exercise snapshots")
	}
	t.Logf("%d recoveries started from a snapshot", snapshotted)
}
