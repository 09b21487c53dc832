// SPDX-License-Identifier: MIT OR Apache-2.0

package promstats_test

import (
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mini-go/mini/internal/testcert"
	"github.com/mini-go/mini/metrics/promstats"
	"github.com/mini-go/mini/miniraft"
)

// A running 3-node cluster, scraped on the leader and on a follower: role,
// indexes, the raft log's journal and the leader's per-follower series
// move as it applies.
func TestScrapeRaft(t *testing.T) {
	ca, err := testcert.NewCA("promstats test CA")
	if err != nil {
		t.Fatal(err)
	}
	conf := raft.DefaultConfig()
	conf.HeartbeatTimeout = 600 * time.Millisecond // room for TLS under -race
	conf.ElectionTimeout = 600 * time.Millisecond
	conf.LeaderLeaseTimeout = 500 * time.Millisecond
	base := t.TempDir()
	var nodes []*miniraft.Manager[account, deposit]
	for i, id := range []string{"n1", "n2", "n3"} {
		tlsConf, err := ca.Config(id)
		if err != nil {
			t.Fatal(err)
		}
		m, err := miniraft.Open[account, deposit](filepath.Join(base, id), &miniraft.Options{
			ID: id, Bind: "127.0.0.1:0", TLS: tlsConf, Bootstrap: i == 0, Raft: conf, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		nodes = append(nodes, m)
		if i == 0 {
			if _, _, err := m.WaitLeader(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := nodes[0].AddVoter(id, m.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	leader, follower := nodes[0], nodes[1]
	if !leader.IsLeader() {
		t.Skip("n1 lost its leadership while the cluster formed")
	}
	serve := func(m *miniraft.Manager[account, deposit], node string) string {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(promstats.NewRaftCollector(m, prometheus.Labels{"node": node}))
		srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	leaderURL, followerURL := serve(leader, "n1"), serve(follower, "n2")
	apply := func(n int) {
		for range n {
			if _, err := leader.Apply(deposit{1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(1)
	before, fBefore := scrape(t, leaderURL), scrape(t, followerURL)
	if v := value(t, before, "mini_raft_role", map[string]string{"role": "leader"}); v != 1 {
		t.Fatalf("leader: mini_raft_role{role=leader} = %v", v)
	}
	if v := value(t, fBefore, "mini_raft_role", map[string]string{"role": "follower"}); v != 1 {
		t.Fatalf("follower: mini_raft_role{role=follower} = %v", v)
	}
	apply(10)
	// A commit needs one follower: the other, and the follower's apply,
	// come a moment later.
	deadline := time.Now().Add(10 * time.Second)
	after, fAfter := scrape(t, leaderURL), scrape(t, followerURL)
	caughtUp := func() bool {
		for _, f := range []string{"n2", "n3"} {
			l := map[string]string{"follower": f}
			if value(t, after, "mini_raft_follower_match_index", l) < value(t, before, "mini_raft_follower_match_index", l)+10 {
				return false
			}
		}
		return value(t, fAfter, "mini_raft_applied_index", nil) >= value(t, fBefore, "mini_raft_applied_index", nil)+10
	}
	for !caughtUp() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		after, fAfter = scrape(t, leaderURL), scrape(t, followerURL)
	}
	for _, name := range []string{"mini_raft_commit_index", "mini_raft_applied_index", "mini_raft_last_log_index", "mini_raft_sequence"} {
		if b, a := value(t, before, name, nil), value(t, after, name, nil); a < b+10 {
			t.Errorf("leader: %s went from %v to %v over 10 applies", name, b, a)
		}
		if b, a := value(t, fBefore, name, nil), value(t, fAfter, name, nil); a < b+10 {
			t.Errorf("follower: %s went from %v to %v over 10 applies", name, b, a)
		}
	}
	raftLog := map[string]string{"journal": "raft"}
	if b, a := value(t, before, "mini_store_appends_total", raftLog), value(t, after, "mini_store_appends_total", raftLog); a < b+10 {
		t.Errorf("mini_store_appends_total{journal=raft} went from %v to %v", b, a)
	}
	for _, f := range []string{"n2", "n3"} {
		l := map[string]string{"follower": f}
		if b, a := value(t, before, "mini_raft_follower_match_index", l), value(t, after, "mini_raft_follower_match_index", l); a < b+10 {
			t.Errorf("mini_raft_follower_match_index{follower=%s} went from %v to %v", f, b, a)
		}
		if v := value(t, after, "mini_raft_follower_lag", l); v < 0 || v > 10 {
			t.Errorf("mini_raft_follower_lag{follower=%s} = %v", f, v)
		}
	}
	if v := value(t, fAfter, "mini_raft_last_contact_seconds", nil); v < 0 || v > 5 {
		t.Errorf("follower: mini_raft_last_contact_seconds = %v", v)
	}
}

type fakeRaft miniraft.Stats

func (f fakeRaft) Stats() miniraft.Stats { return miniraft.Stats(f) }

// Per-follower series on a leader, with -1 for a follower not heard from.
func TestRaftCollectorFollowers(t *testing.T) {
	st := fakeRaft{Role: "leader", Term: 4, LastLogIndex: 100, Followers: []miniraft.FollowerStats{
		{ID: "n2", Known: true, Match: 90, Lag: 10, LastContact: 2 * time.Second},
		{ID: "n3", Lag: 100, LastContact: -1},
	}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promstats.NewRaftCollector(st, nil))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	fams := scrape(t, srv.URL)
	for _, tc := range []struct {
		name     string
		follower string
		want     float64
	}{
		{"mini_raft_follower_match_index", "n2", 90},
		{"mini_raft_follower_lag", "n2", 10},
		{"mini_raft_follower_last_contact_seconds", "n2", 2},
		{"mini_raft_follower_lag", "n3", 100},
		{"mini_raft_follower_last_contact_seconds", "n3", -1},
	} {
		if got := value(t, fams, tc.name, map[string]string{"follower": tc.follower}); got != tc.want {
			t.Errorf("%s{follower=%s} = %v, want %v", tc.name, tc.follower, got, tc.want)
		}
	}
}
