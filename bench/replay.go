// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	tidwal "github.com/tidwall/wal"
	bolt "go.etcd.io/bbolt"

	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

const (
	rowRawRead        = "raw read of JSON lines"
	rowMinistoreTyped = "ministore, decoded (encoding/json)"
	rowMinistoreV2    = "ministore, decoded (jsonv2codec)"
)

// replayLibs are the replay subjects: row name, role, and the name of the
// data set they read (the two ministore rows read the same journal).
var replayLibs = []struct {
	name string
	role Role
	lib  string
}{
	{rowMinistore, Mini, "ministore"},
	{rowRawRead, Limit, "raw"},
	{rowTidwall, Peer, "tidwall"},
	{rowMinistoreTyped, Mini, "ministore-typed"},
	{rowMinistoreV2, Mini, "ministore-typed-v2"},
	{rowRaftWAL, Peer, "raftwal"},
	{"bbolt", Peer, "bolt"},
	{"pebble", Peer, "pebble"},
}

func dataSet(lib string) string {
	if lib == "ministore-typed" || lib == "ministore-typed-v2" {
		return "ministore"
	}
	return lib
}

func runReplay(cfg *config) []*Table {
	n := cfg.replayN
	root := filepath.Join(cfg.dir, "replay")
	sizes := map[string]int64{}
	for _, l := range replayLibs {
		set := dataSet(l.lib)
		if _, ok := sizes[set]; ok {
			continue
		}
		t0 := time.Now()
		dir := filepath.Join(root, set)
		if err := buildReplaySet(set, dir, n); err != nil {
			cfg.problem("replay: build %s: %v", set, err)
			continue
		}
		sizes[set] = dirSize(dir)
		cfg.progress(fmt.Sprintf("  built %s: %d records, %.0f MiB, in %s", set, n, float64(sizes[set])/(1<<20), time.Since(t0).Round(time.Millisecond)))
	}
	defer os.RemoveAll(root)

	col := fmt.Sprintf("%s records", group(int64(n)))
	speed := &Table{
		ID:       "Replay",
		Title:    fmt.Sprintf("Replay: full read of %s records of 100 B, from open to the last record", group(int64(n))),
		Unit:     "records/s",
		Mini:     rowMinistore,
		Limit:    rowRawRead,
		Headline: true,
	}
	mem := &Table{
		ID:       "Replay memory",
		Title:    fmt.Sprintf("Replay: peak memory while reading %s records", group(int64(n))),
		Unit:     "MiB",
		Lower:    true,
		Mini:     rowMinistore,
		Headline: true,
	}
	base, err := runChild(childSpec{Task: "noop"})
	if err != nil {
		cfg.problem("replay: noop child: %v", err)
	}
	for round := range cfg.slowRuns {
		line := fmt.Sprintf("  replay run %d/%d:", round+1, cfg.slowRuns)
		for _, l := range Rotate(replayLibs, round) {
			if _, ok := sizes[dataSet(l.lib)]; !ok {
				continue
			}
			r, err := runChild(childSpec{Task: "replay", Lib: l.lib, Dir: filepath.Join(root, dataSet(l.lib)), N: n})
			if err != nil {
				cfg.problem("replay %s: %v", l.name, err)
				continue
			}
			speed.Add(l.name, l.role, col, float64(r.Records)/r.Seconds)
			mem.Add(l.name, l.role, "peak RSS", float64(r.MaxRSS)/1024)
			mem.Add(l.name, l.role, "peak anonymous memory (sampled)", float64(r.AnonPeak)/1024)
			line += fmt.Sprintf(" %s %s/s %.0f MiB;", l.name, FormatValue(float64(r.Records)/r.Seconds), float64(r.MaxRSS)/1024)
		}
		cfg.progress(line)
	}
	speed.Note = "Each library reads the records as bytes, as a program replaying its log would, and counts them; " +
		"ministore checks every record's CRC, and the decoded rows also decode each record into a struct: with encoding/json (the default codec) " +
		"and with ministore/jsonv2codec (github.com/go-json-experiment/json), reading the same journal. " +
		"tidwall/wal and raft-wal are read with Read/GetLog for every index; bbolt with a cursor in one read transaction; pebble with an iterator. " +
		"The raw row reads a file of the same JSON lines, without framing or checksums, with a 1 MiB bufio.Reader. " +
		"The data sets were written just before without syncing each record (ministore: AppendBatch of 1,000 with SyncNever; " +
		"tidwall/wal: WriteBatch of 1,000 with NoSync; raft-wal: StoreLogs of 1,000; bbolt: transactions of 10,000 with NoSync; pebble: batches of 1,000, then Flush) and closed. " +
		"Size on disk:"
	for _, l := range replayLibs {
		if s, ok := sizes[l.lib]; ok {
			speed.Note += fmt.Sprintf(" %s %.0f MiB;", l.lib, float64(s)/(1<<20))
		}
	}
	speed.Note = speed.Note[:len(speed.Note)-1] + "."
	mem.Note = fmt.Sprintf("Measured in a child process that does nothing but open and read; a child that does nothing at all peaks at %.1f MiB RSS, %.1f MiB anonymous. "+
		"Peak RSS includes the file pages a library maps: bbolt maps its whole file, so its RSS grows with the data set while its anonymous memory does not.",
		float64(base.MaxRSS)/1024, float64(base.AnonPeak)/1024)
	cfg.emit(speed)
	cfg.emit(mem)
	return []*Table{speed, mem}
}

// buildReplaySet writes n records of 100 B for lib into dir.
func buildReplaySet(lib, dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mk := recMaker(100)
	const batch = 1000
	switch lib {
	case "raw":
		f, err := os.Create(filepath.Join(dir, "lines.jsonl"))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for i := 1; i <= n; i++ {
			w.Write(encodeRec(mk(int64(i))))
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	case "ministore":
		s, err := ministore.Open[Rec](filepath.Join(dir, "j.log"), &ministore.Options{Sync: ministore.SyncNever, Logger: quietLog})
		if err != nil {
			return err
		}
		recs := make([]Rec, 0, batch)
		for i := 1; i <= n; i++ {
			recs = append(recs, mk(int64(i)))
			if len(recs) == batch || i == n {
				if _, _, err := s.AppendBatch(recs...); err != nil {
					s.Close()
					return err
				}
				recs = recs[:0]
			}
		}
		return s.Close()
	case "tidwall":
		o := *tidwal.DefaultOptions
		o.NoSync = true
		l, err := tidwal.Open(dir, &o)
		if err != nil {
			return err
		}
		var b tidwal.Batch
		for i := 1; i <= n; i++ {
			b.Write(uint64(i), encodeRec(mk(int64(i))))
			if i%batch == 0 || i == n {
				if err := l.WriteBatch(&b); err != nil {
					l.Close()
					return err
				}
				b.Clear()
			}
		}
		return l.Close()
	case "raftwal":
		w, closeFn, err := openRaftWALDir(dir)
		if err != nil {
			return err
		}
		logs := make([]*raft.Log, 0, batch)
		for i := 1; i <= n; i++ {
			logs = append(logs, &raft.Log{Index: uint64(i), Term: 1, Type: raft.LogCommand, Data: encodeRec(mk(int64(i)))})
			if len(logs) == batch || i == n {
				if err := w.StoreLogs(logs); err != nil {
					closeFn()
					return err
				}
				logs = logs[:0]
			}
		}
		return closeFn()
	case "bolt":
		db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{NoSync: true})
		if err != nil {
			return err
		}
		for lo := 1; lo <= n; lo += 10_000 {
			err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(benchBucket)
				if err != nil {
					return err
				}
				for i := lo; i < lo+10_000 && i <= n; i++ {
					if err := b.Put(key8(uint64(i)), encodeRec(mk(int64(i)))); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				db.Close()
				return err
			}
		}
		if err := db.Sync(); err != nil {
			db.Close()
			return err
		}
		return db.Close()
	case "pebble":
		db, err := pebble.Open(dir, pebbleOptions())
		if err != nil {
			return err
		}
		b := db.NewBatch()
		for i := 1; i <= n; i++ {
			b.Set(key8(uint64(i)), encodeRec(mk(int64(i))), nil)
			if i%batch == 0 || i == n {
				if err := b.Commit(pebble.NoSync); err != nil {
					db.Close()
					return err
				}
				b = db.NewBatch()
			}
		}
		if err := db.Flush(); err != nil {
			db.Close()
			return err
		}
		return db.Close()
	}
	return fmt.Errorf("unknown data set %q", lib)
}

// replayChild reads every record of the data set, in a child process.
func replayChild(spec childSpec) (childResult, error) {
	var r childResult
	start := time.Now()
	count := func(p []byte) { r.Records++; r.Bytes += int64(len(p)) }
	var err error
	switch spec.Lib {
	case "raw":
		err = func() error {
			f, err := os.Open(filepath.Join(spec.Dir, "lines.jsonl"))
			if err != nil {
				return err
			}
			defer f.Close()
			br := bufio.NewReaderSize(f, 1<<20)
			for {
				line, err := br.ReadSlice('\n')
				if len(line) > 0 {
					count(line)
				}
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
			}
		}()
	case "ministore":
		for rec, e := range ministore.Records[json.RawMessage](filepath.Join(spec.Dir, "j.log"), 1) {
			if e != nil {
				err = e
				break
			}
			count(rec.Value)
		}
	case "ministore-typed":
		for rec, e := range ministore.Records[Rec](filepath.Join(spec.Dir, "j.log"), 1) {
			if e != nil {
				err = e
				break
			}
			count([]byte(rec.Value.Value))
		}
	case "ministore-typed-v2":
		opts := &ministore.Options{Codec: jsonv2codec.New()}
		for rec, e := range ministore.RecordsWith[Rec](filepath.Join(spec.Dir, "j.log"), 1, opts) {
			if e != nil {
				err = e
				break
			}
			count([]byte(rec.Value.Value))
		}
	case "tidwall":
		err = func() error {
			l, err := tidwal.Open(spec.Dir, nil)
			if err != nil {
				return err
			}
			defer l.Close()
			first, err := l.FirstIndex()
			if err != nil {
				return err
			}
			last, err := l.LastIndex()
			if err != nil {
				return err
			}
			for i := first; i <= last && first > 0; i++ {
				p, err := l.Read(i)
				if err != nil {
					return err
				}
				count(p)
			}
			return nil
		}()
	case "raftwal":
		err = func() error {
			w, closeFn, err := openRaftWALDir(spec.Dir)
			if err != nil {
				return err
			}
			defer closeFn()
			first, err := w.FirstIndex()
			if err != nil {
				return err
			}
			last, err := w.LastIndex()
			if err != nil {
				return err
			}
			var lg raft.Log
			for i := first; i <= last && first > 0; i++ {
				if err := w.GetLog(i, &lg); err != nil {
					return err
				}
				count(lg.Data)
			}
			return nil
		}()
	case "bolt":
		err = func() error {
			db, err := bolt.Open(filepath.Join(spec.Dir, "bolt.db"), 0o600, nil)
			if err != nil {
				return err
			}
			defer db.Close()
			return db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(benchBucket)
				if b == nil {
					return errors.New("no bucket")
				}
				c := b.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					count(v)
				}
				return nil
			})
		}()
	case "pebble":
		err = func() error {
			db, err := pebble.Open(spec.Dir, pebbleOptions())
			if err != nil {
				return err
			}
			defer db.Close()
			it, err := db.NewIter(nil)
			if err != nil {
				return err
			}
			for it.First(); it.Valid(); it.Next() {
				v, err := it.ValueAndErr()
				if err != nil {
					it.Close()
					return err
				}
				count(v)
			}
			return it.Close()
		}()
	default:
		err = fmt.Errorf("unknown library %q", spec.Lib)
	}
	r.Seconds = time.Since(start).Seconds()
	if err == nil && r.Records != int64(spec.N) {
		err = fmt.Errorf("read %d records, want %d", r.Records, spec.N)
	}
	return r, err
}
