// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/mini-go/mini/miniqueue"
)

// A monitor looks at a queue that the program has open (in this process
// here; usually another): OpenReadOnly takes no lock and writes nothing.
func ExampleOpenReadOnly() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)
	q, err := miniqueue.Open[Order](dir, &miniqueue.Options{Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	for i := 1; i <= 3; i++ {
		if _, err := q.Push(Order{ID: i, Item: "tea", Count: i}); err != nil {
			log.Fatal(err)
		}
	}
	m, err := q.Receive(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Ack(); err != nil {
		log.Fatal(err)
	}

	v, err := miniqueue.OpenReadOnly[Order](dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	st := v.Stats()
	fmt.Println("messages", st.FirstSeq, "to", st.LastSeq, "unacknowledged", st.Len)
	for p, err := range v.Peek("") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("waiting:", p.Seq, p.Value.ID)
	}
	// Output:
	// messages 1 to 3 unacknowledged 2
	// waiting: 2 2
	// waiting: 3 3
}
