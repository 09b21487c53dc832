// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mini-go/mini/internal/testcert"
)

// Config says what Run does. Zero fields take the defaults.
type Config struct {
	Dir     string        // where the nodes keep their directories and logs (required)
	Faults  []string      // names of Nemeses to inject, in their order; default all
	Phase   time.Duration // per fault: clients run Phase/5 before it, 2*Phase/5 under it, and at least 2*Phase/5 after it heals; default 8s
	Clients int           // concurrent clients, bound round-robin to the nodes; default 6
	// LeaderClients binds every client to the leader of the phase's start
	// instead, so no call is forwarded (until the leader changes).
	LeaderClients bool
	Nodes         int // cluster size; default 3
	// TrustNotApplied makes a write that failed with an error that the
	// library calls "not applied" count as not applied: finding it in the
	// final state fails the run, and the linearizability check leaves it
	// out. Without it such writes are treated as unknown, and only counted.
	TrustNotApplied bool
	CheckTimeout    time.Duration // per phase; default 60s
	// InsecureNoTLS runs the nodes on plain TCP (miniraft's
	// Options.InsecureNoTLS) instead of mutual TLS with a CA of the run's
	// own; the attacker fault then cannot run.
	InsecureNoTLS bool
	// RetryUnknown makes the clients append with a request ID (miniraft's
	// ApplyWithID) and retry, with the same ID, an append whose outcome is
	// unknown until it gets an answer (at most maxTries requests, or until
	// the phase ends): the check that no value is applied twice then
	// checks that retries are safe.
	RetryUnknown bool
	// Bug plants a bug in every node (NodeConfig.Bug), to show that the
	// checks catch it: a run with a Bug must fail.
	Bug  string
	Seed uint64 // default from the clock
	Logf func(format string, args ...any)
}

// A PhaseReport is the outcome of one fault.
type PhaseReport struct {
	Fault    string
	Did      []string      // what the nemesis did
	Duration time.Duration // of the phase, clients running
	OK       int           // operations acknowledged (appends and reads)
	// Unavailable is the time from the moment the fault is in place (the
	// nemesis's Inject returned) to the first acknowledged append called
	// after it; -1 if there was none.
	Unavailable time.Duration
	Result
	// The attacker phase: what the nodes accepted from the attackers
	// ("node: what"), how many of the values they tried to write are in
	// the final state, and whether their voter is a member.
	Accepted   []string
	ForgedIn   int
	EvilMember bool
	// With Config.RetryUnknown: appends retried after an unknown outcome,
	// and answers that an earlier try had decided (deduplicated).
	Retried, Deduplicated int
}

// OKPerSecond is the phase's rate of acknowledged operations.
func (p PhaseReport) OKPerSecond() float64 { return float64(p.OK) / p.Duration.Seconds() }

func (p PhaseReport) String() string {
	unavail := "none acknowledged after the fault"
	if p.Unavailable >= 0 {
		unavail = fmt.Sprintf("%.2fs", p.Unavailable.Seconds())
	}
	return fmt.Sprintf("%-16s ok %5.1f ops/s (%d in %.1fs), unavailable %s, acked writes %d, lost %d, duplicated %d, unknown %d (%d applied), not-applied %d (%d applied), linearizable %s (%d ops), retried %d (%d deduplicated)",
		p.Fault, p.OKPerSecond(), p.OK, p.Duration.Seconds(), unavail, p.Acked, p.Lost, p.Duplicated, p.Unknown, p.UnknownIn, p.NotApplied, p.NotAppliedIn, p.Linearizable, p.Ops, p.Retried, p.Deduplicated) + p.attackString()
}

func (p PhaseReport) attackString() string {
	if p.Fault != "attacker" {
		return ""
	}
	return fmt.Sprintf("; attacker: %d forgeries accepted %q, %d forged values in the final state, %q a member: %v", len(p.Accepted), p.Accepted, p.ForgedIn, EvilID, p.EvilMember)
}

// A Report is the outcome of a run.
type Report struct {
	Phases []PhaseReport
	// Diverged names the nodes whose final state differs from the first
	// member's; empty if every member holds the same state.
	Diverged []string
	Members  []string
	FinalSeq uint64
}

// Failed says what is wrong with the run, or "" if nothing is.
func (r *Report) Failed(trustNotApplied bool) string {
	var bad []string
	if len(r.Diverged) > 0 {
		bad = append(bad, "final states differ on "+strings.Join(r.Diverged, ", "))
	}
	for _, p := range r.Phases {
		if f := p.Failed(trustNotApplied); f != "" {
			bad = append(bad, p.Fault+": "+f)
		}
		if len(p.Accepted) > 0 || p.ForgedIn > 0 || p.EvilMember {
			bad = append(bad, fmt.Sprintf("%s: the nodes accepted %q; %d forged values in the final state; %q a member: %v",
				p.Fault, p.Accepted, p.ForgedIn, EvilID, p.EvilMember))
		}
	}
	return strings.Join(bad, "; ")
}

type runner struct {
	cfg       Config
	c         *Cluster
	hist      *History
	rng       *rand.Rand
	members   []string    // the voters at the start of the phase
	attackers []*Attacker // see the attacker nemesis
	victims   []string    // the nemesis's targets, between Inject and Heal
}

// Run starts a cluster of node processes (the test binary, see NodeMain),
// runs the clients through one phase per fault, heals everything, and
// checks the histories against the nodes' final states. It returns an
// error if the harness itself could not do its work; what the checks
// found is in the Report (see Report.Failed).
func Run(cfg Config) (*Report, error) {
	if cfg.Dir == "" {
		return nil, errors.New("faults: Config.Dir is required")
	}
	if len(cfg.Faults) == 0 {
		cfg.Faults = NemesisNames()
	}
	if cfg.Phase <= 0 {
		cfg.Phase = 8 * time.Second
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 6
	}
	if cfg.Nodes <= 0 {
		cfg.Nodes = 3
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 60 * time.Second
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.InsecureNoTLS && slices.Contains(cfg.Faults, "attacker") {
		return nil, errors.New("faults: the attacker fault needs TLS (Config.InsecureNoTLS is set)")
	}
	var faults []Nemesis
	for _, name := range cfg.Faults {
		i := slices.IndexFunc(Nemeses, func(n Nemesis) bool { return n.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("faults: no fault %q (have %s)", name, strings.Join(NemesisNames(), ", "))
		}
		faults = append(faults, Nemeses[i])
	}
	r := &runner{cfg: cfg, c: NewCluster(cfg.Dir, cfg.Seed), hist: NewHistory(), rng: newRand(cfg.Seed)}
	r.c.bug = cfg.Bug
	if !cfg.InsecureNoTLS {
		ca, err := testcert.NewCA("faults cluster")
		if err != nil {
			return nil, err
		}
		r.c.ca = ca
		if r.attackers, err = newAttackers(); err != nil {
			return nil, err
		}
	}
	defer r.c.Close()
	cfg.Logf("faults: %d nodes (TLS: %v), %d clients, %v per fault, seed %d", cfg.Nodes, !cfg.InsecureNoTLS, cfg.Clients, cfg.Phase, cfg.Seed)
	if err := r.boot(); err != nil {
		return nil, err
	}
	rep := &Report{}
	var marks []phaseMarks
	for _, f := range faults {
		m, err := r.phase(f)
		if err != nil {
			return nil, fmt.Errorf("fault %s: %w", f.Name, err)
		}
		marks = append(marks, m)
	}
	final, err := r.finish(rep)
	if err != nil {
		return nil, err
	}
	ops := r.hist.Ops()
	for _, m := range marks {
		var phaseOps []Op
		pr := PhaseReport{Fault: m.name, Did: m.did, Duration: m.end - m.start, Unavailable: -1}
		for _, op := range ops {
			if op.Phase != m.name {
				continue
			}
			phaseOps = append(phaseOps, op)
			if op.Tries > 1 {
				pr.Retried++
			}
			if op.Dup {
				pr.Deduplicated++
			}
			if op.Status != StatusOK {
				continue
			}
			pr.OK++
			if op.Kind == "append" && op.Call >= m.fault && (pr.Unavailable < 0 || op.Return-m.fault < pr.Unavailable) {
				pr.Unavailable = op.Return - m.fault
			}
		}
		pr.Result = Check(phaseOps, final, cfg.TrustNotApplied, cfg.CheckTimeout)
		if m.name == "attacker" {
			r.audit(&pr, final, rep.Members)
		}
		rep.Phases = append(rep.Phases, pr)
		cfg.Logf("faults: %s", pr)
		for _, e := range pr.Lied {
			cfg.Logf("faults: %s: applied after the error: %s", m.name, e)
		}
	}
	return rep, nil
}

// boot starts the first node as a one-node cluster and adds the others.
func (r *runner) boot() error {
	if _, err := r.c.Start("n1", true, false); err != nil {
		return err
	}
	if _, err := r.c.Leader(leaderWait); err != nil {
		return err
	}
	for i := 2; i <= r.cfg.Nodes; i++ {
		id := fmt.Sprintf("n%d", i)
		p, err := r.c.Start(id, false, false)
		if err != nil {
			return err
		}
		if _, err := r.c.Retry(Request{Op: "addVoter", ID: id, Addr: p.Raft}, leaderWait); err != nil {
			return err
		}
	}
	return nil
}

// phaseMarks are the instants of a phase, on the history's clock.
type phaseMarks struct {
	name                    string
	did                     []string
	start, fault, heal, end time.Duration
}

// phase runs the clients through one fault.
func (r *runner) phase(f Nemesis) (phaseMarks, error) {
	m := phaseMarks{name: f.Name}
	log := func(s string) {
		m.did = append(m.did, s)
		r.cfg.Logf("faults: %s: %s", f.Name, s)
	}
	if f.Setup != nil {
		s, err := f.Setup(r)
		if err != nil {
			return m, fmt.Errorf("setup: %w", err)
		}
		log(s)
	}
	members, err := r.c.Members(leaderWait)
	if err != nil {
		return m, err
	}
	r.members = members
	stop := make(chan struct{})
	var wg sync.WaitGroup
	m.start = r.hist.Now()
	bind := members
	if r.cfg.LeaderClients {
		leader, err := r.c.Leader(leaderWait)
		if err != nil {
			return m, err
		}
		bind = []string{leader}
	}
	for i := range r.cfg.Clients {
		id := bind[i%len(bind)]
		seed := r.rng.Uint64()
		wg.Go(func() { r.client(f.Name, i, id, seed, stop) })
	}
	time.Sleep(r.cfg.Phase / 5)
	s, err := f.Inject(r)
	if err != nil {
		close(stop)
		wg.Wait()
		return m, fmt.Errorf("inject: %w", err)
	}
	m.fault = r.hist.Now() // the fault is in place
	log(s)
	time.Sleep(2 * r.cfg.Phase / 5)
	m.heal = r.hist.Now()
	s, err = f.Heal(r)
	if err != nil {
		close(stop)
		wg.Wait()
		return m, fmt.Errorf("heal: %w", err)
	}
	log(s)
	// Run at least 2/5 of the phase more, and until a write called after
	// the heal is acknowledged (at most a minute).
	time.Sleep(2 * r.cfg.Phase / 5)
	for limit := time.Now().Add(time.Minute); time.Now().Before(limit) && !r.ackedSince(f.Name, m.heal); {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	m.end = r.hist.Now()
	r.victims = nil
	return m, nil
}

func (r *runner) ackedSince(phase string, t time.Duration) bool {
	for _, op := range r.hist.Ops() {
		if op.Phase == phase && op.Kind == "append" && op.Status == StatusOK && op.Call >= t {
			return true
		}
	}
	return false
}

// requestTimeout bounds one client request: longer than a forwarded
// Apply may take (applyTimeout on the follower and on the leader).
const requestTimeout = 3 * applyTimeout

// maxTries bounds the requests for one append with Config.RetryUnknown.
const maxTries = 20

func stopped(stop chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// keysPerPhase is how many keys a phase's clients use.
const keysPerPhase = 4

// client runs one client bound to node id until stop: appends of unique
// values and reads, on the phase's own keys, each recorded.
func (r *runner) client(phase string, n int, id string, seed uint64, stop chan struct{}) {
	rng := newRand(seed)
	cl := NewClient(func() string { return r.c.ClientAddr(id) })
	defer cl.Close()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		op := Op{Phase: phase, Client: n, Node: id, Key: fmt.Sprintf("%s/%d", phase, rng.IntN(keysPerPhase))}
		req := Request{Op: "read", Key: op.Key}
		if rng.IntN(10) < 6 {
			op.Kind, op.Val = "append", fmt.Sprintf("%s.%d.%d", phase, n, i)
			req = Request{Op: "append", Key: op.Key, Val: op.Val}
		} else {
			op.Kind = "read"
		}
		if op.Kind == "append" && r.cfg.RetryUnknown {
			req.ID = op.Val // unique, so a fine request ID
		}
		op.Call = r.hist.Now()
		for {
			resp, sent, err := cl.Do(req, requestTimeout)
			op.Return = r.hist.Now()
			if sent {
				op.Tries++
			}
			unknown := op.Status == StatusTimeout || op.Status == StatusFailed && op.Class == ClassUnknown
			switch {
			case !sent && unknown:
				// An earlier try may have been applied: still unknown.
			case !sent:
				op.Status, op.Err = StatusNotSent, err.Error()
			case err != nil:
				op.Status, op.Err = StatusTimeout, err.Error()
			case !resp.OK && unknown:
				// "Not applied" is about this try; an earlier one may
				// have been: still unknown.
				op.Class, op.Err = ClassUnknown, resp.Err
			case !resp.OK:
				op.Status, op.Class, op.Err = StatusFailed, resp.Class, resp.Err
			default:
				op.Status, op.Class, op.Err, op.Vals, op.Seq, op.Dup = StatusOK, "", "", resp.Vals, resp.Seq, resp.Dup
			}
			unknown = op.Status == StatusTimeout || op.Status == StatusFailed && op.Class == ClassUnknown
			if req.ID == "" || !unknown || op.Tries >= maxTries || stopped(stop) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		r.hist.Add(op)
		if op.Status != StatusOK {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// finish heals everything, restarts what is down, writes one last value
// through the leader, waits until every member has applied it, and
// compares their states. It returns the final state.
func (r *runner) finish(rep *Report) (map[string][]string, error) {
	r.c.Mesh.Heal()
	members, err := r.c.Members(leaderWait)
	if err != nil {
		return nil, err
	}
	for _, id := range members {
		p := r.c.Proc(id)
		if p == nil {
			return nil, fmt.Errorf("member %s was never started", id)
		}
		if p.Alive() {
			continue
		}
		select {
		case <-p.Exited():
			if _, err := r.c.Start(id, false, false); err != nil {
				return nil, err
			}
		default:
			p.Cont()
		}
	}
	// No write may still be on its way: a node works on a request until
	// its Apply returns, even after the client gave up.
	if err := r.quiesce(2 * leaderWait); err != nil {
		return nil, err
	}
	// A write of the leader's term commits, or discards for good, every
	// write of earlier terms still in a log.
	resp, err := r.c.Retry(Request{Op: "append", Key: "final", Val: "final"}, 2*leaderWait)
	if err != nil {
		return nil, fmt.Errorf("final write: %w", err)
	}
	rep.FinalSeq, rep.Members = resp.Seq, members
	// Every member applies up to the same sequence, at or after the final
	// write's; then their states must be equal.
	deadline := time.Now().Add(2 * leaderWait)
	for {
		states := map[string]*KV{}
		seqs := map[string]uint64{}
		var errs []string
		for _, id := range members {
			st, err := r.c.Admin(id, Request{Op: "state"}, 10*time.Second)
			if err != nil {
				errs = append(errs, id+": "+err.Error())
				continue
			}
			states[id], seqs[id] = st.State, st.Seq
		}
		same := len(errs) == 0
		for _, id := range members {
			same = same && seqs[id] >= resp.Seq && seqs[id] == seqs[members[0]]
		}
		if !same && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if !same {
			return nil, fmt.Errorf("the members did not reach the same sequence, at or after the final write's %d, in time: %v %v", resp.Seq, seqs, errs)
		}
		ref, _ := json.Marshal(states[members[0]])
		for _, id := range members[1:] {
			if b, _ := json.Marshal(states[id]); string(b) != string(ref) {
				rep.Diverged = append(rep.Diverged, id)
			}
		}
		r.cfg.Logf("faults: final state: members %s, sequence %d, %d keys, identical on every member: %v",
			strings.Join(members, ", "), seqs[members[0]], len(states[members[0]].Lists), len(rep.Diverged) == 0)
		return states[members[0]].Lists, nil
	}
}

// quiesce waits until no running node works on a client request.
func (r *runner) quiesce(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		busy := map[string]int{}
		for _, id := range r.c.IDs() {
			if !r.c.Proc(id).Alive() {
				continue
			}
			st, err := r.c.Admin(id, Request{Op: "status"}, 10*time.Second)
			if err != nil {
				busy[id] = -1
			} else if st.InFlight > 0 {
				busy[id] = st.InFlight
			}
		}
		if len(busy) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes still busy with client requests after %v: %v", timeout, busy)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// audit fills in what the attackers achieved.
func (r *runner) audit(pr *PhaseReport, final map[string][]string, members []string) {
	in := map[string]bool{}
	for _, vals := range final {
		for _, v := range vals {
			in[v] = true
		}
	}
	for _, a := range r.attackers {
		pr.Accepted = append(pr.Accepted, a.Accepted()...)
		for _, v := range a.Values() {
			if in[v] {
				pr.ForgedIn++
			}
		}
	}
	pr.EvilMember = slices.Contains(members, EvilID)
	pr.Did = append(pr.Did, fmt.Sprintf("accepted %d forgeries, %d forged values in the final state, %q a member: %v", len(pr.Accepted), pr.ForgedIn, EvilID, pr.EvilMember))
}
