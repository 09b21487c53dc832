// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mini-go/mini/miniqueue"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/spf13/cobra"
)

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// badKeys returns the keys of the JSON value v (and of every value in it)
// that are not snake_case.
func badKeys(v any) []string {
	var bad []string
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if !snakeKey.MatchString(k) {
				bad = append(bad, k)
			}
			bad = append(bad, badKeys(e)...)
		}
	case []any:
		for _, e := range v {
			bad = append(bad, badKeys(e)...)
		}
	}
	return bad
}

// Every command prints JSON with --json, with snake_case keys only (the
// data here, records, states and messages, has snake_case keys too).
func TestEveryCommandJSON(t *testing.T) {
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	journal := filepath.Join(dir, "j.log")
	s, err := ministore.Open[logRec](journal, &ministore.Options{MaxSegmentBytes: 512, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, err := s.Append(logRec{I: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	m, err := ministate.Open[counter, inc](stateDir, "counter.log", &ministate.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := m.Apply(inc{By: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.CreateSnapshot(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Apply(inc{By: 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	queueDir := filepath.Join(dir, "queue")
	q, err := miniqueue.Open[string](queueDir, &miniqueue.Options{Logger: quiet, MaxDeliveries: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if _, err := q.Push(v); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	msg, err := q.Consumer("w").Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Term("gave up"); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	runs := [][]string{
		{"version"},
		{"log", "cat", journal},
		{"log", "stat", journal},
		{"log", "tail", "-n", "3", journal},
		{"log", "verify", journal},
		{"log", "repair", journal},
		{"snap", "ls", stateDir},
		{"snap", "show", stateDir},
		{"snap", "verify", stateDir},
		{"state", "stat", stateDir},
		{"state", "show", stateDir},
		{"queue", "stat", queueDir},
		{"queue", "peek", "--consumer", "w", queueDir},
		{"queue", "dead", "list", queueDir},
		{"queue", "dead", "replay", "--all", queueDir},
		{"queue", "push", queueDir, `"d"`},
		{"queue", "purge", "--all", queueDir},
		{"backup", journal, filepath.Join(dir, "bk-log")},
		{"backup", stateDir, filepath.Join(dir, "bk-state")},
		{"backup", queueDir, filepath.Join(dir, "bk-queue")},
		{"state", "compact", stateDir},
		{"bench", "--dir", t.TempDir(), "--duration", "20ms"},
	}
	// Every command that does something is in the list, with --json.
	var leaves func(c *cobra.Command)
	leaves = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.HasSubCommands() {
			for _, sub := range c.Commands() {
				leaves(sub)
			}
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		if c.Flags().Lookup("json") == nil {
			t.Errorf("mini %s has no --json", strings.Join(path, " "))
		}
		if !slices.ContainsFunc(runs, func(args []string) bool { return len(args) >= len(path) && slices.Equal(args[:len(path)], path) }) {
			t.Errorf("mini %s is not run by this test", strings.Join(path, " "))
		}
	}
	leaves(newRoot(io.Discard, io.Discard))
	for _, args := range runs {
		name := strings.Join(args[:min(len(args), 3)], " ")
		args = append(slices.Clone(args), "--json")
		r := mini(t, args...)
		if r.code != 0 {
			t.Errorf("%s: exit %d: %s", name, r.code, r.stderr)
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		lines := 0
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			lines++
			var v any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				// Not JSON lines: one indented JSON document.
				if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
					t.Errorf("%s --json: not JSON: %v\n%s", name, err, r.stdout)
				} else if bad := badKeys(v); len(bad) > 0 {
					t.Errorf("%s --json: keys not in snake_case: %q", name, bad)
				}
				break
			}
			if bad := badKeys(v); len(bad) > 0 {
				t.Errorf("%s --json: keys not in snake_case: %q\n%s", name, bad, sc.Text())
			}
		}
		if lines == 0 {
			t.Errorf("%s --json printed nothing", name)
		}
	}
}
