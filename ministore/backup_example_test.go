// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/ministore"
)

// A backup taken while the journal is open, then restored by opening the
// copy.
func ExampleStore_Backup() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	store, err := ministore.Open[string](filepath.Join(dir, "events.log"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	for _, e := range []string{"created", "paid", "shipped"} {
		if _, err := store.Append(e); err != nil {
			log.Fatal(err)
		}
	}

	info, err := store.Backup(filepath.Join(dir, "backup"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("copied records %d to %d in %d file\n", info.First, info.Last, info.Files)

	// Restore: open the copy (here in place) as the journal.
	restored, err := ministore.Open[string](info.Path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer restored.Close()
	for rec, err := range restored.All(0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Seq, rec.Value)
	}
	// Output:
	// copied records 1 to 3 in 1 file
	// 1 created
	// 2 paid
	// 3 shipped
}
