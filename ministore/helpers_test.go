// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"github.com/mini-go/mini/vfs"
	"regexp"
)

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

func splitLines(b []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

var vfsOS = vfs.OS
