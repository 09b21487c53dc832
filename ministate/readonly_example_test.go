// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"fmt"
	"log"
	"os"

	"github.com/mini-go/mini/ministate"
)

// Load reads the state of a folder that a Manager has open (in this
// process here; usually another), without its lock.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "ministate")
	defer os.RemoveAll(dir)
	m, err := ministate.Open[Counter, Inc](dir, "counter.log", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	for _, by := range []uint32{10, 5} {
		if _, err := m.Apply(Inc{By: by}); err != nil {
			log.Fatal(err)
		}
	}
	state, seq, err := ministate.Load[Counter, Inc](dir, "counter.log", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("value", state.Value, "at", seq)
	// Output: value 15 at 2
}
