// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// payloads returns the records of a journal as strings.
func payloads(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for rec, err := range ministore.Records[json.RawMessage](path, 0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(rec.Value))
	}
	return out
}

// TestJournalFormat pins the records the queue writes, as documented in
// doc.go.
func TestJournalFormat(t *testing.T) {
	dir := t.TempDir()
	type order struct {
		ID int `json:"id"`
	}
	q := openT[order](t, dir, nil)
	mustPush(t, q, order{1}, order{2})
	c := q.Consumer("")
	mustAck(t, recvT(t, c))
	recvT(t, c) // left in flight
	q.Consumer("audit")
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	// Close's checkpoint cut both journals exactly: the messages before
	// the lowest floor, the consumer records before the checkpoint.
	for name, first := range map[string]uint64{"messages.log": 2, "consumers.log": 6} {
		p := filepath.Join(dir, name)
		if f, _, err := ministore.Bounds(p); err != nil || f != first {
			t.Fatalf("%s starts at %d, %v; want %d", name, f, err, first)
		}
		// The records below the cut are still in the file: read them all.
		if err := os.Remove(p + ".front"); err != nil {
			t.Fatal(err)
		}
	}
	msgs := payloads(t, filepath.Join(dir, "messages.log"))
	if want := []string{`{"v":{"id":1}}`, `{"v":{"id":2}}`}; !slices.Equal(msgs, want) {
		t.Fatalf("messages.log holds %q, want %q", msgs, want)
	}
	cons := payloads(t, filepath.Join(dir, "consumers.log"))
	want := []string{
		`{"op":"new","from":1}`,
		`{"op":"deliver","seq":1,"n":1}`,
		`{"op":"ack","seq":1}`,
		`{"op":"deliver","seq":2,"n":1}`, // written with the ack (prefetch); Receive writes nothing
		`{"op":"new","c":"audit","from":2}`,
		`{"op":"checkpoint","base":2,"last":2,"consumers":[{"c":"","floor":2,"next":3,"attempts":[[2,1]]},{"c":"audit","floor":2,"next":2}]}`,
	}
	if !slices.Equal(cons, want) {
		t.Fatalf("consumers.log holds\n%s\nwant\n%s", strings.Join(cons, "\n"), strings.Join(want, "\n"))
	}
}

// TestBadConsumerRecords appends records that must not be accepted: Open
// fails with a *RecordError matching ErrCorrupt, naming the record.
func TestBadConsumerRecords(t *testing.T) {
	tests := []struct{ name, rec string }{
		{"unknown operation", `{"op":"bogus"}`},
		{"not an object", `[1,2]`},
		{"wrong type", `{"op":"ack","seq":"one"}`},
		{"deliver without seq", `{"op":"deliver","n":1}`},
		{"deliver without count", `{"op":"deliver","seq":1}`},
		{"ack without seq", `{"op":"ack"}`},
		{"new without start", `{"op":"new","c":"x"}`},
		{"checkpoint without base", `{"op":"checkpoint","consumers":[]}`},
		{"checkpoint without consumers", `{"op":"checkpoint","base":1}`},
		{"floor after next", `{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":3,"next":2}]}`},
		{"bad span", `{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":3,"done":[[2,1]]}]}`},
		{"span beyond the end", `{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":3,"done":[[5,5]]}]}`},
		{"span below floor", `{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":2,"next":3,"done":[[1,1]]}]}`},
		{"overlapping spans", `{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":3,"done":[[2,2],[2,3]]}]}`},
		{"attempts outside the window", `{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":2,"attempts":[[5,1]]}]}`},
		{"zero attempts", `{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":2,"attempts":[[1,0]]}]}`},
		{"term without seq", `{"op":"term","n":1}`},
		{"term entry outside the window", `{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":2,"term":[2]}]}`},
		{"consumer twice", `{"op":"checkpoint","base":1,"consumers":[{"c":"a","floor":1,"next":1},{"c":"a","floor":1,"next":1}]}`},
		// Valid records that contradict the message journal (3 messages).
		{"delivery beyond the end", `{"op":"deliver","seq":4,"n":1}`},
		{"next beyond the end", `{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":9}]}`},
		{"base beyond the end", `{"op":"checkpoint","base":9,"consumers":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := vfs.NewMem()
			q := memQueue[int](t, mem, Options{})
			q.Consumer("")
			mustPush(t, q, 1, 2, 3)
			q.Close()
			s, err := ministore.Open[json.RawMessage]("/q/consumers.log", &ministore.Options{FS: mem, Logger: testutil.Quiet(), Schema: ministore.AnySchema})
			if err != nil {
				t.Fatal(err)
			}
			seq, err := s.Append(json.RawMessage(tt.rec))
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			_, err = Open[int]("/q", withFS(Options{}, mem))
			var re *RecordError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &re) || !strings.HasSuffix(re.Journal, "consumers.log") {
				t.Fatalf("Open = %v, want a *RecordError matching ErrCorrupt", err)
			}
			if re.Seq != seq && re.Seq != 0 {
				t.Fatalf("error names record %d, the bad one is %d", re.Seq, seq)
			}
			if !strings.HasPrefix(err.Error(), "miniqueue: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

// Damage to the journal files themselves is ministore's to report.
func TestDamagedConsumerJournal(t *testing.T) {
	mem := vfs.NewMem()
	q := memQueue[int](t, mem, Options{})
	q.Consumer("")
	mustPush(t, q, 1, 2, 3)
	for range 3 {
		mustAck(t, recvT(t, q.Consumer("")))
	}
	q.Close()
	data, err := vfs.ReadFile(mem, "/q/consumers.log")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), `"op":"ack"`)
	f, _ := mem.OpenFile("/q/consumers.log", os.O_RDWR, 0)
	f.WriteAt([]byte("X"), int64(i+2))
	f.Sync()
	f.Close()
	if _, err := Open[int]("/q", withFS(Options{}, mem)); !errors.Is(err, ministore.ErrCorrupt) {
		t.Fatalf("Open of a damaged consumer journal = %v, want ministore.ErrCorrupt", err)
	}
}

func TestRangeSet(t *testing.T) {
	tests := []struct {
		adds  []uint64
		floor uint64
		spans [][2]uint64 // after popFrom(floor) until it stops
		next  uint64      // the floor after
	}{
		{nil, 1, [][2]uint64{}, 1},
		{[]uint64{1, 2, 3}, 1, [][2]uint64{}, 4},
		{[]uint64{3, 1, 2}, 1, [][2]uint64{}, 4},
		{[]uint64{2, 4, 3}, 1, [][2]uint64{{2, 4}}, 1},
		{[]uint64{5, 7, 6, 9}, 1, [][2]uint64{{5, 7}, {9, 9}}, 1},
		{[]uint64{5, 7, 6, 9, 8}, 5, [][2]uint64{}, 10},
		{[]uint64{10, 2, 2, 10, 3}, 2, [][2]uint64{{10, 10}}, 4},
	}
	for _, tt := range tests {
		var rs rangeSet
		for _, a := range tt.adds {
			rs.add(a)
		}
		for _, a := range tt.adds {
			if !rs.contains(a) {
				t.Fatalf("%v: %d missing", tt.adds, a)
			}
		}
		floor := rs.popFrom(tt.floor)
		got := rs.spans()
		var total uint64
		for _, sp := range got {
			total += sp[1] - sp[0] + 1
		}
		if floor != tt.next || !slices.Equal(got, tt.spans) || total != rs.total {
			t.Fatalf("adds %v, floor %d: got floor %d spans %v total %d; want floor %d spans %v",
				tt.adds, tt.floor, floor, got, rs.total, tt.next, tt.spans)
		}
		var gaps []uint64
		rs.gaps(floor, 12, func(s uint64) { gaps = append(gaps, s) })
		for _, g := range gaps {
			if rs.contains(g) {
				t.Fatalf("gap %d is in the set", g)
			}
		}
		if uint64(len(gaps))+rs.total != 12-floor {
			t.Fatalf("adds %v: %d gaps below 12 with %d in the set above floor %d", tt.adds, len(gaps), rs.total, floor)
		}
	}
}

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		in       string
		value    string
		targeted bool
		to       string
		dead     uint64
		bad      bool
	}{
		{`{"v":1}`, `1`, false, "", 0, false},
		{`{"v":{"a":[1,2]}}`, `{"a":[1,2]}`, false, "", 0, false},
		{`{"v":"}"}`, `"}"`, false, "", 0, false},
		{`{"to":"a","dead":5,"v":[1]}`, `[1]`, true, "a", 5, false},
		{`{"to":"","v":null}`, `null`, true, "", 0, false},
		{`{"v":1,"to":"b"}`, `1`, true, "b", 0, false}, // hand-edited order
		{` {"v" : 2 }`, `2`, false, "", 0, false},
		{`{"x":1}`, "", false, "", 0, true},
		{`{"v":`, "", false, "", 0, true},
		{`7`, "", false, "", 0, true},
	}
	for _, tt := range tests {
		env, err := parseEnvelope([]byte(tt.in))
		if (err != nil) != tt.bad {
			t.Fatalf("%s: err %v", tt.in, err)
		}
		if err != nil {
			continue
		}
		if string(env.value) != tt.value || env.targeted != tt.targeted || env.to != tt.to || env.deadID != tt.dead {
			t.Fatalf("%s: got %+v (value %s)", tt.in, env, env.value)
		}
	}
	if got := string(appendTargetedEnvelope(nil, "q\"x", 3, []byte(`{}`))); got != `{"to":"q\"x","dead":3,"v":{}}` {
		t.Fatalf("targeted envelope %s", got)
	}
}
