// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	var out strings.Builder
	if err := run(&out, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"started at record 0\n",
		"#4 main.UpdateService\n",
		"automatic snapshot at record 4\n",
		`refused=true: ministate: mutation refused: service "db" exists already`,
		`refused=true: ministate: mutation refused: no service "ghost" to remove`,
		"#6 batch of 2\n",
		"compacted behind the snapshot at record 6; the journal holds:\n  #6 [",
		"snapshot folder snap-00000000000000000006\n",
		"restarted at record 6 (snapshot 6)\n",
		"#7 UpdateService db\n",
		"  api     10.0.0.9:8080   v2 http\n",
		"  db      10.0.0.8:5432   v2 \n",
		"  search  10.0.0.5:9200   v1 http,internal\n",
		"api tags after changing the copy: [http]\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "cache ") {
		t.Errorf("the removed service is back:\n%s", out.String())
	}
}
