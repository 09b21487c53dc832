// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	tidwal "github.com/tidwall/wal"
	bolt "go.etcd.io/bbolt"

	"github.com/mini-go/mini/ministore"
)

// A subject is one library under test in a throughput workload: open
// returns the operation that the workers call, and a close function.
type subject struct {
	name string
	role Role
	open func(cfg *config, dir string, size, workers int) (opFunc, func() error, error)
}

// Row names, shared by the tables and the chart.
const (
	rowRawAppend   = "raw append+fdatasync"
	rowRawPrealloc = "raw preallocated+fdatasync"
	rowMinistore   = "ministore"
	rowTidwall     = "tidwall/wal"
	rowRaftWAL     = "hashicorp/raft-wal"
	rowBoltUpdate  = "bbolt Update"
	rowBoltBatch   = "bbolt Batch"
	rowPebble      = "pebble Set(Sync)"
)

func walSubjects() []subject {
	return []subject{
		{rowMinistore, Mini, openMinistore},
		{rowRawPrealloc, Limit, openRaw(16 << 20)},
		{rowTidwall, Peer, openTidwall},
		{rowRawAppend, Limit, openRaw(0)},
		{rowRaftWAL, Peer, openRaftWAL},
		{rowBoltUpdate, Peer, openBolt(false)},
		{rowBoltBatch, Peer, openBolt(true)},
		{rowPebble, Peer, openPebble},
	}
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func openMinistore(cfg *config, dir string, size, workers int) (opFunc, func() error, error) {
	s, err := ministore.Open[Rec](filepath.Join(dir, "j.log"), &ministore.Options{Logger: quietLog})
	if err != nil {
		return nil, nil, err
	}
	mk := recMaker(size)
	return func(_ int, i int64) error {
		_, err := s.Append(mk(i))
		return err
	}, s.Close, nil
}

// rawLog is the physical limit: pre-encoded lines written with one write
// and one fdatasync per batch, nothing else. One writer calls it directly;
// concurrent writers hand their lines to one loop that writes every line
// waiting at that moment with one write and one fdatasync (the least any
// group commit can do).
type rawLog struct {
	f        *os.File
	prealloc int64 // 0: O_APPEND, the file grows; else: pwrite into a zero-filled file, wrapping
	off      int64
	reqs     chan rawReq
	acks     []chan error
	done     chan struct{}
}

type rawReq struct {
	p   []byte
	ack chan error
}

func openRaw(prealloc int64) func(cfg *config, dir string, size, workers int) (opFunc, func() error, error) {
	return func(cfg *config, dir string, size, workers int) (opFunc, func() error, error) {
		flags := os.O_RDWR | os.O_CREATE
		if prealloc == 0 {
			flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		f, err := os.OpenFile(filepath.Join(dir, "raw"), flags, 0o644)
		if err != nil {
			return nil, nil, err
		}
		l := &rawLog{f: f, prealloc: prealloc}
		if prealloc > 0 {
			zeros := make([]byte, 1<<20)
			for off := int64(0); off < prealloc; off += int64(len(zeros)) {
				if _, err := f.WriteAt(zeros, off); err != nil {
					f.Close()
					return nil, nil, err
				}
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return nil, nil, err
			}
		}
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
		line := append(encodeRec(recMaker(size)(1)), '\n')
		if workers == 1 {
			return func(int, int64) error { return l.write(line) }, f.Close, nil
		}
		l.reqs = make(chan rawReq, workers)
		l.done = make(chan struct{})
		l.acks = make([]chan error, workers)
		for i := range l.acks {
			l.acks[i] = make(chan error, 1)
		}
		go l.loop()
		op := func(w int, _ int64) error {
			l.reqs <- rawReq{line, l.acks[w]}
			return <-l.acks[w]
		}
		closeFn := func() error {
			close(l.reqs)
			<-l.done
			return f.Close()
		}
		return op, closeFn, nil
	}
}

func (l *rawLog) write(p []byte) error {
	if l.prealloc == 0 {
		if _, err := l.f.Write(p); err != nil {
			return err
		}
	} else {
		if l.off+int64(len(p)) > l.prealloc {
			l.off = 0
		}
		if _, err := l.f.WriteAt(p, l.off); err != nil {
			return err
		}
		l.off += int64(len(p))
	}
	return fdatasync(l.f)
}

func (l *rawLog) loop() {
	defer close(l.done)
	var batch []rawReq
	var buf []byte
	for first := range l.reqs {
		batch = append(batch[:0], first)
	drain:
		for {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		buf = buf[:0]
		for _, r := range batch {
			buf = append(buf, r.p...)
		}
		err := l.write(buf)
		for _, r := range batch {
			r.ack <- err
		}
	}
}

// openTidwall: tidwall/wal with its defaults (fsync after every write).
// Write needs the next index, so writers take a mutex around it, as a user
// sharing one log would.
func openTidwall(cfg *config, dir string, size, workers int) (opFunc, func() error, error) {
	l, err := tidwal.Open(dir, nil)
	if err != nil {
		return nil, nil, err
	}
	return sequenced(size, l.Write), l.Close, nil
}

// sequenced returns an opFunc that encodes record i and hands it to write
// with the next index, under a mutex: the logs that need the caller to
// number the records.
func sequenced(size int, write func(idx uint64, data []byte) error) opFunc {
	mk := recMaker(size)
	var mu sync.Mutex
	var idx uint64
	return func(_ int, i int64) error {
		data := encodeRec(mk(i))
		mu.Lock()
		defer mu.Unlock()
		idx++
		return write(idx, data)
	}
}

// openRaftWAL: hashicorp/raft-wal with its defaults (fsync on every
// StoreLogs), one raft.Log per record, under a mutex that hands out the
// indexes.
func openRaftWAL(cfg *config, dir string, size, workers int) (opFunc, func() error, error) {
	w, closeFn, err := openRaftWALDir(dir)
	if err != nil {
		return nil, nil, err
	}
	return sequenced(size, func(idx uint64, data []byte) error {
		return w.StoreLog(&raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()})
	}), closeFn, nil
}

// openRaftWALDir opens raft-wal in dir with a metadata store it can close:
// WAL.Close leaves raft-wal's own metadata database (and its file lock)
// open.
func openRaftWALDir(dir string) (*raftwal.WAL, func() error, error) {
	meta := &metadb.BoltMetaDB{}
	w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta))
	if err != nil {
		meta.Close()
		return nil, nil, err
	}
	return w, func() error {
		err := w.Close()
		if merr := meta.Close(); err == nil {
			err = merr
		}
		return err
	}, nil
}

var benchBucket = []byte("records")

// openBolt: bbolt with its defaults (fdatasync on every commit), one Put
// per transaction, under Update (one transaction at a time) or Batch
// (concurrent calls coalesced into one transaction, up to MaxBatchDelay =
// 10 ms apart).
func openBolt(batch bool) func(cfg *config, dir string, size, workers int) (opFunc, func() error, error) {
	return func(cfg *config, dir string, size, workers int) (opFunc, func() error, error) {
		db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, nil)
		if err != nil {
			return nil, nil, err
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(benchBucket)
			return err
		}); err != nil {
			db.Close()
			return nil, nil, err
		}
		mk := recMaker(size)
		txFn := db.Update
		if batch {
			txFn = db.Batch
		}
		return func(_ int, i int64) error {
			data := encodeRec(mk(i))
			return txFn(func(tx *bolt.Tx) error {
				return tx.Bucket(benchBucket).Put(key8(uint64(i)), data)
			})
		}, db.Close, nil
	}
}

// pebbleLogger keeps pebble's informational messages out of the output.
type pebbleLogger struct{}

func (pebbleLogger) Infof(string, ...any) {}
func (pebbleLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (pebbleLogger) Fatalf(format string, args ...any) { fatalf("pebble: "+format, args...) }

func pebbleOptions() *pebble.Options { return &pebble.Options{Logger: pebbleLogger{}} }

// openPebble: pebble with its defaults, Set with pebble.Sync (its commit
// pipeline shares WAL syncs between concurrent writers).
func openPebble(cfg *config, dir string, size, workers int) (opFunc, func() error, error) {
	db, err := pebble.Open(dir, pebbleOptions())
	if err != nil {
		return nil, nil, err
	}
	mk := recMaker(size)
	return func(_ int, i int64) error {
		return db.Set(key8(uint64(i)), encodeRec(mk(i)), pebble.Sync)
	}, db.Close, nil
}

func writersCol(w int) string {
	if w == 1 {
		return "1 writer"
	}
	return fmt.Sprintf("%d writers", w)
}

func sizeName(size int) string {
	if size >= 1024 && size%1024 == 0 {
		return fmt.Sprintf("%d KiB", size/1024)
	}
	return fmt.Sprintf("%d B", size)
}

// runThroughput measures every subject at every writer count, cfg.runs
// times, each round in a rotated order, into t.
func runThroughput(cfg *config, t *Table, subjects []subject, size int, writers []int, col func(int) string) {
	for _, w := range writers {
		for round := range cfg.runs {
			line := fmt.Sprintf("  %s, %s, run %d/%d:", t.ID, col(w), round+1, cfg.runs)
			for _, s := range Rotate(subjects, round) {
				v, err := throughputOnce(cfg, s, size, w)
				if err != nil {
					cfg.problem("%s, %s, %s: %v", t.ID, col(w), s.name, err)
					continue
				}
				t.Add(s.name, s.role, col(w), v)
				line += fmt.Sprintf(" %s %s;", s.name, FormatValue(v))
			}
			cfg.progress(line)
		}
	}
}

func throughputOnce(cfg *config, s subject, size, workers int) (float64, error) {
	dir, err := freshDir(cfg.dir, "run")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	op, closeFn, err := s.open(cfg, dir, size, workers)
	if err != nil {
		return 0, err
	}
	v, err := measure(cfg, workers, op)
	if cerr := closeFn(); err == nil && cerr != nil {
		err = cerr
	}
	return v, err
}

func runWAL(cfg *config) []*Table {
	var tables []*Table
	for _, size := range cfg.sizes {
		t := &Table{
			ID:       "WAL append " + sizeName(size),
			Title:    fmt.Sprintf("WAL appends, %s JSON records, durable on return", sizeName(size)),
			Unit:     "records/s",
			Mini:     rowMinistore,
			Limit:    rowRawPrealloc,
			Headline: true,
			Note: "Every call returns once its record is on stable storage (fdatasync/fsync by the library's default). " +
				"ministore, pebble and bbolt Batch share syncs between concurrent writers; tidwall/wal, raft-wal and bbolt Update are " +
				"shared through a mutex (tidwall/wal and raft-wal need the caller to hand out the next index), one sync per record. " +
				"Each write encodes the record with encoding/json (ministore does it inside Append). " +
				"The raw rows write pre-encoded lines with no framing: one writer loops write+fdatasync; concurrent writers hand their lines " +
				"to one loop that writes all that are waiting with one write and one fdatasync. " +
				"bbolt Batch waits up to 10 ms (MaxBatchDelay) to gather a batch, so a single writer gets about 100 commits/s.",
		}
		runThroughput(cfg, t, walSubjects(), size, cfg.writers, writersCol)
		cfg.emit(t)
		tables = append(tables, t)
	}
	return tables
}
