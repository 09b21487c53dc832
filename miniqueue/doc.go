// SPDX-License-Identifier: MIT OR Apache-2.0

// Package miniqueue is a durable local message queue: typed messages in a
// directory, stored as readable JSON lines in ministore journals, delivered at
// least once to every consumer and never lost once Push has returned.
//
//	q, err := miniqueue.Open[Order]("data/orders", nil)
//	seq, err := q.Push(Order{ID: 7})        // on stable storage when it returns
//	m, err := q.Receive(ctx)                // waits for a message
//	process(m.Value)
//	err = m.Ack()                           // never delivered again, even after a crash
//
// Consumers are named (q.Consumer("billing")); each receives every message
// (fan-out), and the goroutines receiving from one consumer share its
// messages (competing workers). Queue.Receive uses the default consumer,
// named "". A received message is hidden from the consumer's other
// receivers until it is acknowledged (Message.Ack), released
// (Message.Nack), or its visibility timeout runs out (extend it with
// Message.Extend); then it is delivered again. After MaxDeliveries
// deliveries, or at once with Message.Term, it goes to the dead-letter
// queue (Queue.DeadLetters), which can be read, and replayed or emptied.
//
// # Guarantees
//
// Push and PushBatch return when the messages are fsync'd; concurrent
// pushes share fsyncs (group commit). A message whose Push returned is
// delivered to every consumer until that consumer acknowledges it or moves
// it to the dead-letter queue: after a visibility timeout, a Nack, a Close,
// a crash of the process or a power loss. Every message that was received
// and not acknowledged when the queue was closed or its process died is
// ready to be delivered again as soon as the queue is reopened.
//
// PushWithID de-duplicates: within DedupWindow (default 2 minutes) of a
// PushWithID that returned, another with the same ID pushes nothing and
// returns the first message's Seq, also after a restart, a crash or a
// power loss; a PushWithID cut short by a crash, retried, gives one
// message. The IDs live in the messages' records, so they are exactly as
// durable as the messages.
//
// PushAt(t, v) is Push for delayed delivery: the message is durable when
// PushAt returns, and no consumer receives it before t, also after a
// restart or a crash (the time is in its record).
//
// Purge (every message, or up to one) and Delete (one message) return when
// their record is fsync'd: the messages they remove are never delivered
// again, to the consumers there are or to those created later; nothing
// else is touched. MaxAge discards a message only once it is older than
// MaxAge when a consumer comes to it (see Options.MaxAge); a message not
// older than that is delivered as any other.
//
// Ack returns when the acknowledgement is fsync'd: an acknowledged message
// is not delivered to that consumer again, not after a crash, not after a
// power loss. Of several deliveries of one message, the first Ack wins; the
// others get ErrAcked, so an application that counts successful Acks counts
// each message once.
//
// A delivery's count (Message.Attempt) is fsync'd before the message is
// handed out, so a message that crashes its consumer every time still
// reaches MaxDeliveries, and no attempt number is handed out twice for a
// message and consumer. To save an fsync per message, Ack records the
// delivery of the consumer's next new message in the same write as the ack
// (prefetch), and the next Receive hands it out without writing; after a
// crash such a message, if nobody received it yet, counts one delivery too
// many (never too few). Close takes those counts back, and with
// MaxDeliveries 1 nothing is prefetched.
//
// A delayed Nack (Nack(d) with d > 0, or Nack(0) with Options.BackOff)
// returns when the delay is fsync'd: the message is not delivered again
// before its time, not after a restart, not after a power loss. With
// BackOff, a visibility timeout that runs out delays the message too; that
// delay is kept in memory and in checkpoints, so a crash can shorten it.
//
// Term returns when the message is in the dead-letter queue and resolved
// for its consumer, both fsync'd; it is then never delivered to that
// consumer again, and it is in the dead-letter queue once: a crash during
// Term leaves it either delivered again (Term had not written the dead
// letter) or moved, which Open completes.
//
// Messages are delivered more than once only when an earlier delivery was
// not acknowledged: its visibility timeout ran out while it was still being
// processed, the process stopped before Ack, or Ack failed.
//
// All consumer state (positions, acknowledgements, delivery counts,
// consumers) is records in a journal, never a separately synced file. Disk
// space is given back without compaction: journal segments that every
// consumer is done with are deleted whole.
//
// Damage is an error, never skipped: Open fails if a journal of the queue
// or of its dead-letter queue does not verify (an error matching
// ministore.ErrCorrupt, naming the file, line and offset), or if the
// queue's records do not fit together or one of its two journals is
// missing while the other shows it existed (a *RecordError matching
// ErrCorrupt). Only a torn tail, the last write a crash cut short, is
// repaired, as ministore does.
//
// A failed write or fsync stops the journal it hit (ministore.ErrFailed):
// the calls that need it fail until the queue is reopened. Nothing
// acknowledged is lost by that either.
//
// A message is delivered as it was pushed: Push and PushBatch refuse a
// value with invalid UTF-8 in a string (ministore.ErrInvalidUTF8), which
// JSON would store as U+FFFD, and write nothing. The journals record their
// schemas ("miniqueue.messages", "miniqueue.consumers"), so a program that
// opens them with ministore as journals of its own is refused.
//
// Queue.Backup writes a consistent copy of the queue, dead-letter queue
// included, into a new directory while pushes and acks go on: a queue opened
// from it holds every message whose Push returned before the call and
// keeps every ack that returned before it; messages acked during the call,
// or in flight, are delivered again (at least once). The package-level
// Backup copies a queue another process has open. See docs/BACKUP.md.
//
// # Format
//
// A queue is a directory:
//
//	DIR/queue.lock                      advisory lock: one Queue per directory
//	DIR/messages.log, .001, .002, ...   the messages (a ministore journal)
//	DIR/consumers.log, .001, ...        the consumer records (a ministore journal)
//	DIR/dead/                           the dead-letter queue, the same layout
//
// The message journal is created first, the consumer journal next, both
// before Open returns (the dead-letter queue's when its first letter is
// moved): a consumer journal without a message journal, or a message
// journal holding messages without a consumer journal, is damage, and
// Open refuses it.
//
// Both journals are ministore FormatV1 journals, so every line carries its
// sequence number and a CRC (see ministore). In the message journal, a
// message's sequence number is its Seq, and its record is an envelope
// around the value's JSON:
//
//	{"seq":7,"sync":6,"rec":{"v":{"id":7,"item":"tea"}},"crc":"6f1c2a0b"}
//	{"seq":9,"sync":8,"rec":{"to":"billing","dead":3,"v":{"id":4}},"crc":"..."}
//
//	{"seq":10,"sync":9,"rec":{"id":"order-7","t":1764252000123,"v":{"id":7}},"crc":"..."}
//
// The second form is a dead letter replayed for one consumer ("to") only;
// "dead" names the dead letter it came from. The third is a message pushed
// with PushWithID: its ID and push time (t, ms since 1970). An older reader
// ignores id and t and reads the value. A message pushed with PushAt, or
// while MaxAge is set, also carries t, and with PushAt "at", the time from
// which it may be delivered: {"t":MS,"at":MS,"v":...}. An older reader
// ignores them too, and delivers such a message at once and whatever its
// age. The records of the consumer
// journal, shown without the ministore framing ("c" is the consumer's name,
// left out for the default consumer ""):
//
//	{"op":"new","c":"billing","from":5}         consumer created, starting at message 5
//	{"op":"deliver","c":"billing","seq":7,"n":2} message 7 handed out, 2nd delivery
//	{"op":"ack","c":"billing","seq":7}           message 7 acknowledged
//	{"op":"dead","c":"billing","seq":8,"n":10}   message 8 moved to the dead-letter queue
//	{"op":"return","c":"billing","seq":9}        a prefetched delivery of 9 did not happen
//	{"op":"term","c":"billing","seq":7,"n":2}    Term is moving message 7 (2nd delivery) to the dead-letter queue
//	{"op":"dedup","seq":10}                      messages from 10 on may carry IDs (the first PushWithID)
//	{"op":"purge","seq":20}                      messages up to 20 removed for every consumer (Purge)
//	{"op":"remove","seq":22}                     message 22 removed for every consumer (Delete)
//	{"op":"nack","c":"billing","seq":7,"n":2,"at":1764252000123}
//	                                             2nd delivery of 7 nacked: not again before at (ms since 1970)
//	{"op":"delete","c":"billing"}                consumer deleted
//	{"op":"checkpoint","base":5,"last":12,"consumers":[{"c":"billing","floor":7,
//	    "next":10,"done":[[8,8]],"attempts":[[7,2],[9,1]]}]}
//
// A checkpoint is the whole consumer state: per consumer, every message
// below floor is resolved (acknowledged, dead-lettered, or replayed for
// another consumer), so are the spans in done, and messages from next on
// were never handed out; attempts gives the delivery counts of the
// unresolved messages that were handed out; delays gives the times
// ([seq, ms since 1970]) before which delayed messages are not delivered
// again (an older reader ignores it: they are ready at once, as it
// documents for Nack delays); term (rarely there) lists the
// messages whose Term failed after its "term" record, for Open to finish
// (an older reader ignores it, and may deliver such a message again though
// it is in the dead-letter queue). base is where a consumer created when
// there is none starts; removed lists, as spans, the messages Delete
// removed that a consumer created later could still reach (an older reader
// ignores it: such a consumer would receive them). dedup (once PushWithID was used) is the first
// message Open reads to rebuild the table of IDs: the oldest one whose ID is
// still within DedupWindow. The message journal is never cut above it.
// last is the newest message that was durable when the checkpoint was
// written: a crash cannot take it away, so a message journal that ends
// before the last of any checkpoint was damaged (cut short), and Open
// refuses it. Checkpoints without last (written by earlier releases, which
// ignore it) prove nothing.
//
// An Ack that prefetches writes its "ack" and the next message's "deliver"
// with one write and one fsync. Recovery reads the consumer journal from
// its start and applies every record in order; a checkpoint replaces all
// the state before it. Every unresolved message below next is then ready
// for redelivery.
//
// Truncation: once the consumer journal has grown by 256 KiB since the last
// checkpoint, or every consumer has passed a message segment, the queue
// appends a checkpoint and, once it is durable, deletes the consumer
// segments before the one holding it and the message segments below the
// lowest floor. Both journals are cut only at the first record of a
// segment file, so ministore deletes whole files and copies nothing. A
// checkpoint is written while no other consumer record is being written,
// so it reflects exactly the records before it; a crash at any point leaves
// a journal suffix that starts at or before the newest checkpoint.
//
// The dead-letter queue is a queue of the same format with one consumer;
// its messages are {"consumer":...,"seq":...,"attempts":...,"reason":...,
// "time":...,"value":...}. A dead letter is first written there, then the
// "dead" record is written here; Open completes a move that a crash cut in
// between, so a message is in the dead-letter queue once. Term writes a
// "term" record before the dead letter so that Open knows to look.
//
// Versions: a reader older than a record kind ("term", say) refuses the
// journal with a *RecordError naming it ("unknown operation") rather than
// skipping it. Fields added to a checkpoint are optional; an older reader
// ignores them, which is documented with each.
//
// # Concurrency
//
// A Queue, its Consumers and Messages are safe for concurrent use. Pushes
// from many goroutines share fsyncs, and so do the delivery and ack records
// of many receivers. Receive blocks until a message is ready or its context
// ends; waiting receivers are woken one per message. Open takes an advisory
// lock on the directory: a second Open, in this process or another, fails with
// ErrLocked until Close.
//
// OpenReadOnly looks at a queue another process has open: it takes no
// lock and writes nothing, reads the consumer journal to its end (a record
// half written there is the end) and then the ends of the message journal,
// and returns a View of that moment: Stats, Peek (the messages a consumer
// has not acknowledged, without receiving them) and DeadLetters. When the
// program deletes segments or moves on between the reads, it reads again.
// This is what "mini queue stat" and "mini queue peek" use.
//
// Only the calls that wait take a context: Receive, ReceiveBatch, and PushContext when
// BlockWhenFull makes a full queue wait for room.
//
// # Caveats
//
// Order: a consumer's messages are handed out in sequence order, but
// redeliveries come first, and competing receivers process concurrently.
//
// Delays, PushAt times and MaxAge are measured with the wall clock: setting the clock forward ends
// them early, setting it back makes them longer. A message that was in
// flight when the process stopped is ready at once after a reopen, even
// with BackOff (its consumer died, not the message). A delivery cut short by a crash after its count was written (but
// before Receive returned, or prefetched by an Ack and not yet received)
// still counts, so Attempt can skip a number. Up to 64 messages per
// consumer can be prefetched; they go to whichever receiver of the
// consumer comes next.
//
// A new consumer starts at the oldest message some consumer has not
// acknowledged. With no consumer at all, messages are kept for the first
// one. A consumer that stops acknowledging keeps everything after its
// oldest unacknowledged message on disk, and so does a message that stays
// unacknowledged (delete the consumer, or let MaxDeliveries move the
// message away). Space comes back a segment at a time (MaxSegmentBytes).
//
// De-duplication: Open reads the messages pushed since the last checkpoint
// and those whose ID is within DedupWindow, to rebuild the IDs' table
// (kept in memory: about 100 bytes per ID). Messages with an ID stay on
// disk for DedupWindow even when acknowledged. The window is measured with
// the wall clock. An older version of this package opening the directory
// keeps its messages but forgets the IDs.
//
// A message held back by PushAt, or waiting out a Nack delay, counts in Len
// and Lag, and keeps the messages after it on disk until it is resolved.
// MaxAge discards messages as consumers come to them: a consumer that does
// not receive keeps them on disk (Purge them, or delete the consumer).
// ReceiveBatch writes one delivery record per message (concurrent receivers
// share fsyncs).
//
// MaxBytes counts the encoded size of the messages from the oldest one
// some consumer has not acknowledged on, in steps of about MaxBytes/256;
// with MaxBytes set, Open reads those messages once to count them.
//
// PushBatch is one write and one fsync, but not atomic across a crash: a
// prefix of the batch may be in the queue. A crash during Replay can replay
// a dead letter twice; it never loses it.
//
// Receiving a message that does not decode into T moves it to the
// dead-letter queue with its JSON, so that a poison message never blocks a
// consumer. Messages are encoded with encoding/json, or with
// Options.Codec (ministore/jsonv2codec is faster); the journals hold the
// same JSON either way, so a queue written with one codec reads with the
// other.
//
// Memory: per consumer, the messages in flight or waiting for redelivery,
// and the acknowledgements above its oldest unacknowledged message as
// ranges; CacheBytes of recent messages; and, for messages read back from
// disk, ministore's index of 8 bytes per record of the segments read.
package miniqueue
