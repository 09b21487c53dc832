// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"sync/atomic"
	"time"

	"github.com/mini-go/mini/ministore"
)

// Stats are a Manager's figures, for monitoring: its journal's, and the
// applies, snapshots and compactions since Open. Stats returns a copy;
// Sub gives the change between two copies.
type Stats struct {
	Journal   ministore.Stats `json:"journal"`   // the journal's figures (see ministore.Stats)
	Sequence  uint64          `json:"sequence"`  // gauge: as returned by Sequence
	Applies   uint64          `json:"applies"`   // records applied since Open (an ApplyBatch is one record)
	Mutations uint64          `json:"mutations"` // mutations applied since Open
	// Snapshots times the snapshots written (CreateSnapshot, Compact and
	// the automatic ones); its Count is their number.
	Snapshots ministore.Histogram `json:"snapshots"`
	// Compactions times the cuts of the journal's front after a snapshot
	// (Compact and the automatic ones); a Compact with nothing to cut is
	// not counted.
	Compactions ministore.Histogram `json:"compactions"`
	// Replayed is the number of journal records Open applied after the
	// snapshot it restored.
	Replayed uint64 `json:"replayed"`
	// Recovery is how long Open took, the journal's own Open (also in
	// Journal.Recovery), restoring the snapshot and replaying included.
	Recovery time.Duration `json:"recovery_ns"`
}

// Sub returns the change of the counters and histograms from prev to s;
// the gauges, Replayed and Recovery are s's.
func (s Stats) Sub(prev Stats) Stats {
	d := s
	d.Journal = s.Journal.Sub(prev.Journal)
	d.Applies -= prev.Applies
	d.Mutations -= prev.Mutations
	d.Snapshots = s.Snapshots.Sub(prev.Snapshots)
	d.Compactions = s.Compactions.Sub(prev.Compactions)
	return d
}

// counters are the Manager's counters, added to without a lock.
type counters struct {
	applies, mutations atomic.Uint64
	snapshots          ministore.Timer
	compactions        ministore.Timer
	replayed           uint64        // set once by Open
	recovery           time.Duration // set once by Open
}

// Stats returns the Manager's figures. It takes no lock a writer holds for
// long and may be called at any time, after Close too.
func (m *Manager[S, M]) Stats() Stats {
	return Stats{
		Journal:     m.log.Stats(),
		Sequence:    m.seq.Load(),
		Applies:     m.stats.applies.Load(),
		Mutations:   m.stats.mutations.Load(),
		Snapshots:   m.stats.snapshots.Histogram(),
		Compactions: m.stats.compactions.Histogram(),
		Replayed:    m.stats.replayed,
		Recovery:    m.stats.recovery,
	}
}
