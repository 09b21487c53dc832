package miniraft

import (
	"errors"
	"fmt"
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
	// result of a crash of this package.
	ErrCorrupt = errors.New("miniraft: corrupt data")
	// ErrFailed means the Manager's state stopped following the log: a
	// mutation's Apply panicked (on every node alike, since Apply is
	// deterministic). Reads still see the state as that Apply left it;
	// writes are refused. Fix the code, then restart the nodes.
	ErrFailed = errors.New("miniraft: manager failed")
	// ErrTimeout is matched by the error of a call that waited longer than
	// Options.ApplyTimeout, or than the time given to WaitLeader.
	ErrTimeout = errors.New("miniraft: timed out")
)

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
