// SPDX-License-Identifier: MIT OR Apache-2.0

// Package miniraft replicates a ministate-style state across a cluster with
// github.com/hashicorp/raft (the consensus library of Consul, Nomad and
// Vault), on mini's own storage: the raft log is a ministore journal, raft's
// term and vote are a small ministore journal, and snapshots are minisnap
// snapshots.
//
//	m, err := miniraft.Open[Counter, Inc]("node1", &miniraft.Options{
//		ID: "n1", Bind: "10.0.0.1:7001", TLS: tlsConf, Bootstrap: true})
//	err = m.AddVoter("n2", "127.0.0.1:7002")   // on the leader
//	seq, err := m.Apply(Inc{By: 10})           // committed by a majority, then applied
//	m.View(func(c *Counter) { fmt.Println(c.Value) })
//
// A Manager has the calls of a ministate.Manager — Apply, ApplyBatch,
// View, Copy, Sequence, Close — with the same Mutator, Validator, Cloner
// and Registry, so a ministate user who outgrows one machine keeps their
// types. The sequence number of a mutation is the raft index of its log;
// calls that the leader put in one group log (Options.ApplyGroup) share
// it.
//
// The three stores are usable on their own, with any raft.FSM:
// LogStore (raft.LogStore and raft.MonotonicLogStore), StableStore
// (raft.StableStore) and SnapshotStore (raft.SnapshotStore).
//
// # Guarantees
//
// LogStore: StoreLogs writes its logs with one write and one fsync; when
// it returns nil they survive a crash or power loss. A crash during the
// call keeps a prefix of them, never a log that was not given, never a
// gap. DeleteRange leaves, at every crash point, either the old log or a
// log with a prefix (compaction) or a suffix (conflict) of the range
// removed; once it returns nil, the deleted logs never come back. The log with raft index i is always the journal record with
// sequence number i, and GetLog checks that the record holds index i.
//
// StableStore: Set and SetUint64 are durable when they return nil; Open
// returns every key's last value. Compaction rewrites the live values
// before it drops older records, so no crash point loses a value.
//
// SnapshotStore: a snapshot is durable when its sink's Close returns nil,
// and is then complete, with its raft metadata (term, index,
// configuration, configuration index, version) in the same file; a
// canceled, failed or interrupted snapshot leaves nothing that List shows.
// Opened snapshots are verified against a CRC-32C while they stream.
//
// Manager: Apply returns a sequence number once the mutation is on stable
// storage on a majority of the voters (committed) and applied on the node
// that returned it. A committed mutation is never lost while a majority
// of the voters keeps its directory, and every node applies the same
// mutations in the same order, so their states are equal at equal
// sequence numbers. The leader fsyncs its own copy of a log while it
// replicates it (hashicorp/raft alone stores, then replicates): raft may
// count the leader in the majority before its fsync returns, so no node
// applies a log before its own copy is durable, and the leader tells the
// followers a commit index no further than its own durable log; whatever
// any node applies, and every Apply that returns, is on a majority's disks.
// (A LogStore used on its own, with any raft, fsyncs in StoreLogs.)
//
// Every error of Apply and ApplyBatch is one of two kinds. One matching
// ErrOutcomeUnknown (a connection to the leader broken after the call was
// sent, raft.ErrLeadershipLost, a timeout or Close while the log was in
// flight) means the mutation may or may not be applied, now or later; any
// other error means it was not applied and will not be. ApplyWithID makes
// the retry after an unknown outcome safe: the replicated state remembers
// the request IDs of the last RequestIDWindow (10,000) calls applied with
// one, decides in log order on every node alike, and answers a call whose
// ID it holds with the first one's result without applying it again; the
// IDs are kept in snapshots. A call takes at most about ApplyTimeout,
// forwarded or not.
// View reads this node's state, which on a follower may lag; ViewConsistent
// first makes sure this node has applied everything acknowledged before
// the call (a linearizable read).
//
// Security: with Options.TLS every connection between nodes, raft's RPCs
// and forwarded calls alike, is mutual TLS (1.2 or later) with the
// cluster's CA, and nothing is read from a peer before its certificate
// is verified: a peer without a certificate the CA signed cannot apply a
// mutation, change the membership, vote, or have an AppendEntries or
// InstallSnapshot accepted. Every node holding such a certificate is fully
// trusted. A node needs Options.Forward to serve forwarded calls; it
// refuses them otherwise (ErrForwardOff). Open refuses a TCP node without
// TLS unless Options.InsecureNoTLS says so.
//
// Certificates: one CA for the cluster alone, and for each node a
// certificate with the extended key usages serverAuth and clientAuth. A
// node verifies a peer's chain against the CA, not the address it dialed,
// unless tls.Config.ServerName is set. With openssl:
//
//	openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem
//	openssl req -x509 -new -key ca-key.pem -subj "/CN=my cluster CA" -days 3650 -out ca.pem
//	# for each node, here n1:
//	openssl ecparam -name prime256v1 -genkey -noout -out n1-key.pem
//	openssl req -new -key n1-key.pem -subj "/CN=n1" -out n1.csr
//	openssl x509 -req -in n1.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 365 -out n1.pem \
//		-extfile <(printf "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:n1,IP:10.0.0.1\n")
//
// and for the node:
//
//	cert, err := tls.LoadX509KeyPair("n1.pem", "n1-key.pem")
//	pool := x509.NewCertPool()
//	pool.AppendCertsFromPEM(caPEM) // the contents of ca.pem
//	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}
//
// Keep ca-key.pem off the nodes. A certificate is revoked only by its
// expiry or a new CA: rotate by giving every node a new CA pool holding
// both CAs, then new certificates, then the new CA alone.
//
// # Format
//
// A node's directory:
//
//	DIR/
//	├── raft.log, raft.log.001, ...   the raft log: a ministore journal
//	├── raft.log.lock
//	├── raft.log.front                the log's first index (ministore's front bound)
//	├── stable.log                    term, vote and the node's address
//	└── snapshots/
//	    └── snap-00000000000000000120/    a minisnap snapshot at index 120
//	        ├── snapshot.raft             raft metadata line, then the state
//	        ├── snapshot.seq
//	        └── meta.json
//
// Each line of raft.log is one log, in ministore's framing (sequence
// number, CRC-32C). The record is compact JSON; a log whose data is
// compact JSON (a Manager's mutations are) stores it as is, anything else
// in base64. (Journals written before the front bound can hold null, a
// hole: an index with no log. They read as missing logs.)
//
//	{"seq":7,"sync":6,"rec":{"index":7,"term":2,"type":0,"json":{"Inc":{"by":1}},"at":1767323045123456789},"crc":"…"}
//	{"seq":8,"sync":7,"rec":{"index":8,"term":2,"type":5,"data":"AQIDBA=="},"crc":"…"}
//
// type is the raft.LogType number, at AppendedAt in Unix nanoseconds.
//
// raft.log.front is ministore's front bound of raft.log: the logs below it
// are deleted even where their records are still in raft.log. Deleting the
// front of the log after a snapshot is ministore's TruncateFront: it
// replaces that small file and deletes the raft.log segment files that lie
// wholly below it; the records below the bound in the segment that holds
// it go when that segment does. So compaction copies nothing. Directories of
// older releases keep the bound in a journal of their own, raft.log.first
// ({"first":N} records); OpenLogStore moves it into raft.log.front and
// deletes that journal. A Manager's mutation is its JSON, {"Kind":{...}} with a Registry, or an
// array of them for ApplyBatch: the records of a ministate journal.
//
// stable.log holds one record per Set: {"k":"CurrentTerm","u":7} for a
// uint64, {"k":"LastVoteCand","v":"bjE="} for bytes (base64), "k64"
// instead of "k" for a key that is not UTF-8.
//
// The journals' headers name their schemas (ministore's Options.Schema):
// "miniraft.log" and "miniraft.stable" (and "miniraft.front", the old
// raft.log.first);
// ministore refuses to open them under another schema.
//
// snapshot.raft starts with one line of JSON, the raft metadata:
//
//	{"id":"3-120-1767323045123456789","version":1,"term":3,"index":120,"configurationIndex":4,"servers":[{"id":"n1","address":"127.0.0.1:7001","suffrage":0}]}
//
// followed by the FSM's bytes; for a Manager,
// {"seq":120,"state":{...},"requests":[{"id":"a1","seq":97},{"id":"b7","seq":99,"code":"refused","msg":"..."}]}:
// requests, the window of request IDs oldest first with each one's first
// result, is absent when empty (and in snapshots made before it existed).
// A log applied with a request ID carries it in raft's Extensions,
// {"rid":"a1"}, stored as the record's "ext" (base64).
//
// A group log holds the calls of several concurrent Applies
// (Options.ApplyGroup): its Extensions are {"group":3}, or
// {"group":3,"rids":["a1","","c9"]} when a call has a request ID, and its
// data a JSON array of the calls' records, one mutation or an array of
// them for ApplyBatch:
//
//	{"index":9,"term":2,"type":0,"json":[{"Inc":{"by":1}},[{"Inc":{"by":2}},{"Dec":{"by":1}}]],"ext":"eyJncm91cCI6Mn0=","at":1767323045123456789}
//
// Every node applies its calls in order, each as a log of its own at that
// index would be: its own request ID, Validator and result.
//
// Mutations are encoded with encoding/json, or with Options.Codec (such as
// ministore/jsonv2codec): the same JSON either way, so a log written with
// one decodes with the other.
//
// Manager.Stats reports the node's role, term, last log, commit and
// applied indexes, snapshot index and last contact with the leader (as
// hashicorp/raft gives them), the figures of the raft log's journal, and on
// the leader each follower's match index, lag and last contact.
// hashicorp/raft keeps its followers' match indexes to itself: the Manager
// learns them from the answers to the leader's AppendEntries, through a
// thin wrapper around the transport (Options.Transport included), so they
// are known only for the followers that answered since the node became
// leader (FollowerStats.Known). metrics/promstats publishes them as
// mini_raft_*.
//
// # Concurrency
//
// Every type is safe for concurrent use. LogStore serializes writers
// (raft stores logs from its main loop and compacts from its snapshot
// loop) but serves GetLog while a write's fsync is in progress; the logs
// most recently stored are kept in memory (StoreOptions.CacheLogs), so the
// reads raft makes to apply and replicate them cost neither I/O nor
// decoding. A Manager's readers hold a read lock; applying a log takes the
// write lock for the time of its mutations' Apply.
//
// With one client an Apply waits for the longer of the leader's fsync and
// a follower's round trip, its fsync included, instead of their sum.
//
// On the leader, Applies that arrive while raft stores a log wait for it
// and then go to raft together, in one group log of up to
// Options.ApplyGroup calls (1 MiB of records): raft appends, replicates,
// fsyncs and commits it at the cost of one log, so the throughput of many
// concurrent clients grows with the group while a lone client waits no
// longer than before.
//
// A node uses one TCP port: raft's RPCs and the calls a follower forwards
// (Options.Forward) share it, told apart by their first byte (inside the
// TLS stream). A peer has 10 s to complete the TLS handshake and send that
// byte, after which the node closes the connection.
//
// # Caveats
//
//   - hashicorp/raft is MPL-2.0 licensed.
//   - Raft needs a majority of voters: a cluster of three survives the
//     loss of one node, of five the loss of two. With a single node every
//     write waits only for its own fsync.
//   - Calls grouped in one log return the same sequence number (the log's
//     raft index): sequence numbers grow in the order the state applies
//     the calls, but are not distinct. Nodes of a version without group
//     logs misread them: set Options.ApplyGroup to -1 on every node until
//     all run a version that has them.
//   - Validators run when a log is applied, so a refused mutation still
//     uses a raft index (Sequence passes it). Apply and Validate must be
//     deterministic: every node runs them on its own copy of the state.
//   - A panic in a mutation's Apply stops the Manager on every node alike
//     (ErrFailed): fix the code and restart the nodes. A failed fsync of
//     a node's raft log stops that node's state (ErrFailed) at the first
//     log it could not make durable; the Applies of that log and of the
//     later ones fail with an error that also matches ErrOutcomeUnknown,
//     as the other nodes may hold those logs and apply them.
//   - Open refuses a directory whose log does not join its snapshots (the
//     log compacted behind a snapshot that was then lost) with a
//     *GapError (ErrLogGap); raft would panic on it. Rejoin such a node:
//     on the leader RemoveServer(id); move the directory aside; start the
//     node with an empty directory, the same ID and address and no
//     Bootstrap; on the leader AddVoter(id, addr). It catches up from the
//     leader's snapshot. (Wiping a node's directory without removing it
//     first would let it vote twice in a term.)
//   - A retry with ApplyWithID is safe only while its ID is in the window:
//     RequestIDWindow calls with IDs later, it is applied again.
//   - LogStore refuses index 0, gaps (inside one call or after the last
//     log) and indexes that go backwards inside one call, and deletes only
//     a prefix or a suffix of the log (ErrNotContiguous otherwise): what
//     raft does. An empty log starts at any index.
//   - Deleting the front of the log copies nothing: it moves a durable
//     lower bound and removes the segment files wholly below it, so deleted
//     logs that share a file with live ones keep up to
//     StoreOptions.MaxSegmentBytes (16 MiB) of disk until that file goes.
//   - A node removed from the configuration stops its raft (raft's
//     ShutdownOnRemove), but its Manager stays open: every Apply there
//     fails with ErrOutcomeUnknown (raft's shutdown error does not say
//     whether a log it was handed got committed elsewhere). Close it, and
//     to add it back start it again before AddVoter.
//   - SnapshotStore refuses a snapshot at a lower index than its newest
//     (minisnap.ErrOutOfOrder); raft does not create one.
//   - Snapshots hold the state as JSON, and a snapshot is made in memory
//     first unless *S is a ministate.Cloner.
//   - Forwarded calls open one TCP connection and TLS handshake each
//     (resumed after the first with that node): with TLS, clients that
//     write through followers get about half the throughput of plain TCP
//     (miniraft/internal/faults TestTLSCost); on the leader TLS costs
//     nothing measurable.
//   - Pipelined replication is off: hashicorp/raft 1.8's pipeline can
//     block a follower's replication and the leader's Shutdown forever.
//   - Options.Transport (e.g. raft's in-memory transport) bypasses TLS:
//     securing a custom transport is the caller's responsibility.
//   - TLS costs a handshake per new connection (raft keeps a small pool per
//     peer) and encryption of every byte: see BenchmarkReplicatedApply.
package miniraft
