// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/cborcodec"
	"github.com/mini-go/mini/minisnap/msgpacksnap"
	"github.com/mini-go/mini/minisnap/zstdcodec"
	"github.com/spf13/cobra"
)

func newSnapCmd() *cobra.Command {
	c := group(&cobra.Command{
		Use:   "snap",
		Short: "List, show and verify minisnap snapshot folders",
		Long: `A snapshot folder holds snapshots written by minisnap (snap-<seq>/
directories) and possibly one in the Rust crate's layout (snapshot.json and
snapshot.seq). The folder is opened read-only: mini never changes it, so it
can look at the folder of a running program.`,
	})
	c.AddCommand(newSnapLs(), newSnapShow(), newSnapVerify())
	return c
}

// openSnaps opens dir read-only, checking that it exists. The store's
// codec is msgpacksnap's, so the Rust crate's MessagePack snapshots are
// listed beside its JSON ones (loadJSON picks each snapshot's codec).
func openSnaps(dir string) (*minisnap.Store, error) {
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return nil, usagef("no folder at %s", dir)
	}
	return minisnap.Open(dir, &minisnap.Options{ReadOnly: true, Codec: msgpacksnap.New()})
}

// listSnaps opens dir read-only and lists its snapshots, newest first.
func listSnaps(dir string) (*minisnap.Store, []minisnap.Info, error) {
	s, err := openSnaps(dir)
	if err != nil {
		return nil, nil, err
	}
	infos, err := s.List()
	return s, infos, err
}

// codecFor returns the codec that decodes snapshots written with name.
func codecFor(name string) (minisnap.Codec, error) {
	base, zst := strings.CutSuffix(name, "+zstd")
	var c minisnap.Codec
	switch base {
	case "json":
		c = minisnap.JSONCodec{}
	case "cbor":
		c = cborcodec.New()
	case "msgpack":
		c = msgpacksnap.New()
	default:
		return nil, fmt.Errorf("unknown codec %q", name)
	}
	if zst {
		c = zstdcodec.New(c)
	}
	return c, nil
}

// loadJSON reads the state of snapshot info as JSON, verifying its
// checksum on the way.
func loadJSON(s *minisnap.Store, info minisnap.Info) (json.RawMessage, error) {
	c, err := codecFor(info.Codec)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	err = s.Load(info, func(r io.Reader) error {
		if info.Codec == "json" {
			b, err := io.ReadAll(r)
			out = bytes.TrimSpace(b)
			return err
		}
		var v any
		if err := c.Decode(r, &v); err != nil {
			return err
		}
		b, err := json.Marshal(jsonable(v))
		out = b
		return err
	})
	if err == nil && !json.Valid(out) {
		err = fmt.Errorf("%s: the state is not valid JSON", info.Path)
	}
	return out, err
}

// jsonable turns the maps with non-string keys that CBOR decodes into
// maps that encoding/json can write.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case map[string]any:
		for k, e := range v {
			v[k] = jsonable(e)
		}
	case []any:
		for i, e := range v {
			v[i] = jsonable(e)
		}
	}
	return v
}

type snapJSON struct {
	Seq    uint64    `json:"seq"`
	Codec  string    `json:"codec"`
	Size   int64     `json:"size"`
	Time   time.Time `json:"time"`
	Path   string    `json:"path"`
	Legacy bool      `json:"legacy,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// snapCmd is jsonCmd on the snapshot folder DIR: run gets DIR, its
// snapshots and --json.
func snapCmd(c *cobra.Command, jsonUsage string, run func(cmd *cobra.Command, dir string, s *minisnap.Store, infos []minisnap.Info, asJSON bool) error) *cobra.Command {
	return jsonCmd(c, jsonUsage, func(cmd *cobra.Command, dir string, asJSON bool) error {
		s, infos, err := listSnaps(dir)
		if err != nil {
			return err
		}
		return run(cmd, dir, s, infos, asJSON)
	})
}

func describeSnap(i minisnap.Info) snapJSON {
	s := snapJSON{Seq: i.Seq, Codec: i.Codec, Size: i.Size, Time: i.Time, Path: i.Path, Legacy: i.Legacy}
	if i.Err != nil {
		s.Error = i.Err.Error()
	}
	return s
}

func newSnapLs() *cobra.Command {
	return snapCmd(&cobra.Command{
		Use:   "ls DIR",
		Short: "List the snapshots in a folder, newest first",
	}, "print the list as JSON", func(cmd *cobra.Command, _ string, _ *minisnap.Store, infos []minisnap.Info, asJSON bool) error {
		out := cmd.OutOrStdout()
		if asJSON {
			list := []snapJSON{}
			for _, i := range infos {
				list = append(list, describeSnap(i))
			}
			return writeJSON(out, list)
		}
		tw := table(out)
		fmt.Fprintln(tw, "SEQ\tCODEC\tSIZE\tCREATED\tSTATUS\tPATH")
		for _, i := range infos {
			status := "ok"
			switch {
			case i.Err != nil:
				status = "damaged: " + i.Err.Error()
			case i.Legacy:
				status = "legacy (Rust layout, no checksum)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", i.Seq, i.Codec, i.Size, i.Time.Format(time.RFC3339), status, i.Path)
		}
		return tw.Flush()
	})
}

func newSnapShow() *cobra.Command {
	var seq uint64
	c := snapCmd(&cobra.Command{
		Use:   "show DIR",
		Short: "Print a snapshot's state as JSON (the newest that verifies, or --seq)",
	}, "print compact JSON on one line", func(cmd *cobra.Command, dir string, s *minisnap.Store, infos []minisnap.Info, asJSON bool) error {
		var lastErr error
		for _, info := range infos {
			if seq != 0 && info.Seq != seq {
				continue
			}
			state, err := loadJSON(s, info)
			if err != nil {
				lastErr = err
				fmt.Fprintf(cmd.ErrOrStderr(), "mini: skipping snapshot %d: %v\n", info.Seq, err)
				continue
			}
			return printState(cmd.OutOrStdout(), state, asJSON)
		}
		if lastErr != nil {
			return problemError{"no snapshot verifies: " + lastErr.Error()}
		}
		if seq != 0 {
			return usagef("no snapshot %d in %s", seq, dir)
		}
		return problemError{"no snapshot in " + dir}
	})
	c.Flags().Uint64Var(&seq, "seq", 0, "show the snapshot at this sequence number")
	return c
}

// printState prints JSON indented, or compact on one line.
func printState(w io.Writer, state json.RawMessage, compact bool) error {
	var buf bytes.Buffer
	var err error
	if compact {
		err = json.Compact(&buf, state)
	} else {
		err = json.Indent(&buf, state, "", "  ")
	}
	if err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

func newSnapVerify() *cobra.Command {
	return snapCmd(&cobra.Command{
		Use:   "verify DIR",
		Short: "Check every snapshot's checksum, size and sequence numbers",
		Long: `Read every snapshot in the folder whole and check it. Exit 0 when all
are sound; exit 1 naming each damaged one. A snapshot in the Rust crate's
layout has no checksum: it is checked to be JSON.`,
	}, "print the results as JSON", func(cmd *cobra.Command, dir string, s *minisnap.Store, infos []minisnap.Info, asJSON bool) error {
		type result struct {
			snapJSON
			Sound bool `json:"sound"`
		}
		var results []result
		bad := 0
		for _, info := range infos {
			r := result{snapJSON: describeSnap(info), Sound: info.Err == nil}
			if r.Sound {
				if _, err := loadJSON(s, info); err != nil {
					r.Sound, r.Error = false, err.Error()
				}
			}
			if !r.Sound {
				bad++
			}
			results = append(results, r)
		}
		out := cmd.OutOrStdout()
		if asJSON {
			if err := writeJSON(out, results); err != nil {
				return err
			}
		} else {
			for _, r := range results {
				if r.Sound {
					fmt.Fprintf(out, "ok: snapshot %d (%s, %s)\n", r.Seq, r.Codec, plural(r.Size, "byte"))
				}
			}
		}
		for _, r := range results {
			if !r.Sound {
				fmt.Fprintf(cmd.ErrOrStderr(), "damaged: snapshot %d: %s\n", r.Seq, r.Error)
			}
		}
		switch {
		case bad > 0:
			return problemError{fmt.Sprintf("%d of %s damaged", bad, plural(len(results), "snapshot"))}
		case len(results) == 0:
			return problemError{"no snapshot in " + dir}
		}
		return nil
	})
}
