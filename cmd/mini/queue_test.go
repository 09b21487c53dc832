// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mini-go/mini/miniqueue"
)

func TestQueueCommands(t *testing.T) {
	dir := t.TempDir()
	q, err := miniqueue.Open[string](dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c", "d", "e"} {
		if _, err := q.Push(v); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		m, err := q.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	// While the program has the queue open, mini reads it all the same;
	// commands that change it say it is open.
	r := mini(t, "queue", "stat", "--json", dir)
	var st map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("queue stat: %v %+v", err, r)
	}
	// The Ack of message 2 recorded the delivery of 3 for the next
	// receiver (prefetch): in flight, from the files' view.
	if st["len"] != 3.0 || st["consumers"].([]any)[0].(map[string]any)["in_flight"] != 1.0 {
		t.Fatalf("queue stat of an open queue: %v", st)
	}
	mini(t, "queue", "push", dir, "1").want(t, 1, "", "open in another process")
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	r = mini(t, "queue", "stat", "--json", dir)
	// snake_case keys like every other command, and only the figures the
	// folder holds (no counters that count since mini's own Open).
	st = nil
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("queue stat: %v %+v", err, r)
	}
	for _, k := range []string{"messages_journal", "consumers_journal"} {
		j := st[k].(map[string]any)
		if j["segments"] != 1.0 || j["bytes"].(float64) <= 0 || j["file_bytes"].(float64) < j["bytes"].(float64) {
			t.Fatalf("%s: %v", k, j)
		}
		delete(st, k)
	}
	// Close's checkpoint cut the messages every consumer resolved: the
	// queue starts at the lowest floor.
	want := map[string]any{"first_seq": 3.0, "last_seq": 5.0, "len": 3.0, "dead_letters": 0.0,
		"consumers": []any{map[string]any{"name": "", "lag": 3.0, "in_flight": 0.0, "floor": 3.0}}}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("queue stat --json:\n got %v\nwant %v", st, want)
	}
	mini(t, "queue", "stat", dir).want(t, 0, "(default)  3", "")
	mini(t, "queue", "peek", "--json", "-n", "2", dir).want(t, 0, "{\"seq\":3,\"value\":\"c\",\"deliveries\":0}\n{\"seq\":4,\"value\":\"d\",\"deliveries\":0}\n", "")
	mini(t, "queue", "peek", "-n", "2", dir).want(t, 0, "{\"seq\":3,\"value\":\"c\",\"deliveries\":0}\n{\"seq\":4,\"value\":\"d\",\"deliveries\":0}\n", "")
	mini(t, "queue", "peek", "--consumer", "nobody", dir).want(t, 2, "", `no consumer "nobody"`)
	mini(t, "queue", "stat", t.TempDir()).want(t, 2, "", "no queue at")
}
