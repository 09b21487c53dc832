// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/minisnap"
)

type AppState struct {
	Counter uint64            `json:"counter"`
	Users   map[string]string `json:"users"`
}

func Example() {
	dir, err := os.MkdirTemp("", "minisnap-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := minisnap.Open(filepath.Join(dir, "state"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exists before:", store.Exists())

	// Save the state as of log record 10. When Create returns nil the
	// snapshot is on disk.
	state := AppState{Counter: 42, Users: map[string]string{"ada": "admin"}}
	if err := store.Create(&state, 10); err != nil {
		log.Fatal(err)
	}

	// On the next start: restore it, then replay the log after seq 10.
	var restored AppState
	seq, err := store.Restore(&restored)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exists after:", store.Exists())
	fmt.Println("seq:", seq, "counter:", restored.Counter, "ada:", restored.Users["ada"])

	// The newest snapshot is plain, pretty JSON.
	b, err := os.ReadFile(filepath.Join(dir, "state", "snap-00000000000000000010", "snapshot.json"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	// Output:
	// exists before: false
	// exists after: true
	// seq: 10 counter: 42 ada: admin
	// {
	//   "counter": 42,
	//   "users": {
	//     "ada": "admin"
	//   }
	// }
}

// A state too large to hold twice in memory is streamed in both directions.
func ExampleStore_CreateFrom() {
	dir, err := os.MkdirTemp("", "minisnap-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := minisnap.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}

	// Write one JSON document per line, as it is produced.
	err = store.CreateFrom(3, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for i := range 3 {
			if err := enc.Encode(map[string]int{"id": i}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	// Read it back line by line; the checksum is verified as it is read.
	seq, err := store.RestoreTo(func(r io.Reader, info minisnap.Info) error {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fmt.Println(sc.Text())
		}
		return sc.Err()
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("seq:", seq)
	// Output:
	// {"id":0}
	// {"id":1}
	// {"id":2}
	// seq: 3
}

func ExampleStore_List() {
	dir, err := os.MkdirTemp("", "minisnap-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := minisnap.Open(dir, &minisnap.Options{Keep: 3})
	if err != nil {
		log.Fatal(err)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		if err := store.Create(AppState{Counter: seq}, seq*100); err != nil {
			log.Fatal(err)
		}
	}
	infos, err := store.List()
	if err != nil {
		log.Fatal(err)
	}
	for _, info := range infos {
		rel, _ := filepath.Rel(dir, info.Path)
		fmt.Println(info.Seq, info.Codec, info.Size, rel)
	}
	// Output:
	// 500 json 35 snap-00000000000000000500/snapshot.json
	// 400 json 35 snap-00000000000000000400/snapshot.json
	// 300 json 35 snap-00000000000000000300/snapshot.json
}

// When the newest snapshot is damaged, Restore says which file is bad and
// RestoreLatestGood falls back to the previous snapshot.
func ExampleStore_RestoreLatestGood() {
	dir, err := os.MkdirTemp("", "minisnap-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := minisnap.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		if err := store.Create(AppState{Counter: seq}, seq); err != nil {
			log.Fatal(err)
		}
	}
	// Damage the newest snapshot: one bit, still valid JSON.
	path := filepath.Join(dir, "snap-00000000000000000002", "snapshot.json")
	b, _ := os.ReadFile(path)
	i := bytes.Index(b, []byte(`"counter": 2`))
	b[i+len(`"counter": `)] = '3'
	os.WriteFile(path, b, 0o644)

	var state AppState
	_, err = store.Restore(&state)
	if ce, ok := errors.AsType[*minisnap.CorruptError](err); ok {
		fmt.Println("damaged:", filepath.Base(filepath.Dir(ce.Path)), filepath.Base(ce.Path))
	}
	seq, skipped, err := store.RestoreLatestGood(&state)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("restored seq", seq, "counter", state.Counter, "skipped", len(skipped))
	// Output:
	// damaged: snap-00000000000000000002 snapshot.json
	// restored seq 1 counter 1 skipped 1
}
