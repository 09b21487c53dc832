// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mini-go/mini/ministore"
)

// The tests build the mini binary once and run it as a user would.
var miniBin string

func TestMain(m *testing.M) {
	if w := os.Getenv(envWorker); w != "" {
		os.Exit(runWorker(w, os.Getenv(envWorkerDir)))
	}
	dir, err := os.MkdirTemp("", "mini-cli-test-")
	if err != nil {
		panic(err)
	}
	miniBin = filepath.Join(dir, "mini")
	if out, err := exec.Command("go", "build", "-o", miniBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func mini(t *testing.T, args ...string) result {
	t.Helper()
	return miniIn(t, "", args...)
}

func (r result) want(t *testing.T, code int, stdoutHas, stderrHas string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout, stdoutHas) || !strings.Contains(r.stderr, stderrHas) {
		t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout containing %q, stderr containing %q",
			r.code, code, r.stdout, r.stderr, stdoutHas, stderrHas)
	}
}

const fixtures = "../../testdata/mini-rs"

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLogOnRustFixtures(t *testing.T) {
	rot := filepath.Join(fixtures, "journal-rotated", "rot.log")
	r := mini(t, "log", "cat", rot)
	r.want(t, 0, `{"seq":1,"rec":{"Set":{"value":0}}}`, "")
	if lines := strings.Count(r.stdout, "\n"); lines != 7 {
		t.Fatalf("cat printed %d lines, want 7", lines)
	}
	mini(t, "log", "cat", "--raw", "--from", "6", rot).want(t, 0, "{\"Set\":{\"value\":5}}\n{\"Set\":{\"value\":6}}\n", "")
	mini(t, "log", "verify", rot).want(t, 0, "ok: "+rot+": 7 records (1 to 7) in 3 files", "")
	r = mini(t, "log", "stat", "--json", rot)
	var st struct {
		Records  uint64 `json:"records"`
		LastSeq  uint64 `json:"last_seq"`
		Segments []struct {
			Format  string `json:"format"`
			Version string `json:"version"`
		} `json:"segments"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Records != 7 || st.LastSeq != 7 ||
		len(st.Segments) != 3 || st.Segments[0].Format != "plain" || st.Segments[0].Version != "0.1.4" {
		t.Fatalf("stat --json: %v %s", err, r.stdout)
	}
	mini(t, "log", "cat", filepath.Join(fixtures, "journal-plain", "counter.log")).
		want(t, 0, `{"seq":2,"rec":{"Inc":{"delta":25}}}`, "")
}

// A torn log: verify says torn, repair fixes it, verify then passes.
func TestLogTornVerifyRepair(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	copyFile(t, filepath.Join(fixtures, "journal-torn-tail", "journal.jsonl"), path)
	mini(t, "log", "verify", path).want(t, 1, "", "torn tail: "+path+" line 4, byte offset 69")
	r := mini(t, "log", "verify", "--json", path)
	if r.code != 1 || !strings.Contains(r.stdout, `"kind":"torn tail"`) || !strings.Contains(r.stdout, `"offset":69`) {
		t.Fatalf("verify --json: %+v", r)
	}
	mini(t, "log", "repair", path).want(t, 0, "cut "+path+" at byte offset 69: removed 12 bytes", "")
	mini(t, "log", "verify", path).want(t, 0, "ok: "+path+": 2 records (1 to 2) in 1 file", "")
	mini(t, "log", "repair", path).want(t, 0, "sound: "+path+" needs no repair", "")
	if b, _ := os.ReadFile(path + ".broken"); string(b) != `{"Inc":{"del` {
		t.Fatalf("saved cut bytes %q", b)
	}
}

func writeGoJournal(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.log")
	s, err := ministore.Open[map[string]int](path, &ministore.Options{MaxSegmentBytes: 400})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := s.Append(map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// A bad slot in the front bound: repair says it moved the file aside, not
// that it cut it.
func TestLogRepairBoundSlot(t *testing.T) {
	path := writeGoJournal(t, 20)
	s, err := ministore.Open[map[string]int](path, &ministore.Options{MaxSegmentBytes: 400})
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []uint64{5, 6} { // the second writes the slot at 4096
		if err := s.TruncateFront(cut); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path + ".front")
	if err != nil || len(b) != 8192 {
		t.Fatalf("bound file: %d bytes, %v", len(b), err)
	}
	b[4096+30] ^= 2
	if err := os.WriteFile(path+".front", b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := mini(t, "log", "repair", path)
	r.want(t, 0, "moved aside "+path+".front to "+path+".front.broken\n", "")
	if strings.Contains(r.stdout, "cut ") {
		t.Fatalf("repair of a bad bound slot reports a cut:\n%s", r.stdout)
	}
}

func TestLogOnGoJournal(t *testing.T) {
	path := writeGoJournal(t, 20)
	r := mini(t, "log", "cat", "--from", "5", "--to", "7", path)
	r.want(t, 0, "{\"seq\":5,\"rec\":{\"n\":5}}\n{\"seq\":6,\"rec\":{\"n\":6}}\n{\"seq\":7,\"rec\":{\"n\":7}}\n", "")
	if strings.Count(r.stdout, "\n") != 3 {
		t.Fatalf("cat --from 5 --to 7: %s", r.stdout)
	}
	mini(t, "log", "tail", "-n", "2", "--raw", path).want(t, 0, "{\"n\":19}\n{\"n\":20}\n", "")
	r = mini(t, "log", "stat", path)
	r.want(t, 0, "records, sequence numbers 1 to 20", "")
	if !strings.Contains(r.stdout, "events.log.001") || !strings.Contains(r.stdout, "v1") {
		t.Fatalf("stat: %s", r.stdout)
	}
}

// A corrupted log: verify names the file, line and offset.
func TestLogCorruptVerify(t *testing.T) {
	path := writeGoJournal(t, 20)
	seg := path + ".002"
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a bit in the third line.
	off := bytes.IndexByte(b, '\n') + 1
	off += bytes.IndexByte(b[off:], '\n') + 1
	b[off+12] ^= 2
	os.WriteFile(seg, b, 0o644)
	r := mini(t, "log", "verify", path)
	r.want(t, 1, "", "corrupt: "+seg+" line 3, byte offset "+itoa(off)+": checksum mismatch")
	if strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("not one line: %q", r.stderr)
	}
	mini(t, "log", "cat", path).want(t, 1, `{"seq":1,`, "checksum mismatch")
	mini(t, "log", "repair", path).want(t, 0, "found corrupt: "+seg, "")
	mini(t, "log", "verify", path).want(t, 0, "ok: ", "")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestTailFollow(t *testing.T) {
	path := writeGoJournal(t, 3)
	cmd := exec.Command(miniBin, "log", "tail", "-f", "--interval", "20ms", "-n", "1", path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("tail -f printed nothing")
		}
		return ""
	}
	if l := next(); l != `{"seq":3,"rec":{"n":3}}` {
		t.Fatalf("first line %q", l)
	}
	// Another writer appends while tail follows.
	s, err := ministore.Open[map[string]int](path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 4; i <= 6; i++ {
		if _, err := s.Append(map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
		if l, want := next(), `{"seq":`+itoa(i)+`,"rec":{"n":`+itoa(i)+`}}`; l != want {
			t.Fatalf("followed %q, want %q", l, want)
		}
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"log", "cat", "--bogus", "x"}, "mini: unknown flag: --bogus"},
		{[]string{"log", "cat", filepath.Join(dir, "nope.log")}, "mini: no journal at "},
		{[]string{"log", "verify", dir}, "is a folder, not a journal"},
		{[]string{"log", "cat"}, "accepts 1 arg(s), received 0"},
		{[]string{"log", "cat", "a", "b"}, "accepts 1 arg(s), received 2"},
		{[]string{"bogus"}, `unknown command "bogus" for "mini"`},
		{[]string{"log", "bogus"}, `unknown command "bogus" for "mini log"`},
		{[]string{"log", "cat", "--from", "x", "f"}, `invalid argument "x"`},
		{[]string{"bench", "--dir", filepath.Join(dir, "nope")}, "is not a folder"},
	} {
		r := mini(t, tc.args...)
		r.want(t, 2, "", tc.stderr)
		if strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "goroutine") {
			t.Fatalf("%v: not a one-line error: %q", tc.args, r.stderr)
		}
	}
	mini(t, "--help").want(t, 0, "Exit codes:", "")
	mini(t, "completion", "bash").want(t, 0, "bash completion", "")
}

func TestBench(t *testing.T) {
	r := mini(t, "bench", "--dir", t.TempDir(), "--duration", "100ms", "--json")
	var rows []benchRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || r.code != 0 || len(rows) != 4 {
		t.Fatalf("bench: %v %+v", err, r)
	}
	for _, row := range rows {
		if row.Ops <= 0 || row.PerSec <= 0 {
			t.Fatalf("row %+v", row)
		}
	}
	if rows[3].Ops != 200_000 {
		t.Fatalf("replay read %d records", rows[3].Ops)
	}
	mini(t, "bench", "--dir", t.TempDir(), "--duration", "50ms").want(t, 0, "append x64", "")
}

// A journal whose records hold <, >, & and U+2028, as Append writes them
// (unescaped) and as older versions did (escaped): verify and repair
// find it sound, and cat prints each record's JSON as the journal holds
// it (not re-escaped by json.Marshal).
func TestLogHTMLCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s, err := ministore.Open[json.RawMessage](path, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := []string{`{"html":"<b>&</b>"}`, `{"old":"\u003cb\u003e"}`, "{\"ls\":\"a\u2028b\",\"esc\":\"\\u2029\"}"}
	for _, r := range recs {
		if _, err := s.Append(json.RawMessage(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mini(t, "log", "verify", path).want(t, 0, "ok: "+path+": 3 records (1 to 3) in 1 file", "")
	mini(t, "log", "repair", path).want(t, 0, "needs no repair", "")
	r := mini(t, "log", "cat", path)
	for i, rec := range recs {
		r.want(t, 0, `{"seq":`+string(rune('1'+i))+`,"rec":`+rec+"}\n", "")
	}
	r = mini(t, "log", "cat", "--raw", path)
	r.want(t, 0, strings.Join(recs, "\n")+"\n", "")
}
