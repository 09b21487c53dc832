// SPDX-License-Identifier: MIT OR Apache-2.0

package expvarstats_test

import (
	"encoding/json"
	"expvar"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/mini-go/mini/metrics/expvarstats"
	"github.com/mini-go/mini/ministore"
)

// The published variable follows the store, on /debug/vars too.
func TestPublishStore(t *testing.T) {
	s, err := ministore.Open[string](filepath.Join(t.TempDir(), "j.log"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := expvarstats.Publish("mini_test_store", s)
	if expvar.Get("mini_test_store") == nil {
		t.Fatal("not published")
	}
	read := func() map[string]any {
		t.Helper()
		rec := httptest.NewRecorder()
		expvar.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/vars", nil))
		var vars map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &vars); err != nil {
			t.Fatalf("/debug/vars: %v", err)
		}
		var st map[string]any
		if err := json.Unmarshal(vars["mini_test_store"], &st); err != nil {
			t.Fatalf("mini_test_store: %v in %s", err, vars["mini_test_store"])
		}
		return st
	}
	if st := read(); st["appends"] != 0.0 || st["segments"] != 1.0 {
		t.Fatalf("before any append: %v", st)
	}
	for range 4 {
		if _, err := s.Append("x"); err != nil {
			t.Fatal(err)
		}
	}
	st := read()
	lat, _ := st["fsync_latency"].(map[string]any)
	if st["appends"] != 4.0 || st["batches"] != 4.0 || lat["count"] != 4.0 {
		t.Fatalf("after 4 appends: %v", st)
	}
	var direct ministore.Stats
	if err := json.Unmarshal([]byte(v.String()), &direct); err != nil || direct.Appends != 4 {
		t.Fatalf("String() = %s, %v", v.String(), err)
	}
}
