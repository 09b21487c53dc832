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

// A running raft node, scraped: role, indexes and the raft log's journal
// move as it applies.
func TestScrapeRaft(t *testing.T) {
	ca, err := testcert.NewCA("promstats test CA")
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := ca.Config("n1")
	if err != nil {
		t.Fatal(err)
	}
	conf := raft.DefaultConfig()
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	m, err := miniraft.Open[account, deposit](filepath.Join(t.TempDir(), "n1"), &miniraft.Options{
		ID: "n1", Bind: "127.0.0.1:0", TLS: tlsConf, Bootstrap: true, Raft: conf, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, _, err := m.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promstats.NewRaftCollector(m, prometheus.Labels{"node": "n1"}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	before := scrape(t, srv.URL)
	if v := value(t, before, "mini_raft_role", map[string]string{"role": "leader"}); v != 1 {
		t.Fatalf("mini_raft_role{role=leader} = %v", v)
	}
	if v := value(t, before, "mini_raft_role", map[string]string{"role": "follower"}); v != 0 {
		t.Fatalf("mini_raft_role{role=follower} = %v", v)
	}
	for range 10 {
		if _, err := m.Apply(deposit{1}); err != nil {
			t.Fatal(err)
		}
	}
	after := scrape(t, srv.URL)
	for _, name := range []string{"mini_raft_commit_index", "mini_raft_applied_index", "mini_raft_last_log_index", "mini_raft_sequence"} {
		if b, a := value(t, before, name, nil), value(t, after, name, nil); a < b+10 {
			t.Errorf("%s went from %v to %v over 10 applies", name, b, a)
		}
	}
	raftLog := map[string]string{"journal": "raft"}
	if b, a := value(t, before, "mini_store_appends_total", raftLog), value(t, after, "mini_store_appends_total", raftLog); a < b+10 {
		t.Errorf("mini_store_appends_total{journal=raft} went from %v to %v", b, a)
	}
	if v := value(t, after, "mini_raft_term", nil); v < 1 {
		t.Errorf("mini_raft_term = %v", v)
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
