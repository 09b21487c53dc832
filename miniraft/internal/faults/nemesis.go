// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"fmt"
	"strings"
	"time"
)

// A Nemesis is one fault: Inject starts it, Heal ends it. Setup, if set,
// prepares it before the phase's clients start. Each returns a line that
// says what it did.
type Nemesis struct {
	Name string
	// Manual keeps it out of the default list (NemesisNames): name it in
	// Config.Faults (MINI_FAULTS) to run it.
	Manual bool
	Setup  func(r *runner) (string, error)
	Inject func(r *runner) (string, error)
	Heal   func(r *runner) (string, error)
}

// Nemeses are the faults, in the order a run injects them.
var Nemeses = []Nemesis{
	{Name: "kill-leader", Inject: killLeader(1), Heal: restartVictims},
	{Name: "kill-two", Inject: killLeader(2), Heal: restartVictims},
	{Name: "partition-leader", Inject: partitionLeader, Heal: healPartition},
	{Name: "pause-leader", Inject: pauseLeader, Heal: resumeLeader},
	{Name: "latency-cut", Inject: latencyCut, Heal: healLatency},
	{Name: "membership", Inject: changeMembers, Heal: restoreMembers},
	{Name: "disk-loss", Setup: memDiskLeader, Inject: powerLossVictim, Heal: restartVictims},
	// No fault: the baseline rate, e.g. with and without TLS.
	{Name: "none", Manual: true, Inject: noHeal, Heal: noHeal},
	{Name: "attacker", Inject: attack, Heal: noHeal},
}

// NemesisNames lists the names of Nemeses, except the manual ones.
func NemesisNames() []string {
	var names []string
	for _, n := range Nemeses {
		if !n.Manual {
			names = append(names, n.Name)
		}
	}
	return names
}

const leaderWait = 60 * time.Second

// killLeader SIGKILLs the leader and, for n > 1, n-1 followers.
func killLeader(n int) func(r *runner) (string, error) {
	return func(r *runner) (string, error) {
		leader, err := r.c.Leader(leaderWait)
		if err != nil {
			return "", err
		}
		r.victims = []string{leader}
		for _, id := range r.members {
			if len(r.victims) == n {
				break
			}
			if id != leader && r.c.Proc(id).Alive() {
				r.victims = append(r.victims, id)
			}
		}
		for _, id := range r.victims {
			r.c.Kill(id)
		}
		return fmt.Sprintf("SIGKILL %s (leader %s)", strings.Join(r.victims, ", "), leader), nil
	}
}

// restartVictims starts the victims again from their directories.
func restartVictims(r *runner) (string, error) {
	for _, id := range r.victims {
		if _, err := r.c.Start(id, false, false); err != nil {
			return "", err
		}
	}
	return "restarted " + strings.Join(r.victims, ", "), nil
}

// partitionLeader blackholes every link to and from the leader.
func partitionLeader(r *runner) (string, error) {
	leader, err := r.c.Leader(leaderWait)
	if err != nil {
		return "", err
	}
	r.victims = []string{leader}
	r.c.Mesh.Isolate(leader, true)
	return "blackholed every link of the leader " + leader, nil
}

func healPartition(r *runner) (string, error) {
	r.c.Mesh.Isolate(r.victims[0], false)
	return "links of " + r.victims[0] + " pass again", nil
}

// pauseLeader SIGSTOPs the leader.
func pauseLeader(r *runner) (string, error) {
	leader, err := r.c.Leader(leaderWait)
	if err != nil {
		return "", err
	}
	r.victims = []string{leader}
	return "SIGSTOP the leader " + leader, r.c.Proc(leader).Stop()
}

func resumeLeader(r *runner) (string, error) {
	return "SIGCONT " + r.victims[0], r.c.Proc(r.victims[0]).Cont()
}

// latencyDelay is the latency added to every chunk on every link.
const latencyDelay = 80 * time.Millisecond

// latencyCut adds latency to every link and closes every open connection.
func latencyCut(r *runner) (string, error) {
	r.c.Mesh.SetDelay(latencyDelay)
	r.c.Mesh.Cut()
	return fmt.Sprintf("%v on every link each way, every connection cut", latencyDelay), nil
}

func healLatency(r *runner) (string, error) {
	r.c.Mesh.SetDelay(0)
	return "latency off", nil
}

// spareID is the node the membership fault adds and removes.
const spareID = "n9"

// changeMembers adds a new voter, then removes the leader.
func changeMembers(r *runner) (string, error) {
	p, err := r.c.Start(spareID, false, false)
	if err != nil {
		return "", err
	}
	if _, err := r.c.Retry(Request{Op: "addVoter", ID: spareID, Addr: p.Raft}, leaderWait); err != nil {
		return "", err
	}
	leader, err := r.c.Leader(leaderWait)
	if err != nil {
		return "", err
	}
	r.victims = []string{leader}
	if _, err := r.c.Retry(Request{Op: "remove", ID: leader}, leaderWait); err != nil {
		return "", err
	}
	return fmt.Sprintf("added voter %s, removed the leader %s", spareID, leader), nil
}

// restoreMembers restarts the removed node (its raft shut down when it
// was removed: raft.Config.ShutdownOnRemove), adds it back, and removes
// the new one.
func restoreMembers(r *runner) (string, error) {
	old := r.victims[0]
	r.c.Kill(old)
	p, err := r.c.Start(old, false, false)
	if err != nil {
		return "", err
	}
	if _, err := r.c.Retry(Request{Op: "addVoter", ID: old, Addr: p.Raft}, leaderWait); err != nil {
		return "", err
	}
	if _, err := r.c.Retry(Request{Op: "remove", ID: spareID}, leaderWait); err != nil {
		return "", err
	}
	r.c.Kill(spareID)
	return fmt.Sprintf("restarted %s, added it back, removed %s", old, spareID), nil
}

// memDiskLeader restarts the leader on an in-memory disk loaded from its
// directory, and gives it the leadership back.
func memDiskLeader(r *runner) (string, error) {
	leader, err := r.c.Leader(leaderWait)
	if err != nil {
		return "", err
	}
	r.victims = []string{leader}
	r.c.Kill(leader)
	p, err := r.c.Start(leader, false, true)
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(leaderWait)
	for time.Now().Before(deadline) {
		now, err := r.c.Leader(time.Until(deadline))
		if err != nil {
			return "", err
		}
		if now == leader {
			return "restarted the leader " + leader + " on a memory disk; it leads again", nil
		}
		r.c.Admin(now, Request{Op: "transfer", ID: leader, Addr: p.Raft}, 10*time.Second)
		time.Sleep(500 * time.Millisecond)
	}
	return "restarted the leader " + leader + " on a memory disk (it did not take the leadership back)", nil
}

// powerLossVictim cuts the power of the memory-disk node: what it did not
// fsync is lost (some unsynced writes survive, as a disk's write-back may
// keep them), and the process dies.
func powerLossVictim(r *runner) (string, error) {
	id := r.victims[0]
	st, _ := r.c.Admin(id, Request{Op: "status"}, 2*time.Second)
	if _, err := r.c.Admin(id, Request{Op: "powerloss"}, 30*time.Second); err != nil {
		return "", fmt.Errorf("power loss of %s: %w", id, err)
	}
	<-r.c.Proc(id).Exited()
	return fmt.Sprintf("power loss on %s (leader: %v): unsynced writes dropped", id, st.Leader), nil
}

// attack has each attacker try its forgeries on every running node.
func attack(r *runner) (string, error) {
	key := "attacker/0"
	attempts := 0
	for _, id := range r.c.IDs() {
		p := r.c.Proc(id)
		if !p.Alive() {
			continue
		}
		st, err := r.c.Admin(id, Request{Op: "status"}, 5*time.Second)
		if err != nil {
			return "", err
		}
		t := Target{ID: id, Addr: p.Raft, LastIndex: st.LastIndex, LastTerm: st.LastTerm, Term: st.Term}
		for _, a := range r.attackers {
			attempts += a.Attack(t, key)
		}
	}
	var names, accepted []string
	for _, a := range r.attackers {
		names = append(names, a.Name)
		accepted = append(accepted, a.Accepted()...)
	}
	return fmt.Sprintf("attackers %s: %d forgeries sent to the nodes' raft ports, %d accepted %q", strings.Join(names, ", "), attempts, len(accepted), accepted), nil
}

func noHeal(*runner) (string, error) { return "nothing", nil }
