// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"fmt"
	"github.com/mini-go/mini/internal/corrupt"
)

// Errors returned by this package. Errors from ministore, minisnap and
// hashicorp/raft are passed on wrapped, so errors.Is also matches their
// sentinels.
var (
	// ErrClosed is returned by every call on a closed store or Manager.
	ErrClosed = errors.New("miniraft: closed")
	// ErrNotLeader is matched by a *NotLeaderError: the call must run on
	// the leader, and this node is not it.
	ErrNotLeader = errors.New("miniraft: not the leader")
	// ErrKeyNotFound is returned by StableStore.Get and GetUint64 for a key
	// that was never set. Its text is exactly "not found", without the
	// package prefix, because hashicorp/raft recognizes a missing key by
	// comparing err.Error() with that string.
	ErrKeyNotFound = errors.New("not found")
	// ErrNotContiguous is returned by LogStore.StoreLogs for indexes that go
	// backwards inside one call, for index 0 (raft numbers logs from 1),
	// and for a gap too large to fill, and by LogStore.DeleteRange for a
	// range in the middle of the log (raft only ever deletes a prefix or a
	// suffix).
	ErrNotContiguous = errors.New("miniraft: log indexes not contiguous")
	// ErrCorrupt means a log record does not hold the log its sequence
	// number says, or a snapshot header does not decode. It is never the
	// result of a crash of this package. It matches every package's
	// ErrCorrupt in this module (ministore, minisnap, miniqueue), and they
	// match it.
	ErrCorrupt error = corrupt.New("miniraft: corrupt data")
	// ErrFailed means the Manager's state stopped following the log: a
	// mutation's Apply panicked (on every node alike, since Apply is
	// deterministic). Reads still see the state as that Apply left it;
	// writes are refused. Fix the code, then restart the nodes. A failed
	// fsync of this node's raft log stops it too: that error also matches
	// ErrOutcomeUnknown (the other nodes may apply the log).
	ErrFailed = errors.New("miniraft: manager failed")
	// ErrForwardOff is matched by the error of a call a follower forwarded
	// to a leader that does not serve forwarded calls: Options.Forward must
	// be set on every node. The call was not applied.
	ErrForwardOff = errors.New("miniraft: the leader does not serve forwarded calls (Options.Forward is off there)")
	// ErrOutcomeUnknown is matched by an error of Apply, ApplyBatch (and
	// their WithID forms), AddVoter and RemoveServer after which the change
	// may have been made or not: the call reached the leader, or raft
	// took the log, and then the answer was lost (a broken connection,
	// lost leadership, a timeout, Close). Retry a mutation only with
	// ApplyWithID; an error that does not match ErrOutcomeUnknown means
	// the change was not made.
	ErrOutcomeUnknown = errors.New("miniraft: outcome unknown")
	// ErrLogGap is matched by a *GapError: Open found a log that does not
	// join the snapshots.
	ErrLogGap = errors.New("miniraft: the log does not join the snapshots")
	// ErrTimeout is matched by the error of a call that waited longer than
	// Options.ApplyTimeout, or than the time given to WaitLeader.
	ErrTimeout = errors.New("miniraft: timed out")
)

// outcomeUnknown returns err, marked as ErrOutcomeUnknown.
func outcomeUnknown(err error) error {
	if errors.Is(err, ErrOutcomeUnknown) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
}

// A NotLeaderError is returned by the calls that only the leader can serve
// (Apply, ApplyBatch, ViewConsistent, AddVoter, RemoveServer) when this
// node is not the leader and the call was not forwarded. It names the
// leader if this node knows one; a client can send the call there.
type NotLeaderError struct {
	LeaderID   string // the leader's server ID, or "" if none is known
	LeaderAddr string // the leader's raft address, or "" if none is known
}

func (e *NotLeaderError) Error() string {
	if e.LeaderAddr == "" {
		return "miniraft: not the leader, and no leader is known (an election may be in progress)"
	}
	return fmt.Sprintf("miniraft: not the leader; the leader is %s at %s", e.LeaderID, e.LeaderAddr)
}

// Is reports whether target is ErrNotLeader.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// A GapError is returned by Open for a node whose log does not join its
// snapshots: the log starts at First, but the newest snapshot covers only
// the logs up to Snapshot (0: no snapshot), so the logs in between are
// gone: the log was compacted behind a snapshot that was then lost. raft
// cannot start from such a directory. It matches ErrLogGap.
//
// To bring the node back, rejoin it: on the leader, RemoveServer(ID);
// move the node's directory aside (keep it for inspection); start the node
// with an empty directory, the same ID and address and no Bootstrap; on the
// leader, AddVoter(ID, address). The leader sends it a snapshot and the
// logs after it.
type GapError struct {
	Dir      string // the node's directory
	First    uint64 // the first log in raft.log
	Snapshot uint64 // the index of the newest snapshot, or 0
}

func (e *GapError) Error() string {
	return fmt.Sprintf("miniraft: %s: the log starts at %d but the newest snapshot covers only up to %d: logs %d to %d are lost; rejoin the node with an empty directory (see GapError)",
		e.Dir, e.First, e.Snapshot, e.Snapshot+1, e.First-1)
}

// Is reports whether target is ErrLogGap.
func (e *GapError) Is(target error) bool { return target == ErrLogGap }
