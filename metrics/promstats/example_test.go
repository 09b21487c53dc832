// SPDX-License-Identifier: MIT OR Apache-2.0

package promstats_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mini-go/mini/metrics/promstats"
	"github.com/mini-go/mini/ministore"
)

// Register a Store's collector; every scrape (here: Gather) reads Stats.
func ExampleNewStoreCollector() {
	dir, _ := os.MkdirTemp("", "promstats")
	defer os.RemoveAll(dir)
	store, err := ministore.Open[string](filepath.Join(dir, "events.log"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(promstats.NewStoreCollector(store, "events", nil))
	store.AppendBatch("a", "b", "c")

	fams, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range fams {
		switch m := f.GetMetric()[0]; f.GetName() {
		case "mini_store_appends_total", "mini_store_batches_total":
			fmt.Println(f.GetName(), m.GetLabel()[0].GetValue(), m.GetCounter().GetValue())
		case "mini_store_fsync_seconds":
			fmt.Println(f.GetName(), "count", m.GetHistogram().GetSampleCount())
		}
	}
	// Output:
	// mini_store_appends_total events 3
	// mini_store_batches_total events 1
	// mini_store_fsync_seconds count 1
}
