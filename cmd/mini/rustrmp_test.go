// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"path/filepath"
	"testing"
)

// The Rust crate's MessagePack snapshots (minisnap's RmpCodec) are listed,
// shown as JSON and verified like its JSON ones.
func TestSnapRustMessagePack(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"snapshot_00000000000000000010", "snapshot_00000000000000000025"} {
		copyFile(t, filepath.Join("../../minisnap/msgpacksnap/testdata/rust-rmp", n), filepath.Join(dir, n))
	}
	mini(t, "snap", "ls", dir).want(t, 0, "10   msgpack  10", "")
	mini(t, "snap", "show", "--json", "--seq", "10", dir).want(t, 0, `[42,"hello"]`, "")
	mini(t, "snap", "show", "--json", dir).want(t, 0, `{"Busy":[3,-1700000000000]}`, "")
	mini(t, "snap", "verify", dir).want(t, 0, "ok: snapshot 10 (msgpack, 10 bytes)", "")
	copyFile(t, "../../minisnap/msgpacksnap/testdata/rust-rmp/snapshot_00000000000000000010", filepath.Join(dir, "snapshot_00000000000000000026"))
	mini(t, "snap", "verify", dir).want(t, 1, "", "snapshot_00000000000000000026")
}
