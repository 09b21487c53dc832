// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// CreateSnapshot writes a snapshot of the current state and returns the
// sequence number it covers. When it returns nil the snapshot is durable.
//
// Writers are held off only while the state is captured: cloned if *S is
// a Cloner, encoded otherwise. Readers are never held off. The snapshot is
// then written and fsync'd while writers go on. CreateSnapshot does not
// shorten the journal; Compact does.
func (m *Manager[S, M]) CreateSnapshot() (seq uint64, err error) {
	m.snapMu.Lock()
	defer m.snapMu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	return m.snapshotLocked()
}

// Compact drops the journal records that a durable snapshot covers, in a
// crash-safe order: first it makes sure a snapshot of the current state is
// durable (taking one, as CreateSnapshot does, unless the newest durable
// snapshot already covers Sequence()), and only then does it cut the
// journal's front up to that snapshot. It returns the snapshot's sequence
// number. A crash at any point leaves a snapshot and a journal that
// continue each other.
//
// The journal keeps its newest record even when the snapshot covers it, so
// that it never becomes empty: an empty journal would not show which
// sequence number it ends at, and recovery could not check that it
// continues the snapshot.
func (m *Manager[S, M]) Compact() (seq uint64, err error) {
	m.snapMu.Lock()
	defer m.snapMu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	seq, ok := m.SnapshotSeq()
	if !ok || seq < m.Sequence() {
		if seq, err = m.snapshotLocked(); err != nil {
			return 0, err
		}
	}
	return seq, m.compactLocked(seq)
}

// autoSnapshot runs the snapshot policy after a write. At most one
// snapshot is written at a time: if one is in progress, the next write past
// the threshold tries again.
func (m *Manager[S, M]) autoSnapshot() {
	if !m.snapshotDue() || !m.snapMu.TryLock() {
		return
	}
	defer m.snapMu.Unlock()
	if m.closed || !m.snapshotDue() {
		return
	}
	seq, err := m.snapshotLocked()
	if err == nil {
		err = m.compactLocked(seq)
	}
	if err != nil {
		// The thresholds start over, so a failing disk is not hit on
		// every write.
		m.opts.Logger.Warn("ministate: automatic snapshot failed", "dir", m.dir, "seq", seq, "err", err)
	}
}

func (m *Manager[S, M]) snapshotDue() bool {
	m.w.Lock()
	defer m.w.Unlock()
	if m.w.err != nil || m.w.closing {
		return false
	}
	return (m.opts.SnapshotEvery > 0 && m.w.records >= m.opts.SnapshotEvery) ||
		(m.opts.SnapshotBytes > 0 && m.w.bytes >= m.opts.SnapshotBytes)
}

// snapshotLocked captures the state and writes it. Called with snapMu held.
func (m *Manager[S, M]) snapshotLocked() (uint64, error) {
	start := time.Now()
	seq, data, err := m.capture()
	if err != nil {
		return seq, err
	}
	if err := m.snaps.CreateFrom(seq, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return seq, err
	}
	m.snapNext.Store(seq + 1)
	m.stats.snapshots.Observe(time.Since(start))
	return seq, nil
}

// capture returns the state's sequence number and encoding at one instant.
// It holds applyMu, which keeps writers from applying (they may still log
// and fsync) but not readers, and it holds it only to clone or encode: a
// Cloner's copy is encoded after applyMu is released.
func (m *Manager[S, M]) capture() (seq uint64, data []byte, err error) {
	m.applyMu.Lock()
	seq = m.seq.Load()
	m.w.Lock()
	m.w.records, m.w.bytes = 0, 0
	m.w.Unlock()
	var buf bytes.Buffer
	if c, ok := any(&m.state).(Cloner[S]); ok {
		copied := c.Clone()
		m.applyMu.Unlock()
		err = m.opts.SnapshotCodec.Encode(&buf, &copied)
	} else {
		err = m.opts.SnapshotCodec.Encode(&buf, &m.state)
		m.applyMu.Unlock()
	}
	if err != nil {
		return seq, nil, fmt.Errorf("ministate: encode state for snapshot %d: %w", seq, err)
	}
	return seq, buf.Bytes(), nil
}

// compactLocked cuts the journal before the record after seq, the sequence
// number of a durable snapshot; see Compact. Called with snapMu held.
func (m *Manager[S, M]) compactLocked(seq uint64) error {
	cut := seq + 1
	if m.log.LastSeq() <= seq {
		cut = seq // keep the newest record: never empty the journal
	}
	if cut <= m.log.FirstSeq() {
		return nil
	}
	start := time.Now()
	if err := m.log.TruncateFront(cut); err != nil {
		return fmt.Errorf("ministate: compact journal before record %d: %w", cut, err)
	}
	m.stats.compactions.Observe(time.Since(start))
	return nil
}
