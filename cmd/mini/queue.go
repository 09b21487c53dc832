// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mini-go/mini/miniqueue"
	"github.com/mini-go/mini/ministore"
	"github.com/spf13/cobra"
)

func newQueueCmd() *cobra.Command {
	c := group(&cobra.Command{
		Use:   "queue",
		Short: "Show and manage miniqueue queues",
		Long: `A queue folder holds messages.log (the messages), consumers.log
(deliveries, acks and checkpoints) and dead/ (the dead-letter queue).

stat, peek and dead list read the folder without its lock and write
nothing (miniqueue.OpenReadOnly), so they work beside the program that has
the queue open; what they show is the folder at that moment. push, purge
and dead replay change the queue: they take its lock, so the queue must not
be open in another process.`,
	})
	c.AddCommand(newQueueStat(), newQueuePeek(), newQueuePush(), newQueuePurge(), newQueueDead())
	return c
}

// needQueue returns a usage error if dir holds no queue: no file of the
// journal messages.log (the active file may be renamed away for a moment
// by a rotation, but the sealed segment it became is there).
func needQueue(dir string) error {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n == "messages.log" || strings.HasPrefix(n, "messages.log.") && segmentSuffix.MatchString(n) {
			return nil
		}
	}
	return usagef("no queue at %s", dir)
}

// viewQueue reads the queue in dir without its lock. (Not needQueue: a
// rotation renames messages.log away for a moment.)
func viewQueue(dir string) (*miniqueue.View[json.RawMessage], error) {
	v, err := miniqueue.OpenReadOnly[json.RawMessage](dir, &miniqueue.Options{Logger: slog.New(slog.DiscardHandler)})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("no queue at %s", dir)
	}
	return v, err
}

// viewCmd is jsonCmd on the queue folder DIR, read without its lock: run
// gets DIR, the queue's View and --json.
func viewCmd(c *cobra.Command, jsonUsage string, run func(cmd *cobra.Command, dir string, v *miniqueue.View[json.RawMessage], asJSON bool) error) *cobra.Command {
	return jsonCmd(c, jsonUsage, func(cmd *cobra.Command, dir string, asJSON bool) error {
		v, err := viewQueue(dir)
		if err != nil {
			return err
		}
		defer v.Close()
		return run(cmd, dir, v, asJSON)
	})
}

// openQueue opens the queue in dir to change it.
func openQueue(dir string) (*miniqueue.Queue[json.RawMessage], error) {
	if err := needQueue(dir); err != nil {
		return nil, err
	}
	return openQueueAt(dir)
}

func openQueueAt(dir string) (*miniqueue.Queue[json.RawMessage], error) {
	q, err := miniqueue.Open[json.RawMessage](dir, &miniqueue.Options{Logger: slog.New(slog.DiscardHandler)})
	if errors.Is(err, miniqueue.ErrLocked) {
		return nil, fmt.Errorf("%s is open in another process: stop it, or do this from the program (%w)", dir, err)
	}
	return q, err
}

func newQueueStat() *cobra.Command {
	return viewCmd(&cobra.Command{
		Use:   "stat DIR",
		Short: "Show depth, consumers, lag, dead letters and the journals' files",
		Long: `Show the figures the folder holds: the messages on disk, how many are
not yet acknowledged by every consumer, the dead letters, per consumer its
lag, the messages delivered and not yet acknowledged (in_flight) and its
floor (every message below it is acknowledged), and the files of the two
journals. in_flight is read from the files: the messages whose delivery is
recorded and not yet acknowledged (in the program: in flight, prefetched by
an Ack for the next receiver, or waiting for redelivery), less those nacked
with a delay still running. It reads the folder without its lock, so it works beside the
program that has the queue open. The program's counters (deliveries, acks,
fsyncs, ...) count since its Open and live in its memory: read them from
Queue.Stats in the program (or its metrics).`,
	}, "print the stats as JSON", func(cmd *cobra.Command, dir string, v *miniqueue.View[json.RawMessage], asJSON bool) error {
		st := queueStatJSON(v)
		out := cmd.OutOrStdout()
		if asJSON {
			return writeJSON(out, st)
		}
		fmt.Fprintf(out, "messages %d to %d on disk, %d not yet acknowledged by every consumer, %d dead letters\n",
			st.FirstSeq, st.LastSeq, st.Len, st.DeadLetters)
		for _, j := range []journalStat{st.Messages, st.ConsumerLog} {
			fmt.Fprintf(out, "%s: %s, %s, records %d to %d\n", filepath.Base(j.Path), plural(j.Segments, "file"), plural(j.Bytes, "byte"), j.FirstSeq, j.LastSeq)
		}
		tw := table(out)
		fmt.Fprintln(tw, "CONSUMER\tLAG\tIN FLIGHT\tFLOOR")
		for _, c := range st.Consumers {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", cmp.Or(c.Name, "(default)"), c.Lag, c.InFlight, c.Floor)
		}
		return tw.Flush()
	})
}

// queueStat is what queue stat prints with --json: the figures read from
// the directory, with snake_case keys like every other command's.
type queueStat struct {
	FirstSeq    uint64          `json:"first_seq"`
	LastSeq     uint64          `json:"last_seq"`
	Len         int             `json:"len"`
	DeadLetters int             `json:"dead_letters"`
	Consumers   []queueConsumer `json:"consumers"`
	Messages    journalStat     `json:"messages_journal"`
	ConsumerLog journalStat     `json:"consumers_journal"`
}

type queueConsumer struct {
	Name     string `json:"name"`
	Lag      int    `json:"lag"`
	InFlight int    `json:"in_flight"`
	Floor    uint64 `json:"floor"`
}

// journalStat is a journal's files as ministore.Stat describes them.
type journalStat struct {
	Path      string `json:"path"`
	Segments  int    `json:"segments"`
	Bytes     int64  `json:"bytes"`      // of headers and records
	FileBytes int64  `json:"file_bytes"` // of the files: preallocated zeros included
	Records   uint64 `json:"records"`
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
}

func journalStatOf(info ministore.JournalInfo) journalStat {
	j := journalStat{Path: info.Path, Segments: len(info.Segments), FileBytes: info.Bytes,
		Records: info.Records, FirstSeq: info.FirstSeq, LastSeq: info.LastSeq}
	for i, s := range info.Segments {
		if i == len(info.Segments)-1 {
			j.Bytes += s.End // not the zeros preallocated after it
		} else {
			j.Bytes += s.Bytes
		}
	}
	return j
}

// queueStatJSON keeps the directory's figures of the View's Stats.
func queueStatJSON(v *miniqueue.View[json.RawMessage]) queueStat {
	st := v.Stats()
	msgs, cons := v.Journals()
	out := queueStat{FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, Len: st.Len, DeadLetters: st.DeadLetters,
		Consumers: []queueConsumer{}, Messages: journalStatOf(msgs), ConsumerLog: journalStatOf(cons)}
	for _, c := range st.Consumers {
		out.Consumers = append(out.Consumers, queueConsumer{Name: c.Name, Lag: c.Lag, InFlight: c.InFlight, Floor: c.Floor})
	}
	return out
}

func newQueuePeek() *cobra.Command {
	var n int
	var consumer string
	c := viewCmd(&cobra.Command{
		Use:   "peek DIR",
		Short: "Print the next messages a consumer has not acknowledged, without receiving them",
		Long: `Print, as JSON lines, up to -n messages the consumer has not
acknowledged, oldest first, with the deliveries recorded for each, without
receiving them: no delivery is recorded. It reads the folder without its
lock, so it works beside the program that has the queue open.`,
	}, "print JSON lines (always on; accepted for symmetry)", func(cmd *cobra.Command, dir string, v *miniqueue.View[json.RawMessage], _ bool) error {
		if !slices.Contains(v.Consumers(), consumer) {
			return usagef("no consumer %q in %s", consumer, dir)
		}
		out := bufferedOut(cmd.OutOrStdout())
		defer out.Flush()
		printed := 0
		for m, err := range v.Peek(consumer) {
			if err != nil {
				return err
			}
			if printed == n {
				break
			}
			if err := writeJSON(out, struct {
				Seq        uint64          `json:"seq"`
				Value      json.RawMessage `json:"value"`
				Deliveries int             `json:"deliveries"`
			}{m.Seq, m.Raw, m.Deliveries}); err != nil {
				return err
			}
			printed++
		}
		return nil
	})
	c.Flags().IntVarP(&n, "n", "n", 10, "how many messages to print")
	c.Flags().StringVar(&consumer, "consumer", "", "the consumer (default: the default consumer)")
	return c
}
