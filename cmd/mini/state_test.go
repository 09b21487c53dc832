// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/cborcodec"
	"github.com/mini-go/mini/ministate"
)

type counter struct {
	Value int `json:"value"`
}

type inc struct {
	By int `json:"by"`
}

func (i inc) Apply(c *counter) { c.Value += i.By }

// writeStateFolder applies 1..5, snapshots (at 5), applies 6..7, and
// snapshots with CBOR too when cbor is set.
func writeStateFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	m, err := ministate.Open[counter, inc](dir, "counter.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := m.Apply(inc{i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.CreateSnapshot(); err != nil {
		t.Fatal(err)
	}
	for i := 6; i <= 7; i++ {
		if _, err := m.Apply(inc{i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestStateShowAndCompact(t *testing.T) {
	dir := writeStateFolder(t)
	r := mini(t, "state", "show", "--json", dir)
	var shown struct {
		SnapshotSeq uint64          `json:"snapshot_seq"`
		State       json.RawMessage `json:"snapshot_state"`
		Applied     bool            `json:"state_applied"`
		Note        string          `json:"note"`
		Tail        []struct {
			Seq uint64          `json:"seq"`
			Rec json.RawMessage `json:"rec"`
		} `json:"tail"`
		Sequence uint64 `json:"sequence"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || r.code != 0 {
		t.Fatalf("state show: %v %+v", err, r)
	}
	if shown.SnapshotSeq != 5 || string(shown.State) != `{"value":15}` || len(shown.Tail) != 2 ||
		shown.Tail[1].Seq != 7 || string(shown.Tail[1].Rec) != `{"by":7}` || shown.Sequence != 7 ||
		shown.Applied || !strings.Contains(shown.Note, "with the 2 tail records applied by the program's Apply") {
		t.Fatalf("state show: %s", r.stdout)
	}

	mini(t, "state", "compact", dir).want(t, 0, "dropped records 1 to 5 (covered by snapshot 5); the journal holds 6 to 7", "")
	mini(t, "state", "compact", dir).want(t, 0, "nothing to compact", "")
	r = mini(t, "state", "show", "--json", dir)
	if !strings.Contains(r.stdout, `"tail":[{"seq":6,"rec":{"by":6}},{"seq":7,"rec":{"by":7}}],"sequence":7`) {
		t.Fatalf("after compact: %s", r.stdout)
	}
	// The program recovers the same state from the compacted folder.
	m, err := ministate.Open[counter, inc](dir, "counter.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	m.View(func(c *counter) {
		if c.Value != 28 {
			t.Errorf("recovered %d, want 28", c.Value)
		}
	})
	// While the program has the folder open, compact refuses.
	mini(t, "state", "compact", dir).want(t, 1, "", "open in another process")
	m.Close()

	// A journal compacted behind a snapshot that is then lost: a gap.
	gap := writeStateFolder(t)
	mini(t, "state", "compact", gap).want(t, 0, "dropped records 1 to 5", "")
	s, _ := minisnap.Open(gap, nil)
	for _, i := range mustList(t, s) {
		os.RemoveAll(filepath.Dir(i.Path))
	}
	s.Close()
	mini(t, "state", "show", gap).want(t, 1, "", "gap: the journal starts at record 6, but the state needs it from 1")

	mini(t, "state", "show", t.TempDir()).want(t, 0, `"snapshot_state": null`, "")
	mini(t, "state", "show", t.TempDir()).want(t, 0, `"note": "no snapshot and no journal records: the state is the program's zero value"`, "")
	mini(t, "state", "show", filepath.Join(dir, "nope")).want(t, 2, "", "no folder at")

	// No snapshot but a journal: snapshot_state null is said, not silent.
	nosnap := writeStateFolder(t)
	s, _ = minisnap.Open(nosnap, nil)
	for _, i := range mustList(t, s) {
		os.RemoveAll(filepath.Dir(i.Path))
	}
	s.Close()
	mini(t, "state", "show", "--json", nosnap).want(t, 0,
		`"snapshot_state":null,"state_applied":false,"tail":[{"seq":1,"rec":{"by":1}}`, "")
	mini(t, "state", "show", "--json", nosnap).want(t, 0,
		`"note":"no snapshot: the state is the program's zero value with the 7 tail records applied by the program's Apply`, "")
}

func TestStateCompactJSON(t *testing.T) {
	dir := writeStateFolder(t)
	r := mini(t, "state", "compact", "--json", dir)
	var got compactResult
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("state compact --json: %v %+v", err, r)
	}
	if got.SnapshotSeq == nil || *got.SnapshotSeq != 5 || !got.Dropped || got.DroppedFrom != 1 || got.DroppedTo != 5 ||
		got.FirstSeq != 6 || got.LastSeq != 7 || got.Note != "" {
		t.Fatalf("state compact --json: %s", r.stdout)
	}
	mini(t, "state", "compact", "--json", dir).want(t, 0,
		`"dropped":false,"dropped_from":0,"dropped_to":0,"first_seq":6,"last_seq":7,"note":"nothing to compact"}`, "")
	mini(t, "state", "compact", "--json", t.TempDir()).want(t, 2, "", "no journal")
}

func mustList(t *testing.T, s *minisnap.Store) []minisnap.Info {
	t.Helper()
	infos, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	return infos
}

func TestSnapCommands(t *testing.T) {
	dir := writeStateFolder(t)
	// A second, CBOR snapshot at 7.
	s, err := minisnap.Open(dir, &minisnap.Options{Codec: cborcodec.New()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(counter{Value: 28}, 7); err != nil {
		t.Fatal(err)
	}
	infos := mustList(t, s)
	s.Close()

	r := mini(t, "snap", "ls", dir)
	r.want(t, 0, "cbor", "")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "7 ") {
		t.Fatalf("snap ls:\n%s", r.stdout)
	}
	mini(t, "snap", "show", "--json", dir).want(t, 0, `{"value":28}`, "")
	mini(t, "snap", "show", "--json", "--seq", "5", dir).want(t, 0, `{"value":15}`, "")
	mini(t, "snap", "show", "--seq", "6", dir).want(t, 2, "", "no snapshot 6")
	mini(t, "snap", "verify", dir).want(t, 0, "ok: snapshot 7 (cbor", "")

	// Damage the newest: verify names it, show falls back to the older one.
	b, _ := os.ReadFile(infos[0].Path)
	b[len(b)-1] ^= 0x01
	os.WriteFile(infos[0].Path, b, 0o644)
	mini(t, "snap", "verify", dir).want(t, 1, "ok: snapshot 5", "damaged: snapshot 7: ")
	mini(t, "snap", "show", "--json", dir).want(t, 0, `{"value":15}`, "skipping snapshot 7")
	mini(t, "snap", "ls", filepath.Join(dir, "nope")).want(t, 2, "", "no folder at")
}

// A folder in the current Rust crates' layout: a six-digit segment and a
// numbered snapshot snapshot_<seq>.json holding {"seq":N,"state":...}.
func TestStateShowRustCurrentLayout(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"test.wal.jsonl.000001":              "// MINISTORE JOURNAL v0.1.4\n{\"to\":10}\n{\"to\":20}\n",
		"test.wal.jsonl":                     "// MINISTORE JOURNAL v0.1.4\n{\"to\":30}\n",
		"snapshot_00000000000000000002.json": "{\n  \"seq\": 2,\n  \"state\": {\n    \"version\": 20\n  }\n}",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mini(t, "state", "show", "--json", dir).want(t, 0,
		`"snapshot_seq":2,"snapshot":"`+filepath.Join(dir, "snapshot_00000000000000000002.json")+`","snapshot_state":{"version":20},"state_applied":false,"tail":[{"seq":3,"rec":{"to":30}}],"sequence":3,"note":"the state is snapshot_state with the 1 tail record applied`, "")
}

func TestStateStat(t *testing.T) {
	dir := writeStateFolder(t)
	r := mini(t, "state", "stat", "--json", dir)
	var st stateStat
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("state stat --json: %v %+v", err, r)
	}
	if st.Journal == nil || st.Journal.Records != 7 || st.Journal.FirstSeq != 1 || st.Journal.LastSeq != 7 || st.Journal.Segments != 1 ||
		st.SnapshotSeq == nil || *st.SnapshotSeq != 5 || st.RecordsAfter != 2 || len(st.Snapshots) != 1 || st.Snapshots[0].Codec != "json" {
		t.Fatalf("state stat: %+v", st)
	}
	mini(t, "state", "stat", dir).want(t, 0, "newest snapshot at 5, 2 records after it", "")
	empty := t.TempDir()
	mini(t, "state", "stat", "--json", empty).want(t, 0, `"journal":null,"snapshot_seq":null,"records_after_snapshot":0,"snapshots":[]`, "")
}
