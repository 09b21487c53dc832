// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// A runRecord is everything a run measured, saved as results.json next
// to the report, so that the report and the chart can be drawn again
// without measuring again (--render).
type runRecord struct {
	Mode     string        `json:"mode"`
	Args     []string      `json:"args"`
	Start    time.Time     `json:"start"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Runs     int           `json:"runs"`
	SlowRuns int           `json:"slow_runs"`
	Warm     time.Duration `json:"warm_ns"`
	Dur      time.Duration `json:"dur_ns"`
	MaxOps   int64         `json:"max_ops"`
	Machine  machine       `json:"machine"`
	Versions []string      `json:"versions"`
	Problems []string      `json:"problems"`
	Tables   []*Table      `json:"tables"`
}

// renderReport writes results.md.
func renderReport(rec *runRecord, charts []string) string {
	var b strings.Builder
	m, start, elapsed := rec.Machine, rec.Start, rec.Elapsed
	cmd := "go run -C bench ."
	if len(rec.Args) > 0 {
		cmd += " " + strings.Join(rec.Args, " ")
	}
	b.WriteString("# mini against its peers\n\n")
	b.WriteString("<!-- Written by the bench module (bench/); do not edit by hand. -->\n\n")
	fmt.Fprintf(&b, "Measured on %s with `%s` from the repository's root (a %s run, %s of wall time; `cd bench && go run .` is the same).\n\n",
		start.UTC().Format("2006-01-02 15:04 MST"), cmd, rec.Mode, elapsed.Round(time.Second))
	if rec.Mode != "full" {
		fmt.Fprintf(&b, "**This is a %s run: the figures are rough%s.**\n\n", rec.Mode,
			map[bool]string{true: " and mean nothing (a few hundred operations each)", false: ""}[rec.Mode == "smoke"])
	}
	b.WriteString("Machine: ")
	fmt.Fprintf(&b, "%d vCPU (%s), %.0f GiB RAM, %s; data files on %s (`%s`, %s) mounted at %s; %s.\n\n",
		m.CPUs, m.CPU, m.MemGiB, m.Kernel, m.FSType, m.Device, m.Disk, m.Mount, m.Go)
	typical, worst := noise(rec.Tables)
	fmt.Fprintf(&b, "Shared machine: other processes may run alongside, so runs of one figure wander; in this run the typical figure's runs "+
		"spread ±%.0f%% around their median (the widest ±%.0f%%). Compare the rows of one table, measured in the same minutes, "+
		"rather than one run with another.\n\n", 100*typical, 100*worst)

	b.WriteString("## Summary\n\n")
	b.WriteString("mini's figure, the best peer's, and mini / best peer; for the WAL, also the physical limit " +
		"(raw write+fdatasync into a preallocated file) and mini / limit. For tables where lower is better " +
		"(times, memory), a ratio below 1 favours mini.\n\n")
	b.WriteString(HeadlineMarkdown(Headlines(rec.Tables)))
	b.WriteString("\n")
	for _, c := range charts {
		if strings.HasSuffix(c, ".svg") {
			fmt.Fprintf(&b, "![WAL appends: records/s against concurrent writers, one line per library](%s)\n\n", c)
		}
	}

	b.WriteString("## How it is measured\n\n")
	fmt.Fprintf(&b, "- Every figure is the median of %d runs (%d for replay and recovery; raft: `go test -count`), shown with ± half the range of the runs. ", rec.Runs, rec.SlowRuns)
	b.WriteString("Each round runs every library once, in an order rotated from round to round, so that drift of the machine hits mini and its peers alike.\n")
	if rec.MaxOps > 0 {
		fmt.Fprintf(&b, "- Throughput: at most %d operations or %s per run, whichever comes first.\n", rec.MaxOps, rec.Dur)
	} else {
		fmt.Fprintf(&b, "- Throughput: each run opens a fresh store in a new folder, lets the writers go for %s (not counted), then counts the operations completed in the next %s.\n", rec.Warm, rec.Dur)
	}
	b.WriteString("- Durable on return: every library runs with its default durability, which fsyncs (or fdatasyncs) before a write returns; " +
		"NATS with `SyncAlways` (`sync: always`).\n")
	b.WriteString("- Replay and recovery run in a fresh child process each time, so their peak memory is their own: " +
		"*peak RSS* is the kernel's high-water mark of the child's resident memory (`VmHWM`), which counts the file pages a library maps (bbolt maps its whole file); " +
		"*peak anonymous memory* is `RssAnon` sampled every 5 ms (heap and stacks, without mapped files). " +
		"Files are in the page cache (written just before), as they are for a process restarted on the same machine.\n")
	b.WriteString("- Libraries run with their default options; nothing is tuned for the benchmark.\n\n")

	for _, t := range rec.Tables {
		b.WriteString(t.Markdown())
		b.WriteString("\n")
	}

	if len(rec.Problems) > 0 {
		b.WriteString("## Problems during this run\n\n")
		for _, p := range rec.Problems {
			fmt.Fprintf(&b, "- %s\n", p)
		}
		b.WriteString("\n")
	}

	b.WriteString("## Versions\n\n")
	b.WriteString("From bench/go.mod; mini itself is the working tree (`replace github.com/mini-go/mini => ../`). " +
		"The raw samples of every figure are in results.json; `go run . --render results.json` draws this report and the chart again from them.\n\n")
	for _, v := range rec.Versions {
		fmt.Fprintf(&b, "- %s\n", v)
	}
	b.WriteString("\n")
	return b.String()
}

// noise returns the median and the largest spread of the figures with
// several runs.
func noise(tables []*Table) (typical, worst float64) {
	var spreads []float64
	for _, t := range tables {
		for _, r := range t.Rows {
			for _, xs := range r.Samples {
				if len(xs) > 1 {
					spreads = append(spreads, Spread(xs))
				}
			}
		}
	}
	if len(spreads) == 0 {
		return 0, 0
	}
	return Median(spreads), slices.Max(spreads)
}

// requiredVersions lists "path version" for the peers required in a
// go.mod.
func requiredVersions(gomod string) []string {
	var out []string
	for line := range strings.SplitSeq(gomod, "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && peerModule(f[0]) && f[0] != "github.com/mini-go/mini" {
			out = append(out, f[0]+" "+f[1])
		}
	}
	return out
}

func peerModule(path string) bool {
	for _, p := range []string{
		"github.com/mini-go/mini",
		"github.com/tidwall/wal",
		"github.com/hashicorp/raft-wal",
		"github.com/hashicorp/raft",
		"github.com/hashicorp/raft-boltdb/v2",
		"go.etcd.io/bbolt",
		"github.com/cockroachdb/pebble/v2",
		"github.com/nats-io/nats-server/v2",
		"github.com/nats-io/nats.go",
		"gonum.org/v1/plot",
	} {
		if path == p {
			return true
		}
	}
	return false
}
