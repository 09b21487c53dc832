// SPDX-License-Identifier: MIT OR Apache-2.0

// Package depcheck holds a test that keeps the core packages free of
// third-party imports: metrics adapters (Prometheus) and the CLI's
// libraries must stay in their own packages.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// core are the packages a program embeds; they may import only the
// standard library, golang.org/x/sys and this module.
var core = []string{
	"github.com/mini-go/mini/ministore",
	"github.com/mini-go/mini/ministate",
	"github.com/mini-go/mini/miniqueue",
	"github.com/mini-go/mini/minisnap",
}

func TestCoreImportsOnlyStdlib(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command, which runs this test, is not on PATH: %v", err)
	}
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, core...)
	out, err := exec.Command(goCmd, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < len(core) {
		t.Fatalf("go list listed %d packages: %q", len(deps), deps)
	}
	for _, p := range deps {
		if p == "github.com/mini-go/mini" || strings.HasPrefix(p, "github.com/mini-go/mini/") ||
			strings.HasPrefix(p, "golang.org/x/sys/") {
			continue
		}
		t.Errorf("a core package depends on %s", p)
	}
}

// TestTestutilOnlyInTests keeps internal/testutil out of every program:
// only test files may import it.
func TestTestutilOnlyInTests(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command, which runs this test, is not on PATH: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/mini-go/mini/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < len(core) {
		t.Fatalf("go list listed %d packages", len(lines))
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Fields(imports) {
			if imp == "github.com/mini-go/mini/internal/testutil" {
				t.Errorf("%s imports internal/testutil outside its tests", pkg)
			}
		}
	}
}
