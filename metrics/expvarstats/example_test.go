// SPDX-License-Identifier: MIT OR Apache-2.0

package expvarstats_test

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/metrics/expvarstats"
	"github.com/mini-go/mini/ministore"
)

// Publish a Store's figures on /debug/vars (expvar's handler, which
// net/http/pprof-style servers mount on http.DefaultServeMux).
func ExamplePublish() {
	dir, _ := os.MkdirTemp("", "expvarstats")
	defer os.RemoveAll(dir)
	store, err := ministore.Open[string](filepath.Join(dir, "events.log"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	v := expvarstats.Publish("events_journal", store)
	store.Append("a")
	store.Append("b")

	var st struct {
		Appends uint64 `json:"appends"`
		Fsyncs  uint64 `json:"fsyncs"`
	}
	if err := json.Unmarshal([]byte(v.String()), &st); err != nil {
		log.Fatal(err)
	}
	fmt.Println("appends:", st.Appends, "fsyncs:", st.Fsyncs)
	// Output:
	// appends: 2 fsyncs: 2
}
