// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/ministore"
)

func ExampleFollow() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.log")
	store, _ := ministore.Open[string](path, nil)
	defer store.Close()
	store.Append("created")
	store.Append("paid")

	// Follow yields the records written so far, then waits for new ones
	// (here appended by the loop itself; usually by another goroutine or
	// process) until ctx is done.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for rec, err := range ministore.Follow[string](ctx, path, 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Seq, rec.Value)
		switch rec.Value {
		case "paid":
			store.Append("shipped")
		case "shipped":
			cancel() // the loop ends without an error
		}
	}

	// Records before the first one left are an error, not skipped.
	store.TruncateFront(3)
	for _, err := range ministore.Records[string](path, 1) {
		var te *ministore.TruncatedError
		if errors.As(err, &te) {
			fmt.Println("truncated: first left is", te.First)
		}
	}
	// Output:
	// 1 created
	// 2 paid
	// 3 shipped
	// truncated: first left is 3
}
