// SPDX-License-Identifier: MIT OR Apache-2.0

// Package raftstore compares miniraft's stores with raft-boltdb and
// raft-wal, the log and stable stores a hashicorp/raft user would pick
// instead. It lives in the bench module so that those libraries never
// enter mini's own go.mod. It holds benchmarks only; in bench/:
//
//	go test -run '^$' -bench . -count=3 ./raftstore
//
// (`go run .` runs them too and puts them in the report.) Every store runs
// raft's own benchmark functions (hashicorp/raft/bench) in a fresh
// temporary folder on the real disk, with its default options: each
// StoreLog(s) and Set is fsync'd by all three. raft-boltdb is pinned to
// v2.3.0: v2.3.1 imports go-metrics/compat, which is gone from the
// go-metrics v0.7.0 that raft v1.8.0 needs.
package raftstore

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	raftbench "github.com/hashicorp/raft/bench"

	"github.com/mini-go/mini/miniraft"
)

// store is what the benchmarks need: a log store that is also a stable
// store, and can be closed.
type store interface {
	raft.LogStore
	raft.StableStore
	Close() error
}

// miniStore puts miniraft's LogStore and StableStore in one folder.
type miniStore struct {
	*miniraft.LogStore
	stable *miniraft.StableStore
}

func (m miniStore) Set(k, v []byte) error              { return m.stable.Set(k, v) }
func (m miniStore) Get(k []byte) ([]byte, error)       { return m.stable.Get(k) }
func (m miniStore) SetUint64(k []byte, v uint64) error { return m.stable.SetUint64(k, v) }
func (m miniStore) GetUint64(k []byte) (uint64, error) { return m.stable.GetUint64(k) }
func (m miniStore) Close() error {
	m.stable.Close()
	return m.LogStore.Close()
}

var stores = []struct {
	name string
	open func(dir string) (store, error)
}{
	{"Mini", func(dir string) (store, error) {
		logs, err := miniraft.OpenLogStore(filepath.Join(dir, "raft.log"), nil)
		if err != nil {
			return nil, err
		}
		stable, err := miniraft.OpenStableStore(filepath.Join(dir, "stable.log"), nil)
		if err != nil {
			logs.Close()
			return nil, err
		}
		return miniStore{logs, stable}, nil
	}},
	{"MiniUncached", func(dir string) (store, error) {
		logs, err := miniraft.OpenLogStore(filepath.Join(dir, "raft.log"), &miniraft.StoreOptions{CacheLogs: -1})
		if err != nil {
			return nil, err
		}
		stable, err := miniraft.OpenStableStore(filepath.Join(dir, "stable.log"), nil)
		if err != nil {
			logs.Close()
			return nil, err
		}
		return miniStore{logs, stable}, nil
	}},
	{"BoltDB", func(dir string) (store, error) {
		return raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	}},
	{"WAL", func(dir string) (store, error) {
		meta := &metadb.BoltMetaDB{}
		w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta))
		if err != nil {
			meta.Close()
			return nil, err
		}
		return walStore{w, meta}, nil
	}},
}

// walStore closes raft-wal's metadata database too, which WAL.Close
// leaves open (with its file lock).
type walStore struct {
	*raftwal.WAL
	meta *metadb.BoltMetaDB
}

func (w walStore) Close() error {
	err := w.WAL.Close()
	if merr := w.meta.Close(); err == nil {
		err = merr
	}
	return err
}

// skipZero drops logs with index 0, which raftbench.StoreLog and
// raftbench.DeleteRange store first and raft never does (raft numbers logs
// from 1; miniraft refuses 0). Every store runs through it, so all do the
// same work.
//
// It also fills the gaps raftbench.DeleteRange leaves (logs 10 indexes
// apart) with no-op logs: miniraft, like raft-wal, takes only contiguous
// logs, as raft stores them.
type skipZero struct{ store }

func (s skipZero) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s skipZero) StoreLogs(logs []*raft.Log) error {
	for len(logs) > 0 && logs[0].Index == 0 {
		logs = logs[1:]
	}
	logs = fillGaps(logs)
	if len(logs) == 0 {
		return nil
	}
	return s.store.StoreLogs(logs)
}

// run runs fn on every store, in a fresh folder each time; skip gives the
// stores that cannot run fn, with the reason.
func run(b *testing.B, fn func(*testing.B, store), skip map[string]string) {
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			if why, ok := skip[s.name]; ok {
				b.Skip(why)
			}
			st, err := s.open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			fn(b, skipZero{st})
		})
	}
}

func logs(f func(*testing.B, raft.LogStore)) func(*testing.B, store) {
	return func(b *testing.B, s store) { f(b, s) }
}

func stable(f func(*testing.B, raft.StableStore)) func(*testing.B, store) {
	return func(b *testing.B, s store) { f(b, s) }
}

func BenchmarkFirstIndex(b *testing.B) { run(b, logs(raftbench.FirstIndex), nil) }
func BenchmarkLastIndex(b *testing.B)  { run(b, logs(raftbench.LastIndex), nil) }
func BenchmarkGetLog(b *testing.B)     { run(b, logs(raftbench.GetLog), nil) }
func BenchmarkStoreLog(b *testing.B)   { run(b, logs(raftbench.StoreLog), nil) }
func BenchmarkStoreLogs(b *testing.B)  { run(b, logs(raftbench.StoreLogs), nil) }

// raft's DeleteRange benchmark stores logs 10 indexes apart; skipZero
// fills the gaps (raft-wal and miniraft take only contiguous logs).
func BenchmarkDeleteRange(b *testing.B) { run(b, logs(raftbench.DeleteRange), nil) }

func BenchmarkSet(b *testing.B)       { run(b, stable(raftbench.Set), nil) }
func BenchmarkGet(b *testing.B)       { run(b, stable(raftbench.Get), nil) }
func BenchmarkSetUint64(b *testing.B) { run(b, stable(raftbench.SetUint64), nil) }
func BenchmarkGetUint64(b *testing.B) { run(b, stable(raftbench.GetUint64), nil) }

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
