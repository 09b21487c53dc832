// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mini-go/mini/vfs"
)

// Options configures a Store. The zero value (or a nil *Options) gives the
// defaults documented on each field. Open copies the struct; the caller's
// value is never modified.
type Options struct {
	// Keep is how many snapshots Create leaves in the directory, counting
	// the one it just wrote; older ones are removed oldest first, and only
	// after the new one is durable. Zero means 2, so the previous snapshot
	// remains as a fallback. A negative value keeps every snapshot. A
	// snapshot of the Rust crate (legacy or numbered, see the package
	// documentation) is never removed and does not count.
	Keep int

	// Codec encodes the state in Create and decodes it in Restore. Nil
	// means JSONCodec{}: pretty JSON with a two-space indent. Snapshots
	// whose metadata names the codec "json" can always be restored, so a
	// store can move from JSON to another codec without losing its old
	// snapshots. A NumberedCodec also makes the Store read the Rust
	// crate's numbered snapshots in its encoding.
	Codec Codec

	// ReadOnly opens the directory for reading only: Open takes no lock
	// and removes nothing, and Create fails with ErrReadOnly. Use it to
	// inspect the snapshots of a directory another program writes. Default
	// false: Open takes the directory's lock (see Open).
	ReadOnly bool

	// FS is the file system every read, write, fsync, create, rename and
	// delete goes through. Default (nil): vfs.OS, the operating system's.
	// Tests pass a vfs.Mem to simulate power loss, or a vfs.Faulty to
	// inject I/O errors.
	FS vfs.FS
}

const defaultKeep = 2

// resolved returns a copy of o (which may be nil) with defaults filled,
// or an error if the options cannot be used. It never changes *o.
func (o *Options) resolved() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	c.Keep = cmp.Or(c.Keep, defaultKeep)
	c.Codec = cmp.Or[Codec](c.Codec, JSONCodec{})
	c.FS = cmp.Or(c.FS, vfs.OS)
	name, ext := c.Codec.Name(), c.Codec.Ext()
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == '"' || r > '~' }) {
		return Options{}, fmt.Errorf("minisnap: invalid codec name %q: want printable ASCII without spaces", name)
	}
	if !validExt(ext) {
		return Options{}, fmt.Errorf("minisnap: invalid codec extension %q: want a dot and a file-name suffix, e.g. \".json\"", ext)
	}
	if nc, ok := c.Codec.(NumberedCodec); ok {
		if ext := nc.NumberedExt(); ext == numberedExt || (ext != "" && !validExt(ext)) {
			return Options{}, fmt.Errorf("minisnap: invalid numbered extension %q of codec %q: want \"\" or a dot and a file-name suffix other than \".json\"", ext, name)
		}
	}
	return c, nil
}

// validExt accepts ".json", ".cbor.zst" and the like: it must start with a
// dot, name no directory, and not collide with snapshot.seq.
func validExt(ext string) bool {
	if len(ext) < 2 || ext[0] != '.' || ext == seqExt {
		return false
	}
	if strings.ContainsAny(ext, `/\`+"\x00") || filepath.Base("snapshot"+ext) != "snapshot"+ext {
		return false
	}
	return !strings.Contains(ext, "..")
}

var errNotPointer = errors.New("minisnap: Restore needs a non-nil pointer")
