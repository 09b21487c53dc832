// SPDX-License-Identifier: MIT OR Apache-2.0

package vfs_test

import (
	"fmt"
	"os"

	"github.com/mini-go/mini/vfs"
)

// A power loss forgets what was not synced: the file's synced line
// survives, the unsynced one does not.
func ExampleMem_CrashClone() {
	disk := vfs.NewMem()
	f, err := disk.OpenFile("/log", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		panic(err)
	}
	f.WriteAt([]byte("synced\n"), 0)
	f.Sync()
	disk.SyncDir("/") // the file's name is durable too
	f.WriteAt([]byte("lost\n"), 7)

	after := disk.CrashClone(vfs.CrashOptions{})
	data, err := vfs.ReadFile(after, "/log")
	fmt.Printf("%q %v\n", data, err)
	// Output: "synced\n" <nil>
}

// Faulty fails the operation a test chooses, here the second one: the
// write after the open. The operations before and after it succeed.
func ExampleFaulty_FailAt() {
	disk := vfs.NewFaulty(vfs.NewMem())
	disk.FailAt(2, fmt.Errorf("injected"))
	f, err := disk.OpenFile("/log", os.O_RDWR|os.O_CREATE, 0o644)
	fmt.Println("open:", err)
	_, err = f.WriteAt([]byte("x"), 0)
	fmt.Println("write:", err)
	fmt.Println("sync:", f.Sync())
	// Output:
	// open: <nil>
	// write: write /log: injected
	// sync: <nil>
}
