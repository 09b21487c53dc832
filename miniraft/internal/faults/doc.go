// SPDX-License-Identifier: MIT OR Apache-2.0

// Package faults is miniraft's fault-test harness, in the manner of
// Jepsen: real node processes, a network the test controls, concurrent
// clients whose histories are checked for linearizability with
// github.com/anishathalye/porcupine, and faults injected while they run.
// Only tests use it; no package of the module imports it.
//
// # Guarantees
//
// What a run checks (Run, Report.Failed), per fault:
//
//   - the history of every key, with a read of the final state at the
//     end, is linearizable (porcupine, one partition per key, with a
//     timeout: a check that times out fails the run);
//   - no acknowledged write is missing from the final state, and no value
//     is in it twice (every write's value is unique in the run);
//   - every member of the cluster ends with the same state;
//   - with Config.TrustNotApplied (TestFaults sets it), no write that
//     failed with an error that does not match miniraft.ErrOutcomeUnknown
//     ("not applied") is in the final state. Without it those writes are
//     checked as unknown, and only counted;
//   - the attacker got nothing accepted: no forged value in the final
//     state, its voter not a member.
//
// It reports, per fault, the rate of acknowledged operations, the time
// from the fault to the first acknowledged write called after it
// (unavailability: reported, never asserted, since the machine may be
// slow), and the lost, duplicated, unknown and "not applied" counts.
//
// # Format
//
// The pieces:
//
//   - NodeMain, called first in TestMain, runs the test binary as a node
//     when the environment variable EnvNode holds its NodeConfig (JSON):
//     a miniraft.Manager[KV, Append] in its own directory, with Forward on,
//     generous raft timeouts, and an Options.Dial that reaches every peer
//     only through the proxy of that link. It prints "ready CLIENT RAFT"
//     and serves the client protocol: one JSON Request per line on a TCP
//     connection, one Response line each (append, read with
//     ViewConsistent, state, status, links, addVoter, remove, transfer,
//     powerloss).
//   - Proxy is one directed link (node A's connections to node B): pass,
//     drop (a blackhole that holds bytes as TCP would), delay, cut. Mesh
//     has one per ordered pair of nodes.
//   - KV and Append are the replicated state: per key, the list of values
//     appended. A read returns the whole list, so the porcupine model
//     (Model) sees exactly which writes a read observed. The model keeps
//     each list as a digest (length and hash), so its steps do not slow
//     down as the lists grow.
//   - Nemeses are the faults: kill-leader (SIGKILL), kill-two (the leader
//     and a follower), partition-leader (every link to and from it
//     blackholed), pause-leader (SIGSTOP, then SIGCONT), latency-cut (80
//     ms on every link each way, every open connection closed),
//     membership (add a voter, remove the leader, restart it and add it
//     back, remove the new one), disk-loss (a node restarted with what it
//     had not fsync'd lost), attacker (Attacker: forged forwarded calls,
//     AppendEntries and InstallSnapshot sent straight to every raft port,
//     on plain TCP, with TLS and a certificate from another CA, and with
//     TLS and none); and, named in Config.Faults only, none (a baseline).
//   - The nodes run mutual TLS (miniraft's Options.TLS) with a CA made for
//     the run (internal/testcert); Config.InsecureNoTLS runs them on plain
//     TCP, for comparison (TestTLSCost), without the attacker.
//   - Config.Bug plants a bug in the nodes (stale reads, acknowledgements
//     of writes never made): a run with one must fail, which shows the
//     checks can.
//
// Each fault is a phase with its own keys: clients run a fifth of the
// phase, the fault holds two fifths, and after the heal the clients run
// two fifths more, and until a write called after the heal is
// acknowledged.
//
// Lost unsynced writes: the node whose disk fails runs on a vfs.Mem loaded
// from its directory, inside a vfs.Faulty. On "powerloss" it crashes the
// Faulty (from that instant every file operation fails, so nothing it
// writes later can be acknowledged), writes the crash image — what was
// fsync'd, plus each unsynced change with probability 1/2, as a disk's
// write-back may keep them (vfs.Mem.CrashClone) — over its directory, and
// SIGKILLs itself; it is then restarted from the directory on the real file
// system. The node is made the leader before (leadership transfer), so
// the power loss hits the node that writes first. Truncating a real
// process's files after SIGKILL was the other way; it would need the
// fsync'd size of every file and directory entry from inside the process,
// which vfs.Mem already tracks.
//
// # Concurrency
//
// A Proxy, a Mesh, a Cluster and a History are safe for concurrent use; a
// Client is not (each harness client owns one).
//
// # Caveats
//
//   - Clients talk to their node directly, not through the proxies: a
//     partitioned node still hears its clients, as in Jepsen.
//   - Ports: a restarted node listens on the port its directory remembers;
//     if another program took it meanwhile, the restart fails the run.
//   - The unknown-outcome writes whose values are not in the final state
//     are left out of the history (they never took effect: the state only
//     grows); the ones that are in it are open operations (returned at
//     infinity), which keeps the search small.
package faults
