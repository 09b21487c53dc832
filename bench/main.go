// SPDX-License-Identifier: MIT OR Apache-2.0

// Command bench measures mini's libraries against the libraries a Go user
// would pick instead, on this machine, in one run, and writes a report
// with a chart. It is a module of its own so that users of mini download
// none of the peers.
//
//	go run -C bench .           # from the repository's root: the full run (about 18 minutes)
//	go run . --quick            # in bench/: a rough run in about a minute
//	go run . --smoke --out DIR  # seconds: proves every workload runs (CI)
//
// The full run writes docs/bench/results.md, results.json (every sample),
// wal-append.svg and wal-append.png under the repository's root; the
// others write to --out (a temporary directory by default). --render
// results.json draws the report again from saved samples.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

type config struct {
	mode string // full, quick, smoke

	runs      int           // runs per figure (median)
	slowRuns  int           // runs for replay and recovery
	warm, dur time.Duration // throughput: uncounted warm-up, counted window
	maxOps    int64         // smoke: stop each measurement after this many operations
	replayN   int           // records in the replay workload
	recoverN  int           // mutations in the recovery workload
	recTail   int           // records after the snapshot in recovery
	raftCount int
	raftTime  string

	sizes          []int
	writers        []int
	stateWriters   []int
	queueWorkers   []int
	clusterClients []int
	sections       []string
	dir, out       string
	args           []string
	benchDir       string
	problemsMu     sync.Mutex
	problems       []string
}

var allSections = []string{"wal", "replay", "state", "recovery", "queue", "raft", "cluster"}

func main() {
	if js := os.Getenv(childEnv); js != "" {
		childMain(js)
		return
	}
	cfg := &config{
		sizes:          []int{100, 4096},
		writers:        []int{1, 8, 64},
		stateWriters:   []int{1, 64},
		queueWorkers:   []int{1, 16},
		clusterClients: []int{1, 64},
		args:           os.Args[1:],
	}
	quick := flag.Bool("quick", false, "a rough run in about a minute (fewer, shorter runs, smaller data sets)")
	smoke := flag.Bool("smoke", false, "a few hundred operations per workload, to prove everything runs (CI); figures mean nothing")
	flag.StringVar(&cfg.out, "out", "", "folder for results.md and the charts (default: docs/bench for a full run, a new temporary folder otherwise)")
	flag.StringVar(&cfg.dir, "dir", os.TempDir(), "folder on the disk under test, for the data files (must not be tmpfs)")
	render := flag.String("render", "", "draw results.md and the chart again from a results.json, without measuring (into --out, default the file's folder)")
	only := flag.String("only", strings.Join(allSections, ","), "comma-separated sections to run: "+strings.Join(allSections, ","))
	flag.Parse()
	if *render != "" {
		if err := rerender(*render, cfg.out); err != nil {
			fatalf("%v", err)
		}
		return
	}

	switch {
	case *smoke:
		cfg.mode = "smoke"
		cfg.runs, cfg.slowRuns = 1, 1
		cfg.dur, cfg.maxOps = 300*time.Millisecond, 200
		cfg.replayN, cfg.recoverN, cfg.recTail = 1000, 1000, 100
		cfg.raftCount, cfg.raftTime = 1, "20x"
	case *quick:
		cfg.mode = "quick"
		cfg.runs, cfg.slowRuns = 3, 2
		cfg.warm, cfg.dur = 30*time.Millisecond, 150*time.Millisecond
		cfg.replayN, cfg.recoverN, cfg.recTail = 100_000, 100_000, 1000
		cfg.raftCount, cfg.raftTime = 1, "30ms"
	default:
		cfg.mode = "full"
		cfg.runs, cfg.slowRuns = 5, 3
		cfg.warm, cfg.dur = 250*time.Millisecond, 1500*time.Millisecond
		cfg.replayN, cfg.recoverN, cfg.recTail = 1_000_000, 1_000_000, 10_000
		cfg.raftCount, cfg.raftTime = 5, "1s"
	}
	for s := range strings.SplitSeq(*only, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(allSections, s) {
			fatalf("unknown section %q (want some of %s)", s, strings.Join(allSections, ","))
		}
		cfg.sections = append(cfg.sections, s)
	}
	var err error
	if cfg.benchDir, err = findBenchModule(); err != nil {
		fatalf("%v", err)
	}
	if cfg.out == "" {
		if cfg.mode == "full" && len(cfg.sections) == len(allSections) {
			cfg.out = filepath.Join(cfg.benchDir, "..", "docs", "bench")
		} else if cfg.out, err = os.MkdirTemp("", "mini-bench-report-"); err != nil {
			fatalf("%v", err)
		}
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		fatalf("%v", err)
	}
	dataDir, err := os.MkdirTemp(cfg.dir, "mini-bench-data-")
	if err != nil {
		fatalf("%v", err)
	}
	cfg.dir = dataDir
	defer os.RemoveAll(dataDir)

	m := describeMachine(dataDir)
	fmt.Printf("mini bench, %s run: %s\n", cfg.mode, m.Summary())
	if m.FSType == "tmpfs" || m.FSType == "ramfs" {
		fmt.Println("warning: the data folder is in memory; fsync costs nothing there. Use --dir on a real disk.")
	}

	start := time.Now()
	var tables []*Table
	run := func(name string, fn func(*config) []*Table) {
		if !slices.Contains(cfg.sections, name) {
			return
		}
		t0 := time.Now()
		fmt.Printf("\n== %s\n", name)
		tables = append(tables, fn(cfg)...)
		fmt.Printf("(%s: %s)\n", name, time.Since(t0).Round(time.Second))
	}
	run("wal", runWAL)
	run("replay", runReplay)
	run("state", runState)
	run("recovery", runRecovery)
	run("queue", runQueue)
	run("raft", runRaft)
	run("cluster", runCluster)

	rec := &runRecord{
		Mode: cfg.mode, Args: cfg.args, Start: start, Elapsed: time.Since(start),
		Runs: cfg.runs, SlowRuns: cfg.slowRuns, Warm: cfg.warm, Dur: cfg.dur, MaxOps: cfg.maxOps,
		Machine: m, Tables: tables,
	}
	if gomod, err := os.ReadFile(filepath.Join(cfg.benchDir, "go.mod")); err == nil {
		rec.Versions = requiredVersions(string(gomod))
	}
	js, err := json.MarshalIndent(rec, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(cfg.out, "results.json"), append(js, '\n'), 0o644)
	}
	if err != nil {
		cfg.problem("results.json: %v", err)
	}
	rec.Problems = cfg.problems
	path, files, err := writeReport(rec, cfg.out)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("\n== summary\n\n%s\nwrote %s", HeadlineMarkdown(Headlines(tables)), path)
	for _, f := range files {
		fmt.Printf(", %s", f)
	}
	fmt.Printf(" in %s\n", rec.Elapsed.Round(time.Second))
	if len(cfg.problems) > 0 {
		fmt.Printf("\n%d problem(s):\n  %s\n", len(cfg.problems), strings.Join(cfg.problems, "\n  "))
		os.Exit(1)
	}
}

// writeReport draws the chart and writes results.md into out, and returns
// the paths it wrote.
func writeReport(rec *runRecord, out string) (string, []string, error) {
	charts, err := writeCharts(out, rec.Tables)
	if err != nil {
		rec.Problems = append(rec.Problems, fmt.Sprintf("chart: %v", err))
	}
	path := filepath.Join(out, "results.md")
	if err := os.WriteFile(path, []byte(renderReport(rec, charts)), 0o644); err != nil {
		return "", nil, err
	}
	var files []string
	for _, c := range charts {
		files = append(files, filepath.Join(out, c))
	}
	return path, files, nil
}

// rerender reads a results.json and writes the report and the chart again.
func rerender(file, out string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var rec runRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	if out == "" {
		out = filepath.Dir(file)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	path, files, err := writeReport(&rec, out)
	if err != nil {
		return err
	}
	fmt.Println("wrote", strings.Join(append([]string{path}, files...), ", "))
	return nil
}

// findBenchModule returns the directory of this module's go.mod, looking up
// from the working directory, so that both `go run .` in bench/ and `go run
// -C bench .` at the root find it.
func findBenchModule() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		for _, cand := range []string{d, filepath.Join(d, "bench")} {
			b, err := os.ReadFile(filepath.Join(cand, "go.mod"))
			if err == nil && strings.Contains(string(b), "module github.com/mini-go/mini/bench\n") {
				return cand, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("cannot find the bench module (bench/go.mod) from %s", dir)
		}
	}
}

// progress prints a line of progress.
func (cfg *config) progress(line string) { fmt.Println(line) }

// problem records a failure that does not stop the run; the report lists
// them and the command exits non-zero.
func (cfg *config) problem(format string, args ...any) {
	cfg.problemsMu.Lock()
	defer cfg.problemsMu.Unlock()
	msg := fmt.Sprintf(format, args...)
	cfg.problems = append(cfg.problems, msg)
	fmt.Fprintln(os.Stderr, "problem: "+msg)
}

// emit prints a finished table.
func (cfg *config) emit(t *Table) {
	fmt.Println()
	fmt.Print(t.Markdown())
}
