// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"io/fs"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftbench "github.com/hashicorp/raft/bench"

	"github.com/mini-go/mini/vfs"
)

// The benchmarks run raft's own storage benchmarks (hashicorp/raft/bench)
// on LogStore and StableStore, in a temporary folder on the real disk:
// every StoreLog(s) and Set is fsync'd. The same functions against
// raft-boltdb and raft-wal are in the bench module, bench/raftstore, so
// that those libraries never enter this module's go.mod.
//
//	go test -run '^$' -bench . ./miniraft

// skipZero drops logs with index 0, which raftbench.StoreLog and
// raftbench.DeleteRange store first and raft never does (raft numbers logs
// from 1; LogStore refuses 0 with ErrNotContiguous).
//
// It also fills the gaps raftbench.DeleteRange leaves (logs 10 indexes
// apart) with no-op logs: miniraft, like raft-wal, takes only contiguous
// logs, as raft stores them.
type skipZero struct{ *LogStore }

func (s skipZero) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s skipZero) StoreLogs(logs []*raft.Log) error {
	for len(logs) > 0 && logs[0].Index == 0 {
		logs = logs[1:]
	}
	logs = fillGaps(logs)
	return s.LogStore.StoreLogs(logs)
}

func BenchmarkLogStore_FirstIndex(b *testing.B) { raftbench.FirstIndex(b, openLogStore(b, nil)) }
func BenchmarkLogStore_LastIndex(b *testing.B)  { raftbench.LastIndex(b, openLogStore(b, nil)) }
func BenchmarkLogStore_GetLog(b *testing.B)     { raftbench.GetLog(b, openLogStore(b, nil)) }

// GetLog with the cache off: every call reads the record from the file and
// decodes it.
func BenchmarkLogStore_GetLogUncached(b *testing.B) {
	raftbench.GetLog(b, openLogStore(b, &StoreOptions{CacheLogs: -1}))
}

func BenchmarkLogStore_StoreLog(b *testing.B)  { raftbench.StoreLog(b, skipZero{openLogStore(b, nil)}) }
func BenchmarkLogStore_StoreLogs(b *testing.B) { raftbench.StoreLogs(b, openLogStore(b, nil)) }
func BenchmarkLogStore_DeleteRange(b *testing.B) {
	raftbench.DeleteRange(b, skipZero{openLogStore(b, nil)})
}

func BenchmarkStableStore_Set(b *testing.B)       { raftbench.Set(b, openStableStore(b)) }
func BenchmarkStableStore_Get(b *testing.B)       { raftbench.Get(b, openStableStore(b)) }
func BenchmarkStableStore_SetUint64(b *testing.B) { raftbench.SetUint64(b, openStableStore(b)) }
func BenchmarkStableStore_GetUint64(b *testing.B) { raftbench.GetUint64(b, openStableStore(b)) }

// StoreLogs on the real disk with fsync turned into a no-op: what is left
// is the CPU cost of encoding and appending, which adds to every fsync'd
// StoreLogs.
func BenchmarkLogStore_StoreLogsCPU(b *testing.B) {
	l := openLogStore(b, quietOpts(noSyncFS{vfs.OS}))
	logs := []*raft.Log{{Data: []byte("data")}, {Data: []byte("data")}, {Data: []byte("data")}}
	var next uint64 = 1
	for b.Loop() {
		for _, lg := range logs {
			lg.Index = next
			next++
		}
		if err := l.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
	}
}

// noSyncFS is the OS file system with File.Sync doing nothing.
type noSyncFS struct{ vfs.FS }

func (f noSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{file}, nil
}

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error { return nil }

// BenchmarkReplicatedApply measures replicated Apply throughput on a
// cluster of three nodes on 127.0.0.1, each with its own folder on the
// real disk (every log fsync'd on a majority), with mutual TLS and
// without, and without TLS with every Apply in a log of its own
// (ApplyGroup -1, "ungrouped"), in the same run. Each iteration is 16
// concurrent Applies on the leader; applies/s is the figure to compare.
// The bench module's cluster section compares miniraft with
// hashicorp/raft on raft-wal and raft-boltdb. Elections are slow
// (1 s) so that a loaded machine does not start one; an Apply that fails
// anyway is tried again on the leader then (retries/op).
//
//	go test -run '^$' -bench ReplicatedApply -benchtime 3s ./miniraft
func BenchmarkReplicatedApply(b *testing.B) {
	const parallel = 16
	for _, mode := range []string{"tls", "insecure", "ungrouped"} {
		b.Run(mode, func(b *testing.B) {
			c := newCluster(b, 3, func(o *Options) {
				if mode != "tls" {
					o.TLS, o.InsecureNoTLS = nil, true
				}
				if mode == "ungrouped" {
					o.ApplyGroup = -1
				}
				o.Raft.HeartbeatTimeout = time.Second
				o.Raft.ElectionTimeout = time.Second
				o.Raft.LeaderLeaseTimeout = 500 * time.Millisecond
				o.Raft.SnapshotThreshold = 1 << 20
			})
			var retries atomic.Int64
			id := 0
			for b.Loop() {
				var wg sync.WaitGroup
				for range parallel {
					id++
					n := id
					wg.Go(func() {
						for try := 0; ; try++ {
							leader := c.findLeader()
							if leader == nil {
								b.Error("no leader")
								return
							}
							_, _, err := leader.ApplyWithID(strconv.Itoa(n), add{ID: n})
							if err == nil {
								return
							}
							if try == 10 {
								b.Error(err)
								return
							}
							retries.Add(1)
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.N*parallel)/b.Elapsed().Seconds(), "applies/s")
			b.ReportMetric(float64(retries.Load())/float64(b.N), "retries/op")
		})
	}
}

// fillGaps returns logs with a raft.LogNoop log at every missing index.
func fillGaps(logs []*raft.Log) []*raft.Log {
	out := make([]*raft.Log, 0, len(logs))
	for i, l := range logs {
		if i > 0 {
			for idx := logs[i-1].Index + 1; idx < l.Index; idx++ {
				out = append(out, &raft.Log{Index: idx, Type: raft.LogNoop})
			}
		}
		out = append(out, l)
	}
	return out
}
