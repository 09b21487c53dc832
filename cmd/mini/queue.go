// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/miniqueue"
	"github.com/mini-go/mini/ministore"
	"github.com/spf13/cobra"
)

func newQueueCmd() *cobra.Command {
	c := group(&cobra.Command{
		Use:   "queue",
		Short: "Show the state of miniqueue queues",
		Long: `A queue folder holds messages.log (the messages), consumers.log
(deliveries, acks and checkpoints) and dead/ (the dead-letter queue). mini
opens the queue to read its consumers' state, so the queue must not be open
in another process.`,
	})
	c.AddCommand(newQueueStat(), newQueuePeek())
	return c
}

// openQueue opens the queue in dir for reading its state.
func openQueue(dir string) (*miniqueue.Queue[json.RawMessage], error) {
	if _, err := os.Stat(filepath.Join(dir, "messages.log")); err != nil {
		return nil, usagef("no queue at %s", dir)
	}
	q, err := miniqueue.Open[json.RawMessage](dir, &miniqueue.Options{Logger: slog.New(slog.DiscardHandler)})
	if errors.Is(err, miniqueue.ErrLocked) {
		return nil, fmt.Errorf("%s is open in another process (stop it, or read its Stats from the program)", dir)
	}
	return q, err
}

func newQueueStat() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "stat DIR",
		Short: "Show depth, consumers, lag and dead letters",
		Long: `Show the figures the folder holds: the messages on disk, how many are
not yet acknowledged by every consumer, the dead letters, and per consumer
its lag, the messages in flight and its floor (every message below it is
acknowledged). The program's counters (deliveries, acks, ...) count since
its Open and live in its memory: read them from Queue.Stats in the program.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := openQueue(args[0])
			if err != nil {
				return err
			}
			defer q.Close()
			st := q.Stats()
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, queueStatJSON(st))
			}
			fmt.Fprintf(out, "messages %d to %d on disk, %d not yet acknowledged by every consumer, %d dead letters\n",
				st.FirstSeq, st.LastSeq, st.Len, st.DeadLetters)
			tw := table(out)
			fmt.Fprintln(tw, "CONSUMER\tLAG\tIN FLIGHT\tFLOOR")
			for _, c := range st.Consumers {
				name := c.Name
				if name == "" {
					name = "(default)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", name, c.Lag, c.InFlight, c.Floor)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the stats as JSON")
	return c
}

// queueStat is what queue stat prints with --json: the figures read from
// the folder, with snake_case keys like every other command's.
type queueStat struct {
	FirstSeq    uint64          `json:"first_seq"`
	LastSeq     uint64          `json:"last_seq"`
	Len         int             `json:"len"`
	Bytes       int64           `json:"bytes"`
	MaxBytes    int64           `json:"max_bytes"`
	DeadLetters int             `json:"dead_letters"`
	Consumers   []queueConsumer `json:"consumers"`
}

type queueConsumer struct {
	Name     string `json:"name"`
	Lag      int    `json:"lag"`
	InFlight int    `json:"in_flight"`
	Floor    uint64 `json:"floor"`
}

// queueStatJSON keeps the folder-derived figures of st; the counters that
// count since Open are left out: mini has only just opened the queue.
func queueStatJSON(st miniqueue.Stats) queueStat {
	out := queueStat{FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, Len: st.Len, Bytes: st.Bytes,
		MaxBytes: st.MaxBytes, DeadLetters: st.DeadLetters, Consumers: []queueConsumer{}}
	for _, c := range st.Consumers {
		out.Consumers = append(out.Consumers, queueConsumer{Name: c.Name, Lag: c.Lag, InFlight: c.InFlight, Floor: c.Floor})
	}
	return out
}

func newQueuePeek() *cobra.Command {
	var n int
	var consumer string
	c := &cobra.Command{
		Use:   "peek DIR",
		Short: "Print the next messages a consumer has not acknowledged, without receiving them",
		Long: `Print, as JSON lines, up to -n messages from the consumer's floor on
(the oldest message it has not acknowledged), without receiving them: no
delivery is recorded. Messages above the floor that were acknowledged out
of order are skipped only by a real Receive, so they may be printed too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := openQueue(args[0])
			if err != nil {
				return err
			}
			var floor uint64
			found := false
			for _, c := range q.Stats().Consumers {
				if c.Name == consumer {
					floor, found = c.Floor, true
				}
			}
			if err := q.Close(); err != nil {
				return err
			}
			if !found {
				return usagef("no consumer %q in %s", consumer, args[0])
			}
			out := bufferedOut(cmd.OutOrStdout())
			defer out.Flush()
			printed := 0
			for rec, err := range ministore.Records[json.RawMessage](filepath.Join(args[0], "messages.log"), floor) {
				if err != nil {
					return err
				}
				if printed == n {
					break
				}
				var msg struct {
					V json.RawMessage `json:"v"`
				}
				if json.Unmarshal(rec.Value, &msg) != nil || msg.V == nil {
					msg.V = rec.Value // not the envelope this version writes: show it whole
				}
				if err := writeJSON(out, struct {
					Seq   uint64          `json:"seq"`
					Value json.RawMessage `json:"value"`
				}{rec.Seq, msg.V}); err != nil {
					return err
				}
				printed++
			}
			return nil
		},
	}
	c.Flags().IntVarP(&n, "n", "n", 10, "how many messages to print")
	c.Flags().StringVar(&consumer, "consumer", "", "the consumer (default: the default consumer)")
	c.Flags().Bool("json", true, "print JSON lines (always on; accepted for symmetry)")
	return c
}
