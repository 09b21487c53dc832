// SPDX-License-Identifier: MIT OR Apache-2.0

// Command mini inspects, verifies, repairs and benchmarks the files of the
// mini packages: ministore journals, minisnap snapshot directories, ministate
// state directories and miniqueue queues.
//
//	go install github.com/mini-go/mini/cmd/mini@latest
//	mini log cat data/events.log | jq .
//	mini log verify data/events.log
//
// Run "mini help" for the commands and exit codes.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes, as documented in the root command's help.
const (
	exitOK      = 0
	exitProblem = 1 // the files checked are damaged, or an operation failed
	exitUsage   = 2 // bad arguments, unknown flags, or a path that holds nothing
)

// usageError marks errors that exit with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// problemError marks a check that found damage: it has already been
// reported, and exits with exitProblem.
type problemError struct{ msg string }

func (e problemError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "mini: "+oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitProblem
}

func oneLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := group(&cobra.Command{
		Use:   "mini",
		Short: "Inspect, verify, repair and benchmark mini journals, snapshots, state folders and queues",
		Long: `mini works on the files of the mini Go packages: ministore journals,
minisnap snapshot folders, ministate state folders and miniqueue queues.
Read commands print JSON lines or tables; --json gives JSON for scripts.
Progress bars appear on stderr only when stderr is a terminal.

Exit codes:
  0  success; for verify: the files are sound
  1  the files are damaged (verify names the file, line and byte offset),
     or the operation failed (for example, the journal is locked)
  2  bad arguments, an unknown flag, or a path that holds nothing`,
		SilenceUsage:  true,
		SilenceErrors: true,
	})
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.Version = buildVersion().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newLogCmd(), newSnapCmd(), newStateCmd(), newQueueCmd(), newBackupCmd(), newBenchCmd(), newVersionCmd())
	markUsage(root)
	return root
}

// group makes c a command that only holds subcommands: run alone it shows
// its help; with an unknown subcommand it is a usage error.
func group(c *cobra.Command) *cobra.Command {
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return nil
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	return c
}

// markUsage makes argument-count errors of c and its children usage errors.
func markUsage(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, sub := range c.Commands() {
		markUsage(sub)
	}
}
