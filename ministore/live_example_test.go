// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/ministore"
)

// Stat describes a journal that a Store (here in this process; usually
// another) has open and is writing.
func ExampleStat() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.log")
	s, err := ministore.Open[string](path, &ministore.Options{MaxSegmentBytes: 200})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for range 10 {
		if _, err := s.Append("an event of some length"); err != nil {
			log.Fatal(err)
		}
	}
	info, err := ministore.Stat(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(info.Segments), "files,", info.Records, "records,", info.FirstSeq, "to", info.LastSeq)
	// Output: 4 files, 10 records, 1 to 10
}
