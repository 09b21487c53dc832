// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	metrics "github.com/hashicorp/go-metrics"
)

// TestClusterTrace breaks down the latency of one client's Apply on each
// cluster subject, from hashicorp/raft's own timers (which every subject
// runs): the leader's StoreLogs (dispatchLog), the AppendEntries round
// trip to a follower, the follower's StoreLogs, dispatch to commit, the
// FSM's apply, and the whole call as the client sees it. It runs only with
// MINI_BENCH_TRACE set (a number of seconds per subject and round; rounds
// by MINI_BENCH_TRACE_ROUNDS, default 3; subjects by
// MINI_BENCH_TRACE_SUBJECTS, their names separated by ";"), and takes
// minutes:
//
//	MINI_BENCH_TRACE=3 go test -run ClusterTrace -v .
func TestClusterTrace(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("MINI_BENCH_TRACE"))
	if secs <= 0 {
		t.Skip("set MINI_BENCH_TRACE=seconds to run")
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("MINI_BENCH_TRACE_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	cfg := &config{dir: t.TempDir(), warm: 250 * time.Millisecond, dur: time.Duration(secs) * time.Second}
	stages := []struct{ name, key string }{
		{"leader StoreLogs", "raft.leader.dispatchLog"},
		{"AppendEntries RPC", "raft.replication.appendEntries.rpc"},
		{"follower handler", "raft.rpc.appendEntries"},
		{"follower StoreLogs", "raft.rpc.appendEntries.storeLogs"},
		{"dispatch->commit", "raft.commitTime"},
		{"fsm enqueue", "raft.fsm.enqueue"},
		{"fsm apply", "raft.fsm.apply"},
		{"fsm applyBatch", "raft.fsm.applyBatch"},
	}
	want := map[string]bool{rowClusterMini: true, rowClusterMiniNoTLS: true, rowClusterWAL: true}
	if s := os.Getenv("MINI_BENCH_TRACE_SUBJECTS"); s != "" {
		want = map[string]bool{}
		for n := range strings.SplitSeq(s, ";") {
			want[n] = true
		}
	}
	var subjects []clusterSubject
	for _, s := range clusterSubjects() {
		if want[s.name] {
			subjects = append(subjects, s)
		}
	}
	for round := range rounds {
		for _, s := range Rotate(subjects, round) {
			sink := metrics.NewInmemSink(time.Hour, time.Hour)
			mc := metrics.DefaultConfig("")
			mc.EnableHostname, mc.EnableRuntimeMetrics, mc.EnableServiceLabel = false, false, false
			if _, err := metrics.NewGlobal(mc, sink); err != nil {
				t.Fatal(err)
			}
			dir, err := freshDir(cfg.dir, "trace")
			if err != nil {
				t.Fatal(err)
			}
			c, err := s.open(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			var total, n time.Duration
			rate, err := measure(cfg, 1, func(_ int, i int64) error {
				t0 := time.Now()
				err := c.apply(i)
				total += time.Since(t0)
				n++
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.close(); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(dir)
			got := map[string]metrics.SampledValue{}
			for _, iv := range sink.Data() {
				for k, v := range iv.Samples {
					got[k] = v
				}
			}
			line := fmt.Sprintf("round %d %-28s %7.0f/s  call %6.0fµs", round+1, s.name, rate, float64(total.Microseconds())/float64(n))
			for _, st := range stages {
				var sum float64
				var cnt int
				for k, v := range got {
					if k == st.key || strings.HasPrefix(k, st.key+";") {
						sum += v.Sum
						cnt += v.Count
					}
				}
				if cnt > 0 {
					line += fmt.Sprintf(" | %s %.0fµs", st.name, sum/float64(cnt)*1000)
				}
			}
			t.Log(line)
			if os.Getenv("MINI_BENCH_TRACE_ALL") != "" {
				keys := make([]string, 0, len(got))
				for k := range got {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					t.Logf("   %s n=%d mean=%.0fµs", k, got[k].Count, got[k].Mean*1000)
				}
			}
		}
	}
}
