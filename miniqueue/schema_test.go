// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministore"
)

func TestPushInvalidUTF8Refused(t *testing.T) {
	type msg struct {
		Body string            `json:"body"`
		Tags map[string]string `json:"tags,omitempty"`
	}
	tests := []struct {
		name string
		m    msg
		ok   bool
	}{
		{"valid", msg{Body: "héllo"}, true},
		{"a real U+FFFD", msg{Body: "\ufffd"}, true},
		{"the text \\ufffd", msg{Body: `\ufffd`}, true},
		{"a lone 0xff", msg{Body: "a\xffb"}, false},
		{"a cut rune in a map key", msg{Tags: map[string]string{"\xe2\x82": "x"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := openT[msg](t, t.TempDir(), nil)
			_, err := q.Push(tt.m)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				got, err := q.Receive(ctx)
				if err != nil || got.Value.Body != tt.m.Body {
					t.Fatalf("Receive = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, ministore.ErrInvalidUTF8) {
				t.Fatalf("Push = %v, want ministore.ErrInvalidUTF8", err)
			}
			if _, _, err := q.PushBatch(msg{Body: "fine"}, tt.m); !errors.Is(err, ministore.ErrInvalidUTF8) {
				t.Fatalf("PushBatch = %v, want ministore.ErrInvalidUTF8", err)
			}
			if _, _, err := q.PushWithID("id", tt.m); !errors.Is(err, ministore.ErrInvalidUTF8) {
				t.Fatalf("PushWithID = %v, want ministore.ErrInvalidUTF8", err)
			}
			if _, err := q.PushAt(time.Now(), tt.m); !errors.Is(err, ministore.ErrInvalidUTF8) {
				t.Fatalf("PushAt = %v, want ministore.ErrInvalidUTF8", err)
			}
			if st := q.Stats(); st.LastSeq != 0 {
				t.Fatalf("refused messages were written: %+v", st)
			}
		})
	}
}

// The queue's journals record their schemas, so another program's
// ministore.Open of them is refused before it appends anything.
func TestJournalsRecordSchema(t *testing.T) {
	dir := t.TempDir()
	q := openT[string](t, dir, nil)
	if _, err := q.Push("x"); err != nil {
		t.Fatal(err)
	}
	q.Close()
	for _, f := range []string{messagesFile, consumersFile} {
		_, err := ministore.Open[json.RawMessage](filepath.Join(dir, f), &ministore.Options{Logger: testutil.Quiet()})
		if !errors.Is(err, ministore.ErrSchema) {
			t.Fatalf("ministore.Open(%s) = %v, want ErrSchema", f, err)
		}
	}
	openT[string](t, dir, nil) // and the queue itself opens again
}
