// SPDX-License-Identifier: MIT OR Apache-2.0

package backup

import (
	"errors"
	"fmt"
	"io"

	"github.com/mini-go/mini/vfs"
)

// Lock is a source folder's lock, held while it is copied when no process
// has the folder open.
type Lock struct {
	l         io.Closer
	pkg, name string
}

// LockSource takes the lock file lockPath of the folder to copy. When
// another process holds it, the folder is live: live is true and the Lock
// holds nothing. Errors read "pkg: lock name: ...".
func LockSource(fsys vfs.FS, lockPath, pkg, name string) (l *Lock, live bool, err error) {
	f, err := fsys.Lock(lockPath)
	switch {
	case err == nil:
		return &Lock{l: f, pkg: pkg, name: name}, false, nil
	case errors.Is(err, vfs.ErrLocked):
		return &Lock{}, true, nil
	default:
		return nil, false, fmt.Errorf("%s: lock %s: %w", pkg, name, err)
	}
}

// Release lets go of the lock; later calls do nothing and return nil.
func (l *Lock) Release() error {
	if l.l == nil {
		return nil
	}
	f := l.l
	l.l = nil
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: unlock %s: %w", l.pkg, l.name, err)
	}
	return nil
}
