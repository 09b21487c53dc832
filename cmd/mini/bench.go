// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
	"github.com/spf13/cobra"
)

type benchRow struct {
	Name     string  `json:"name"`
	Ops      int64   `json:"ops"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_second"`
	VsRawRPS float64 `json:"vs_raw_fdatasync,omitempty"`
}

func newBenchCmd() *cobra.Command {
	var dir string
	var dur time.Duration
	var asJSON bool
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure this machine: raw fdatasync rate, ministore appends with 1 and 64 writers, replay",
		Long: `Measure, in a temporary folder under --dir, how fast this machine
makes small writes durable, and how ministore compares:

  raw fdatasync    write 100 bytes into a preallocated file and fdatasync, in a loop
  append x1        ministore.Append from one goroutine, every record fsync'd
  append x64       ministore.Append from 64 goroutines (group commit)
  replay           stream the records back, as raw JSON

Each write test runs for --duration. Ratios are against the raw loop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if info, err := os.Stat(dir); err != nil || !info.IsDir() {
				return usagef("--dir %s is not a folder", dir)
			}
			tmp, err := os.MkdirTemp(dir, "mini-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			update, finish := progress(cmd.ErrOrStderr(), "benchmarking", false)
			steps := int64(4)
			var rows []benchRow
			for i, step := range []func() (benchRow, error){
				func() (benchRow, error) { return benchRaw(tmp, dur) },
				func() (benchRow, error) { return benchAppend(tmp, "append x1", 1, dur) },
				func() (benchRow, error) { return benchAppend(tmp, "append x64", 64, dur) },
				func() (benchRow, error) { return benchReplay(tmp) },
			} {
				row, err := step()
				if err != nil {
					finish()
					return err
				}
				rows = append(rows, row)
				update(int64(i+1), steps)
			}
			finish()
			raw := rows[0].PerSec
			for i := 1; i < 3; i++ {
				rows[i].VsRawRPS = rows[i].PerSec / raw
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, rows)
			}
			tw := table(out)
			fmt.Fprintln(tw, "TEST\tOPS\tSECONDS\tPER SECOND\tVS RAW FDATASYNC")
			for _, r := range rows {
				ratio := ""
				if r.VsRawRPS > 0 {
					ratio = fmt.Sprintf("%.2fx", r.VsRawRPS)
				}
				fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%s\n", r.Name, r.Ops, r.Seconds, r.PerSec, ratio)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&dir, "dir", os.TempDir(), "folder on the disk to measure")
	c.Flags().DurationVar(&dur, "duration", 2*time.Second, "how long each write test runs")
	c.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return c
}

func row(name string, ops int64, d time.Duration) benchRow {
	return benchRow{Name: name, Ops: ops, Seconds: d.Seconds(), PerSec: float64(ops) / d.Seconds()}
}

var benchRecord = json.RawMessage(`{"op":"put","key":"user/000000000042","value":"the quick brown fox jumps over the lazy dog"}`)

func benchRaw(dir string, dur time.Duration) (benchRow, error) {
	f, err := vfs.OS.OpenFile(filepath.Join(dir, "raw"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return benchRow{}, err
	}
	defer f.Close()
	const size = 16 << 20
	if _, err := f.WriteAt(make([]byte, size), 0); err != nil {
		return benchRow{}, err
	}
	if err := f.Sync(); err != nil {
		return benchRow{}, err
	}
	line := make([]byte, 100)
	var ops int64
	start := time.Now()
	for time.Since(start) < dur {
		if _, err := f.WriteAt(line, (ops*100)%size); err != nil {
			return benchRow{}, err
		}
		if err := f.Sync(); err != nil {
			return benchRow{}, err
		}
		ops++
	}
	return row("raw fdatasync", ops, time.Since(start)), nil
}

func benchAppend(dir, name string, writers int, dur time.Duration) (benchRow, error) {
	path := filepath.Join(dir, fmt.Sprintf("append-%d.log", writers))
	s, err := ministore.Open[json.RawMessage](path, nil)
	if err != nil {
		return benchRow{}, err
	}
	defer s.Close()
	var ops atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for time.Since(start) < dur {
				if _, err := s.Append(benchRecord); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return benchRow{}, err
	}
	return row(name, ops.Load(), d), nil
}

func benchReplay(dir string) (benchRow, error) {
	path := filepath.Join(dir, "replay.log")
	s, err := ministore.Open[json.RawMessage](path, &ministore.Options{Sync: ministore.SyncNever})
	if err != nil {
		return benchRow{}, err
	}
	batch := make([]json.RawMessage, 1000)
	for i := range batch {
		batch[i] = benchRecord
	}
	for range 200 {
		if _, _, err := s.AppendBatch(batch...); err != nil {
			s.Close()
			return benchRow{}, err
		}
	}
	if err := s.Close(); err != nil {
		return benchRow{}, err
	}
	var ops int64
	start := time.Now()
	for _, err := range ministore.Records[json.RawMessage](path, 1) {
		if err != nil {
			return benchRow{}, err
		}
		ops++
	}
	return row("replay", ops, time.Since(start)), nil
}
