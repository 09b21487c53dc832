// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	plain := mini(t, "version")
	if plain.code != 0 || !strings.HasPrefix(plain.stdout, "mini ") || !strings.Contains(plain.stdout, runtime.Version()) {
		t.Fatalf("mini version = %+v", plain)
	}
	flag := mini(t, "--version")
	if flag.code != 0 || flag.stdout != plain.stdout {
		t.Fatalf("mini --version = %+v, want %q", flag, plain.stdout)
	}
	js := mini(t, "version", "--json")
	var v struct {
		Version string `json:"version"`
		Go      string `json:"go"`
	}
	if js.code != 0 || json.Unmarshal([]byte(js.stdout), &v) != nil || v.Version == "" || v.Go != runtime.Version() {
		t.Fatalf("mini version --json = %+v (%+v)", js, v)
	}
	if bad := mini(t, "version", "extra"); bad.code != exitUsage {
		t.Fatalf("mini version extra: exit %d, want %d", bad.code, exitUsage)
	}
}
