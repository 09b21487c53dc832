// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mini-go/mini/ministore"
)

// progress returns a progress callback drawing a bar on stderr if stderr is
// a terminal, and a func that finishes it; both do nothing otherwise. With
// bytes set, done and total are bytes and the bar shows a rate; otherwise
// they are counts (records, steps) and it shows none.
func progress(stderr io.Writer, what string, bytes bool) (func(done, total int64), func()) {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func(int64, int64) {}, func() {}
	}
	return progressTo(stderr, what, bytes)
}

// progressTo draws the bar on w. The bar's clock starts now, when the work
// starts, not at the first update: started at the first update, the bar
// divided all the bytes read so far by a few microseconds and showed a rate
// like "(1000 GB/s)".
func progressTo(w io.Writer, what string, bytes bool) (func(done, total int64), func()) {
	bar := progressbar.NewOptions64(1, progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what), progressbar.OptionShowBytes(bytes),
		progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100e6))
	bar.StartWithoutRender()
	update := func(done, total int64) {
		if total <= 0 {
			return
		}
		bar.ChangeMax64(total)
		bar.Set64(min(done, total))
	}
	return update, func() { bar.Finish() }
}

// plural returns "1 file", "2 files".
func plural[N int | int64 | uint64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// writeJSON prints v as one line of JSON, with <, > and & as themselves,
// as the journals hold them (json.Marshal would escape them).
func writeJSON(w io.Writer, v any) error {
	b, err := ministore.JSONCodec{}.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// printResult prints res as one line of JSON with --json, and the line
// format otherwise.
func printResult(w io.Writer, asJSON bool, res any, format string, a ...any) error {
	if asJSON {
		return writeJSON(w, res)
	}
	_, err := fmt.Fprintf(w, format, a...)
	return err
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func bufferedOut(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 64<<10) }

// jsonCmd completes c, a command on one argument with the flag --json:
// run gets the argument and --json.
func jsonCmd(c *cobra.Command, jsonUsage string, run func(cmd *cobra.Command, arg string, asJSON bool) error) *cobra.Command {
	var asJSON bool
	c.Args = cobra.ExactArgs(1)
	c.RunE = func(cmd *cobra.Command, args []string) error { return run(cmd, args[0], asJSON) }
	c.Flags().BoolVar(&asJSON, "json", false, jsonUsage)
	return c
}
