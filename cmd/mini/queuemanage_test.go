// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/mini-go/mini/miniqueue"
)

// miniIn runs mini with stdin as its standard input.
func miniIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(miniBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// queueValues reads every message of the queue in dir, in order.
func queueValues(t *testing.T, dir string) []string {
	t.Helper()
	v, err := miniqueue.OpenReadOnly[json.RawMessage](dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	if len(v.Consumers()) == 0 {
		r := mini(t, "queue", "stat", "--json", dir)
		t.Fatalf("no consumer: %s", r.stdout)
	}
	for m, err := range v.Peek("") {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(m.Raw))
	}
	return out
}

func TestQueuePush(t *testing.T) {
	dir := t.TempDir()
	mini(t, "queue", "push", dir, "1").want(t, 2, "", "no queue at")
	mini(t, "queue", "push", "--create", "--json", dir, `{"a":1}`, `"b"`).want(t, 0, `{"dir":"`+dir+`","pushed":2,"first_seq":1,"last_seq":2}`, "")
	miniIn(t, "3\n\n[4]\n", "queue", "push", dir).want(t, 0, "pushed 2 messages, 3 to 4", "")
	mini(t, "queue", "push", "--string", dir, "five", "six seven").want(t, 0, "pushed 2 messages, 5 to 6", "")
	// A line that is not JSON stops the push; what came before is in.
	miniIn(t, "8\nnot json\n9\n", "queue", "push", dir).want(t, 2, "", "line 2 is not JSON")
	mini(t, "queue", "push", dir, "{").want(t, 2, "", "message 1 is not JSON")

	// A consumer to read them with.
	q, err := miniqueue.Open[json.RawMessage](dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	q.Consumer("")
	q.Close()
	got := strings.Join(queueValues(t, dir), " ")
	if want := `{"a":1} "b" 3 [4] "five" "six seven" 8`; got != want {
		t.Fatalf("queue holds %s, want %s", got, want)
	}
}

func TestQueuePurge(t *testing.T) {
	dir := t.TempDir()
	q, err := miniqueue.Open[int](dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	q.Consumer("")
	for i := range 10 {
		if _, err := q.Push(i); err != nil {
			t.Fatal(err)
		}
	}
	mini(t, "queue", "purge", "--all", dir).want(t, 1, "", "open in another process")
	q.Close()
	mini(t, "queue", "purge", dir).want(t, 2, "", "give --all or --up-to")
	mini(t, "queue", "purge", "--all", "--up-to", "3", dir).want(t, 2, "", "give --all or --up-to")
	mini(t, "queue", "purge", "--up-to", "4", "--json", dir).want(t, 0, `{"dir":"`+dir+`","up_to":4,"len_before":10,"len_after":6}`, "")
	if got := strings.Join(queueValues(t, dir), " "); got != "4 5 6 7 8 9" {
		t.Fatalf("after purge --up-to 4: %s", got)
	}
	mini(t, "queue", "purge", "--all", dir).want(t, 0, "purged the messages up to 10: 0 messages left (6 before)", "")
	if got := queueValues(t, dir); len(got) != 0 {
		t.Fatalf("after purge --all: %v", got)
	}
}

func TestQueueDead(t *testing.T) {
	dir := t.TempDir()
	q, err := miniqueue.Open[string](dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "poison", "c"} {
		if _, err := q.Push(v); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		m, err := q.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if m.Value == "poison" {
			err = m.Term("cannot parse")
		} else {
			err = m.Ack()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// list reads beside the program; replay needs the lock.
	r := mini(t, "queue", "dead", "list", "--json", dir)
	var d deadJSON
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || r.code != 0 {
		t.Fatalf("dead list --json: %v %+v", err, r)
	}
	if d.ID != 1 || d.Seq != 2 || d.Consumer != "" || string(d.Value) != `"poison"` || !strings.Contains(d.Reason, "cannot parse") || d.Attempts != 1 {
		t.Fatalf("dead letter %+v", d)
	}
	mini(t, "queue", "dead", "list", dir).want(t, 0, "1   (default)  2    1", "")
	mini(t, "queue", "dead", "replay", "--all", dir).want(t, 1, "", "open in another process")
	q.Close()
	mini(t, "queue", "dead", "replay", dir).want(t, 2, "", "give --all or the IDs")
	mini(t, "queue", "dead", "replay", dir, "x").want(t, 2, "", "not a dead letter ID")
	mini(t, "queue", "dead", "replay", dir, "7").want(t, 1, "", "dead letter not found")
	mini(t, "queue", "dead", "replay", "--json", dir, "1").want(t, 0, `{"dir":"`+dir+`","replayed":[1]}`, "")
	mini(t, "queue", "dead", "list", "--json", dir).want(t, 0, "", "")
	if r := mini(t, "queue", "dead", "list", "--json", dir); r.stdout != "" {
		t.Fatalf("dead letters left: %s", r.stdout)
	}
	if got := strings.Join(queueValues(t, dir), " "); got != `"poison"` {
		t.Fatalf("after replay the queue holds %s", got)
	}
	mini(t, "queue", "dead", "replay", "--all", "--json", dir).want(t, 0, `"replayed":[]`, "")
}
