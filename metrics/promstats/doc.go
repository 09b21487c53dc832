// SPDX-License-Identifier: MIT OR Apache-2.0

// Package promstats publishes the figures of mini's stores, state managers
// and queues to Prometheus (github.com/prometheus/client_golang). It lives
// in its own package, under metrics/, so that ministore, ministate and
// miniqueue import only the standard library: a program that does not use
// Prometheus does not link it.
//
//	reg.MustRegister(promstats.NewStoreCollector(store, "events", nil))
//	reg.MustRegister(promstats.NewManagerCollector(manager, "bank", nil))
//	reg.MustRegister(promstats.NewQueueCollector(queue, prometheus.Labels{"queue": "orders"}))
//	reg.MustRegister(promstats.NewRaftCollector(node, nil))
//
// # Guarantees
//
// A collector keeps no state of its own: every scrape calls Stats once and
// reports what it returns, so the values are the library's own counters,
// lock-free to read. Names follow Prometheus' conventions: base units
// (seconds, bytes), counters end in _total, and latencies are histograms
// whose buckets are ministore.LatencyBuckets.
//
// # Format
//
// mini_store_* (label journal): appends_total, append_bytes_total,
// batches_total, fsync_seconds (histogram; its _count is the number of
// fsyncs), rotations_total, segments, bytes, prealloc_steps_total,
// torn_tail_repairs_total, recovery_seconds.
//
// mini_state_*: sequence, applies_total, mutations_total, snapshot_seconds
// and compaction_seconds (histograms), replayed_records, recovery_seconds;
// with the mini_store_* metrics of the Manager's journal.
//
// mini_queue_*: messages, first_seq, last_seq, bytes, max_bytes,
// dead_letters, and per consumer (label consumer, "" for the default one)
// mini_queue_consumer_{lag, in_flight, delivered_total, redelivered_total,
// acked_total, nacked_total, expired_total, dead_lettered_total,
// discarded_total}; with the mini_store_* metrics of its journals,
// journal="messages" and journal="consumers".
//
// mini_raft_*: role (label role: 1 for the node's role, leader, follower,
// candidate or shutdown, 0 for the others), term, last_log_index,
// commit_index, applied_index, sequence, last_snapshot_index, fsm_pending,
// last_contact_seconds (a follower's, since it heard from the leader; -1:
// never), and on the leader per follower (label follower)
// mini_raft_follower_{match_index, lag, last_contact_seconds}; with the
// mini_store_* metrics of the raft log's journal, journal="raft".
//
// # Concurrency
//
// Collectors are safe for concurrent scrapes, as Stats is safe to call
// alongside the work it counts.
//
// # Caveats
//
// Counters count since Open: a restart sets them back to 0, which
// Prometheus' rate() reads as a counter reset. Two collectors in one
// registry must differ in their labels (journal name or constLabels), or
// the registry refuses the duplicate series.
package promstats
