// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mini-go/mini/miniqueue"
	"github.com/spf13/cobra"
)

// pushBatch is how many lines of standard input queue push sends with one
// write and one fsync.
const pushBatch = 1000

// pushResult is what queue push prints with --json.
type pushResult struct {
	Dir      string `json:"dir"`
	Pushed   int    `json:"pushed"`
	FirstSeq uint64 `json:"first_seq"` // 0 if nothing was pushed
	LastSeq  uint64 `json:"last_seq"`
}

func newQueuePush() *cobra.Command {
	var asJSON, asString, create bool
	c := &cobra.Command{
		Use:   "push DIR [MESSAGE...]",
		Short: "Push messages: the arguments, or one per line of standard input",
		Long: `Push each MESSAGE argument as a message, or, without arguments, each
line of standard input (empty lines skipped). A message is JSON ({"id":1},
"text", 42); with --string it is pushed as a JSON string, as it is. Lines of
standard input are pushed in batches of 1000, each with one write and one
fsync: if mini is stopped, a prefix of the input is in the queue, and the
error says how many were pushed. The queue must exist (--create makes it)
and must not be open in another process.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			var q *miniqueue.Queue[json.RawMessage]
			var err error
			if create {
				q, err = openQueueAt(dir)
			} else {
				q, err = openQueue(dir)
			}
			if err != nil {
				return err
			}
			defer q.Close()
			res := pushResult{Dir: dir}
			push := func(vs []json.RawMessage) error {
				if len(vs) == 0 {
					return nil
				}
				first, last, err := q.PushBatch(vs...)
				if err != nil {
					return fmt.Errorf("after %s: %w", plural(res.Pushed, "message"), err)
				}
				if res.FirstSeq == 0 {
					res.FirstSeq = first
				}
				res.LastSeq = last
				res.Pushed += len(vs)
				return nil
			}
			value := func(s string, where string) (json.RawMessage, error) {
				if asString {
					b, err := json.Marshal(s)
					return b, err
				}
				if !json.Valid([]byte(s)) {
					return nil, usagef("%s is not JSON (use --string to push text): %.40q", where, s)
				}
				return json.RawMessage(s), nil
			}
			if len(args) > 1 {
				vs := make([]json.RawMessage, 0, len(args)-1)
				for i, a := range args[1:] {
					v, err := value(a, "message "+strconv.Itoa(i+1))
					if err != nil {
						return err
					}
					vs = append(vs, v)
				}
				err = push(vs)
			} else {
				err = pushLines(cmd.InOrStdin(), value, push)
			}
			if err != nil {
				return err
			}
			if err := q.Close(); err != nil {
				return err
			}
			if res.Pushed == 0 {
				return printResult(cmd.OutOrStdout(), asJSON, res, "pushed nothing\n")
			}
			return printResult(cmd.OutOrStdout(), asJSON, res, "pushed %s, %d to %d\n", plural(res.Pushed, "message"), res.FirstSeq, res.LastSeq)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	c.Flags().BoolVar(&asString, "string", false, "push each message as a JSON string")
	c.Flags().BoolVar(&create, "create", false, "create the queue if DIR holds none")
	return c
}

// pushLines pushes the non-empty lines of r in batches.
func pushLines(r io.Reader, value func(s, where string) (json.RawMessage, error), push func([]json.RawMessage) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var batch []json.RawMessage
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		v, err := value(sc.Text(), "line "+strconv.Itoa(line))
		if err != nil {
			if perr := push(batch); perr != nil {
				return perr
			}
			return err
		}
		batch = append(batch, v)
		if len(batch) == pushBatch {
			if err := push(batch); err != nil {
				return err
			}
			batch = nil
		}
	}
	if err := sc.Err(); err != nil {
		if perr := push(batch); perr != nil {
			return perr
		}
		return fmt.Errorf("read standard input: %w", err)
	}
	return push(batch)
}

// purgeResult is what queue purge prints with --json.
type purgeResult struct {
	Dir       string `json:"dir"`
	UpTo      uint64 `json:"up_to"` // every message up to it is purged
	LenBefore int    `json:"len_before"`
	LenAfter  int    `json:"len_after"`
}

func newQueuePurge() *cobra.Command {
	var asJSON, all bool
	var upTo uint64
	c := &cobra.Command{
		Use:   "purge DIR (--all | --up-to SEQ)",
		Short: "Remove every message, or every message up to SEQ, for every consumer",
		Long: `Remove the messages up to SEQ (--up-to), or every message (--all),
for every consumer and the consumers created later (miniqueue's
Queue.Purge): they are not delivered again, and their space comes back.
The queue must not be open in another process.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (upTo != 0) {
				return usagef("give --all or --up-to SEQ")
			}
			q, err := openQueue(args[0])
			if err != nil {
				return err
			}
			defer q.Close()
			res := purgeResult{Dir: args[0], LenBefore: q.Len()}
			res.UpTo = upTo
			if all {
				res.UpTo = q.Stats().LastSeq
				upTo = 0 // Purge's "every message"
			}
			if err := q.Purge(upTo); err != nil {
				return err
			}
			res.LenAfter = q.Len()
			if err := q.Close(); err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), asJSON, res, "purged the messages up to %d: %s left (%d before)\n", res.UpTo, plural(res.LenAfter, "message"), res.LenBefore)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	c.Flags().BoolVar(&all, "all", false, "purge every message")
	c.Flags().Uint64Var(&upTo, "up-to", 0, "purge the messages up to this sequence number")
	return c
}

func newQueueDead() *cobra.Command {
	c := group(&cobra.Command{
		Use:   "dead",
		Short: "List the dead letters, or move them back to the queue",
		Long: `Dead letters are messages a consumer gave up on (MaxDeliveries reached,
Term, or a message that did not decode), kept in the folder dead/. list
reads them without the queue's lock; replay takes it.`,
	})
	c.AddCommand(newQueueDeadList(), newQueueDeadReplay())
	return c
}

// deadJSON is one dead letter as dead list prints it with --json.
type deadJSON struct {
	ID       uint64          `json:"id"`
	Consumer string          `json:"consumer"`
	Seq      uint64          `json:"seq"`
	Attempts int             `json:"attempts"`
	Reason   string          `json:"reason"`
	Time     time.Time       `json:"time"`
	Value    json.RawMessage `json:"value"`
}

func newQueueDeadList() *cobra.Command {
	return viewCmd(&cobra.Command{
		Use:   "list DIR",
		Short: "List the dead letters, oldest first",
		Long: `List the dead letters, oldest first: their ID (for replay), the
consumer that gave up, the message's sequence number, its deliveries, why
and when it was moved. With --json, one JSON object a line, with the
message. It reads the folder without its lock, beside the program.`,
	}, "print JSON lines", func(cmd *cobra.Command, _ string, v *miniqueue.View[json.RawMessage], asJSON bool) error {
		out := bufferedOut(cmd.OutOrStdout())
		defer out.Flush()
		tw := table(out)
		if !asJSON {
			fmt.Fprintln(tw, "ID\tCONSUMER\tSEQ\tATTEMPTS\tTIME\tREASON")
		}
		for d, err := range v.DeadLetters() {
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(out, deadJSON{d.ID, d.Consumer, d.Seq, d.Attempts, d.Reason, d.Time, d.Raw}); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", d.ID, cmp.Or(d.Consumer, "(default)"), d.Seq, d.Attempts, d.Time.UTC().Format(time.RFC3339), d.Reason)
		}
		if asJSON {
			return nil
		}
		return tw.Flush()
	})
}

// replayResult is what dead replay prints with --json.
type replayResult struct {
	Dir      string   `json:"dir"`
	Replayed []uint64 `json:"replayed"` // the dead letters' IDs
}

func newQueueDeadReplay() *cobra.Command {
	var asJSON, all bool
	c := &cobra.Command{
		Use:   "replay DIR (--all | ID...)",
		Short: "Move dead letters back to the queue, for the consumer that gave up on them",
		Long: `Push each dead letter named (by its ID, from dead list), or every one
(--all), back to the queue as a new message for the consumer that gave up
on it only, and remove it from the dead letters (miniqueue's
DeadLetters.Replay). The queue must not be open in another process.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 1) {
				return usagef("give --all or the IDs of the dead letters")
			}
			ids := make([]uint64, 0, len(args)-1)
			for _, a := range args[1:] {
				id, err := strconv.ParseUint(a, 10, 64)
				if err != nil || id == 0 {
					return usagef("not a dead letter ID: %q", a)
				}
				ids = append(ids, id)
			}
			q, err := openQueue(args[0])
			if err != nil {
				return err
			}
			defer q.Close()
			dl := q.DeadLetters()
			res := replayResult{Dir: args[0], Replayed: []uint64{}}
			if all {
				for d, err := range dl.All() {
					if err != nil {
						return err
					}
					ids = append(ids, d.ID)
				}
			}
			for _, id := range ids {
				if err := dl.Replay(id); err != nil {
					return fmt.Errorf("replay dead letter %d (after %d): %w", id, len(res.Replayed), err)
				}
				res.Replayed = append(res.Replayed, id)
			}
			if err := q.Close(); err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), asJSON, res, "replayed %s\n", plural(len(res.Replayed), "dead letter"))
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	c.Flags().BoolVar(&all, "all", false, "replay every dead letter")
	return c
}
