package main

import (
	"context"
	"encoding/json"
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
	// While the program has the queue open, mini says so.
	mini(t, "queue", "stat", dir).want(t, 1, "", "open in another process")
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	r := mini(t, "queue", "stat", "--json", dir)
	var st miniqueue.Stats
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("queue stat: %v %+v", err, r)
	}
	if st.LastSeq != 5 || st.Len != 3 || len(st.Consumers) != 1 || st.Consumers[0].Floor != 3 || st.Consumers[0].Lag != 3 {
		t.Fatalf("stats %+v", st)
	}
	mini(t, "queue", "stat", dir).want(t, 0, "(default)  3", "")
	mini(t, "queue", "peek", "-n", "2", dir).want(t, 0, "{\"seq\":3,\"value\":\"c\"}\n{\"seq\":4,\"value\":\"d\"}\n", "")
	mini(t, "queue", "peek", "--consumer", "nobody", dir).want(t, 2, "", `no consumer "nobody"`)
	mini(t, "queue", "stat", t.TempDir()).want(t, 2, "", "no queue at")
}
