// SPDX-License-Identifier: MIT OR Apache-2.0

package msgpacksnap_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/msgpacksnap"
)

// A folder the Rust crate minisnap wrote with its RmpCodec: Restore starts
// from the crate's snapshot, and the next snapshots are Go's.
func Example() {
	dir, err := os.MkdirTemp("", "msgpacksnap")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// What SnapStore::new(dir, RmpCodec).create(AppState { counter: 42,
	// message: "hello".into() }, 10) writes: [10, [42, "hello"]].
	rust := []byte{0x92, 0x0a, 0x92, 0x2a, 0xa5, 'h', 'e', 'l', 'l', 'o'}
	if err := os.WriteFile(filepath.Join(dir, "snapshot_00000000000000000010"), rust, 0o644); err != nil {
		log.Fatal(err)
	}

	type AppState struct {
		Counter uint64 `json:"counter"`
		Message string `json:"message"`
	}
	store, err := minisnap.Open(dir, &minisnap.Options{Codec: msgpacksnap.New()})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	var st AppState
	seq, err := store.Restore(&st)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("seq %d: %+v\n", seq, st)

	st.Counter++
	if err := store.Create(st, 11); err != nil {
		log.Fatal(err)
	}
	infos, err := store.List()
	if err != nil {
		log.Fatal(err)
	}
	for _, i := range infos {
		fmt.Println(i.Seq, i.Codec, i.Legacy, filepath.Base(i.Path))
	}
	// Output:
	// seq 10: {Counter:42 Message:hello}
	// 11 msgpack false snapshot.msgpack
	// 10 msgpack true snapshot_00000000000000000010
}
