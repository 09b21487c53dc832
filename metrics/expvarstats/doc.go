// SPDX-License-Identifier: MIT OR Apache-2.0

// Package expvarstats publishes the figures of mini's stores, state
// managers and queues through the standard library's expvar, so that they
// appear as JSON on /debug/vars beside the runtime's memstats. Like
// promstats it sits apart from the core packages.
//
//	expvarstats.Publish("events", store)  // any value with a Stats method
//
// # Guarantees
//
// Each read of the variable calls Stats once: the values are the
// library's own counters at that moment, with no state kept here.
//
// # Format
//
// The JSON of the Stats value: snake_case keys (ministore.Stats:
// appends, append_bytes, batches, fsyncs, fsync_latency {counts, count,
// sum_ns}, rotations, segments, bytes, prealloc_steps, torn_tail_repairs,
// recovery_ns; ministate.Stats and miniqueue.Stats nest their journals'
// under journal and consumer_journal). Durations are in nanoseconds, as
// the _ns suffix says; fsync_latency.counts[i] counts the durations up to
// ministore.LatencyBuckets[i], the last one those above.
//
// # Concurrency
//
// Reads may come from any goroutine at any time, as Stats allows.
//
// # Caveats
//
// expvar names are global to the process and Publish panics on a name
// already taken (expvar.Publish does): publish each store once, under its
// own name, for the life of the process; a Store closed and opened again
// is better published through a Func that reads the current one.
package expvarstats
