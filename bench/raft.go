// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The raft storage section runs the benchmarks of ./raftstore with go test
// and reads their results.

var raftStores = []struct {
	sub  string // sub-benchmark name
	name string
	role Role
}{
	{"Mini", "miniraft", Mini},
	{"MiniUncached", "miniraft, log cache off", Mini},
	{"BoltDB", "raft-boltdb/v2", Peer},
	{"WAL", "raft-wal", Peer},
}

var (
	raftWrites = []string{"StoreLog", "StoreLogs", "DeleteRange", "Set", "SetUint64"}
	raftReads  = []string{"GetLog", "Get", "GetUint64", "FirstIndex", "LastIndex"}
)

// benchLine matches a line of go test -bench output.
var benchLine = regexp.MustCompile(`^Benchmark([A-Za-z0-9]+)/([A-Za-z0-9]+)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

// parseBench reads go test -bench output: benchmark -> sub-benchmark ->
// ns/op samples (one per -count).
func parseBench(out string) map[string]map[string][]float64 {
	res := map[string]map[string][]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		if res[m[1]] == nil {
			res[m[1]] = map[string][]float64{}
		}
		res[m[1]][m[2]] = append(res[m[1]][m[2]], v)
	}
	return res
}

func runRaft(cfg *config) []*Table {
	args := []string{"test", "-run", "^$", "-bench", ".", "-timeout", "60m", "-count", strconv.Itoa(cfg.raftCount), "-benchtime", cfg.raftTime, "./raftstore"}
	cfg.progress("  go " + strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	cmd.Dir = cfg.benchDir
	cmd.Env = append(os.Environ(), "TMPDIR="+cfg.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		cfg.problem("raft: go test: %v: %s", err, lastLines(string(out), 10))
		return nil
	}
	res := parseBench(string(out))
	writes := &Table{
		ID:       "Raft storage",
		Title:    "Raft log and stable stores, writes (hashicorp/raft/bench), every write fsync'd",
		Unit:     "µs/op",
		Lower:    true,
		Mini:     "miniraft",
		Headline: true,
		Note: "raft's own storage benchmarks (hashicorp/raft/bench), run by `go test -bench` in bench/raftstore, each store with its default options in a fresh folder: " +
			"StoreLog stores one log, StoreLogs three, DeleteRange deletes ten logs (three, and the no-op logs that fill the gap raft's benchmark leaves after them) from the front of a log stored before the timing starts; Set and SetUint64 write the stable store. " +
			"Every store fsyncs each of these before returning. miniraft is a ministore LogStore and StableStore. " +
			"go test runs the stores one after the other within each benchmark, and each benchmark -count times in a row.",
	}
	reads := &Table{
		ID:    "Raft storage reads",
		Title: "Raft log and stable stores, reads (hashicorp/raft/bench)",
		Unit:  "ns/op",
		Lower: true,
		Mini:  "miniraft",
		Note:  "GetLog reads one of the last logs stored; with the log cache off, miniraft reads it from its file and decodes it.",
	}
	for _, st := range raftStores {
		for _, b := range raftWrites {
			for _, v := range res[b][st.sub] {
				writes.Add(st.name, st.role, b, v/1000)
			}
		}
		for _, b := range raftReads {
			for _, v := range res[b][st.sub] {
				reads.Add(st.name, st.role, b, v)
			}
		}
	}
	var tables []*Table
	for _, t := range []*Table{writes, reads} {
		if len(t.Rows) == 0 {
			cfg.problem("raft: no results in the go test output: %s", lastLines(string(out), 10))
			return nil
		}
		// Columns in the order of the lists above, whatever order go test ran them.
		order := raftWrites
		if t == reads {
			order = raftReads
		}
		t.Cols = slices.DeleteFunc(slices.Clone(order), func(c string) bool { return !slices.Contains(t.Cols, c) })
		cfg.emit(t)
		tables = append(tables, t)
	}
	return tables
}
