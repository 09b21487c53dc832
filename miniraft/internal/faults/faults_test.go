// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain runs this test binary as a node process when the harness
// starts it so (EnvNode).
func TestMain(m *testing.M) {
	NodeMain()
	os.Exit(m.Run())
}

// TestFaults runs a cluster of three node processes through the faults
// with concurrent clients, and checks the histories: linearizable, no
// acknowledged write lost, no write applied twice, identical final states.
//
// The default run injects two faults (kill-leader, attacker) for a few
// seconds each, to stay within the -race budget of `go test ./...`. The knobs:
//
//	MINI_FAULT_SECONDS=60   about that many seconds in all, every fault
//	                        (unless MINI_FAULTS says which); .ci/run uses 60,
//	                        scripts/crash-suite its FAULT_SECONDS
//	MINI_FAULTS=kill-leader,pause-leader   the faults to inject
//	MINI_FAULTS_NOTLS=1                    the nodes on plain TCP (no attacker fault)
//	MINI_FAULTS_RETRY=0                    no retries of unknown-outcome appends
//	                                       (by default they are retried with
//	                                       their request ID: Config.RetryUnknown)
//	MINI_FAULTS_BUG=stale-read             plant a bug in the nodes (NodeConfig.Bug:
//	                                       stale-read, fake-ack, no-dedup): the test then
//	                                       passes only if the checks catch it
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	faults := []string{"kill-leader", "attacker"}
	phase := 5 * time.Second
	if s, err := strconv.Atoi(os.Getenv("MINI_FAULT_SECONDS")); err == nil && s > 0 {
		faults = NemesisNames()
		if env := os.Getenv("MINI_FAULTS"); env != "" {
			faults = strings.Split(env, ",")
		}
		phase = max(5*time.Second, time.Duration(s)*time.Second/time.Duration(len(faults)+1))
	} else if env := os.Getenv("MINI_FAULTS"); env != "" {
		faults = strings.Split(env, ",")
	}
	cfg := Config{Dir: t.TempDir(), Faults: faults, Phase: phase, Logf: t.Logf, Bug: os.Getenv("MINI_FAULTS_BUG"),
		TrustNotApplied: true, InsecureNoTLS: os.Getenv("MINI_FAULTS_NOTLS") != "", RetryUnknown: os.Getenv("MINI_FAULTS_RETRY") != "0"}
	if cfg.InsecureNoTLS {
		cfg.Faults = slices.DeleteFunc(cfg.Faults, func(f string) bool { return f == "attacker" })
	}
	rep, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		t.Logf("fault %s", p)
	}
	f := rep.Failed(cfg.TrustNotApplied)
	switch {
	case cfg.Bug != "" && f == "":
		t.Fatalf("the nodes had the bug %q, and the checks found nothing", cfg.Bug)
	case cfg.Bug != "":
		t.Logf("bug %q caught: %s", cfg.Bug, f)
	case f != "":
		t.Fatal(f)
	}
}

// TestTLSCost measures what mutual TLS costs the clients: a phase without
// faults on nodes with TLS, then on plain TCP, in one run; with the
// clients on every node (most calls forwarded to the leader, each on a
// connection of its own), then all on the leader. It runs only with
// MINI_FAULTS_TLS_COST=SECONDS (per phase).
func TestTLSCost(t *testing.T) {
	s, err := strconv.Atoi(os.Getenv("MINI_FAULTS_TLS_COST"))
	if err != nil || s <= 0 {
		t.Skip("set MINI_FAULTS_TLS_COST=SECONDS to measure")
	}
	for _, onLeader := range []bool{false, true} {
		rate := map[bool]float64{}
		for _, insecure := range []bool{false, true} {
			rep, err := Run(Config{Dir: t.TempDir(), Faults: []string{"none"}, Phase: time.Duration(s) * time.Second,
				InsecureNoTLS: insecure, LeaderClients: onLeader, TrustNotApplied: true, Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			if f := rep.Failed(true); f != "" {
				t.Fatal(f)
			}
			rate[insecure] = rep.Phases[0].OKPerSecond()
		}
		where := "on every node"
		if onLeader {
			where = "on the leader"
		}
		t.Logf("clients %s: ok ops/s with mutual TLS %.1f, on plain TCP %.1f (TLS: %+.1f%%)", where, rate[false], rate[true], 100*(rate[false]/rate[true]-1))
	}
}
