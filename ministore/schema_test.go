// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// snapshotFiles returns every file under dir of fsys with its contents.
func snapshotFiles(t *testing.T, fsys vfs.FS, dir string) map[string]string {
	t.Helper()
	names, err := fsys.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names {
		b, err := vfs.ReadFile(fsys, dir+"/"+n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(b)
	}
	return out
}

func TestSchemaOpen(t *testing.T) {
	tests := []struct {
		name          string
		written, open string // Options.Schema of the writer and of the later Open
		format        Format
		wantErr       bool
		wantSchema    string // Store.Schema after the later Open
	}{
		{"same name", "bank/v1", "bank/v1", FormatV1, false, "bank/v1"},
		{"same name, plain", "bank/v1", "bank/v1", FormatPlain, false, "bank/v1"},
		{"other name", "bank/v1", "shop/v1", FormatV1, true, ""},
		{"other name, plain", "bank/v1", "shop/v1", FormatPlain, true, ""},
		{"named journal opened without a name", "bank/v1", "", FormatV1, true, ""},
		{"named journal opened with AnySchema", "bank/v1", AnySchema, FormatV1, false, "bank/v1"},
		{"unnamed journal opened with a name", "", "bank/v1", FormatV1, false, "bank/v1"},
		{"unnamed journal opened without a name", "", "", FormatV1, false, ""},
		{"unnamed journal opened with AnySchema", "", AnySchema, FormatV1, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := vfs.NewMem()
			s, err := Open[json.RawMessage]("/j/log", quietOptions(Options{Schema: tt.written, Format: tt.format, NoPreallocate: true}, mem))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := s.Append(json.RawMessage(`{"a":1}`)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// An unclosed journal with preallocated zeros: Open would
			// trim them, so a refused Open must leave them.
			s, err = Open[json.RawMessage]("/j/log", quietOptions(Options{Schema: AnySchema, Format: tt.format}, mem))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(json.RawMessage(`{"a":2}`)); err != nil {
				t.Fatal(err)
			}
			crashed := mem.CrashClone(vfs.CrashOptions{})
			defer s.Close()
			before := snapshotFiles(t, crashed, "/j")

			s, err = Open[json.RawMessage]("/j/log", quietOptions(Options{Schema: tt.open}, crashed))
			if tt.wantErr {
				var se *SchemaError
				if !errors.As(err, &se) || !errors.Is(err, ErrSchema) {
					t.Fatalf("Open = %v, want a *SchemaError", err)
				}
				if se.Path != "/j/log" || se.Holds != tt.written || se.Wanted != tt.open {
					t.Fatalf("SchemaError = %+v", se)
				}
				if !strings.Contains(err.Error(), "ministore: schema mismatch: /j/log holds") {
					t.Fatalf("message %q", err)
				}
				if after := snapshotFiles(t, crashed, "/j"); !mapsEqual(before, after) {
					t.Fatalf("a refused Open changed the folder:\nbefore %q\nafter  %q", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			defer s.Close()
			if s.Schema() != tt.wantSchema {
				t.Fatalf("Schema() = %q, want %q", s.Schema(), tt.wantSchema)
			}
			if s.LastSeq() != 4 {
				t.Fatalf("LastSeq = %d", s.LastSeq())
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// headers returns the first line of every file of the journal at /j/log.
func headers(t *testing.T, fsys vfs.FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, body := range snapshotFiles(t, fsys, "/j") {
		if strings.HasPrefix(name, "log") && !strings.HasSuffix(name, ".lock") {
			line, _, _ := strings.Cut(body, "\n")
			out[name] = line
		}
	}
	return out
}

// Every header the Store writes, by rotation or TruncateFront, names the
// schema; a journal without one takes the caller's from its next header.
func TestSchemaNewHeaders(t *testing.T) {
	mem := vfs.NewMem()
	open := func(schema string) *Store[json.RawMessage] {
		t.Helper()
		s, err := Open[json.RawMessage]("/j/log", quietOptions(Options{Schema: schema, MaxSegmentBytes: 200, NoPreallocate: true}, mem))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open("")
	for range 4 {
		if _, err := s.Append(json.RawMessage(`{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for name, h := range headers(t, mem) {
		if strings.Contains(h, "schema=") {
			t.Fatalf("%s: %q names a schema", name, h)
		}
	}
	s = open("ledger")
	if s.Schema() != "ledger" {
		t.Fatalf("Schema() = %q", s.Schema())
	}
	for range 4 {
		if _, err := s.Append(json.RawMessage(`{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TruncateFront(s.LastSeq()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	hs := headers(t, mem)
	if !strings.Contains(hs["log"], " schema=ledger crc=") {
		t.Fatalf("active header %q does not name the schema", hs["log"])
	}
	// A new Open without the name is refused; with it, appends go on.
	if _, err := Open[json.RawMessage]("/j/log", quietOptions(Options{}, mem)); !errors.Is(err, ErrSchema) {
		t.Fatalf("Open without a schema = %v, want ErrSchema", err)
	}
	s = open(AnySchema)
	if s.Schema() != "ledger" {
		t.Fatalf("AnySchema: Schema() = %q", s.Schema())
	}
	s.Close()
}

// Segments that name different schemas are damage, not a mismatch.
func TestSchemaSegmentsDisagree(t *testing.T) {
	mem := vfs.NewMem()
	if err := vfs.MkdirAll(mem, "/j", 0o755); err != nil {
		t.Fatal(err)
	}
	sealed := appendSchemaHeader(nil, FormatV1, 1, "a")
	sealed = appendLine(sealed, FormatV1, 1, 0, []byte(`1`))
	writeMemFile(t, mem, "/j/log.001", sealed)
	writeMemFile(t, mem, "/j/log", appendSchemaHeader(nil, FormatV1, 2, "b"))
	_, err := Open[json.RawMessage]("/j/log", quietOptions(Options{Schema: "b"}, mem))
	var je *JournalError
	if !errors.As(err, &je) || !errors.Is(err, ErrCorrupt) || je.Path != "/j/log" {
		t.Fatalf("Open = %v, want a *JournalError in /j/log matching ErrCorrupt", err)
	}
}

func TestSchemaOptionValidated(t *testing.T) {
	for _, name := range []string{" ", "a b", "tab\there", "é", strings.Repeat("x", MaxSchemaLen+1), "new\nline"} {
		if _, err := Open[json.RawMessage]("/j/log", quietOptions(Options{Schema: name}, vfs.NewMem())); err == nil {
			t.Errorf("Open with Schema %q succeeded", name)
		}
	}
	long := strings.Repeat("x", MaxSchemaLen)
	mem := vfs.NewMem()
	s, err := Open[json.RawMessage]("/j/log", quietOptions(Options{Schema: long}, mem))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The longest name at the largest base still fits in a header.
	if h := appendSchemaHeader(nil, FormatV1, 1<<64-1, long); len(h) > maxHeaderLine {
		t.Fatalf("header of %d bytes", len(h))
	}
	s, err = Open[json.RawMessage]("/j/log", quietOptions(Options{Schema: long}, mem))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// Rust readers accept any text after the version; Go readers keep
// reading a plain header with a schema, and Replay ignores the schema.
func TestSchemaPlainHeader(t *testing.T) {
	path := t.TempDir() + "/j.log"
	s, err := Open[map[string]int](path, quietOptions(Options{Schema: "counter", Format: FormatPlain}, vfsOS))
	if err != nil {
		t.Fatal(err)
	}
	s.Append(map[string]int{"v": 1})
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "// MINISTORE JOURNAL v0.1.4 base=1 schema=counter\n{\"v\":1}\n"; string(b) != want {
		t.Fatalf("file %q, want %q", b, want)
	}
	got, err := Replay[map[string]int](path)
	if err != nil || len(got) != 1 || got[0]["v"] != 1 {
		t.Fatalf("Replay = %v, %v", got, err)
	}
}

type account struct {
	Owner   string `json:"owner"`
	Balance int    `json:"balance"`
}

type shipment struct {
	Parcel string `json:"parcel"`
	Weight int    `json:"weight"`
}

// Records of another type are a *DecodeError naming file, line and offset
// (they used to decode into zero values without an error), unless unknown
// fields are allowed.
func TestStrictDecoding(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/j.log"
	s, err := Open[account](path, quietOptions(Options{MaxSegmentBytes: 4096}, vfsOS))
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000 // several segments and several decode batches
	for i := range n {
		if _, err := s.Append(account{Owner: "ann", Balance: i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(account{Owner: "bob"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The last record, n+1, gets a field account does not have.
	other, err := Open[json.RawMessage](path, quietOptions(Options{}, vfsOS))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Append(json.RawMessage(`{"owner":"eve","balance":1,"note":"x"}`)); err != nil {
		t.Fatal(err)
	}
	other.Close()

	checkErr := func(t *testing.T, err error, seq uint64) {
		t.Helper()
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, ErrDecode) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v, want a *DecodeError", err)
		}
		if de.Seq != seq || !strings.HasPrefix(de.Path, path) || de.Line < 2 {
			t.Fatalf("DecodeError %+v, want record %d in a file of %s", de, seq, path)
		}
		b, rerr := os.ReadFile(de.Path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		lines := splitLines(b)
		prefix := []byte(`{"seq":` + itoa(seq) + `,`)
		if !bytes.HasPrefix(b[de.Offset:], prefix) || !bytes.HasPrefix(lines[de.Line-1], prefix) {
			t.Fatalf("offset %d / line %d of %s do not hold record %d", de.Offset, de.Line, de.Path, seq)
		}
		if !strings.Contains(err.Error(), de.Path+":") || !strings.Contains(err.Error(), "offset") {
			t.Fatalf("message %q does not name the place", err)
		}
	}
	t.Run("Records of another type", func(t *testing.T) {
		for _, err := range Records[shipment](path, 1) {
			checkErr(t, err, 1)
			return
		}
		t.Fatal("no records")
	})
	t.Run("Records with an unknown field", func(t *testing.T) {
		count := 0
		for _, err := range Records[account](path, 1) {
			if err != nil {
				checkErr(t, err, n+2)
				if count != n+1 {
					t.Fatalf("error after %d records", count)
				}
				return
			}
			count++
		}
		t.Fatal("no error")
	})
	t.Run("RecordsWith AllowUnknownFields", func(t *testing.T) {
		count := 0
		for _, err := range RecordsWith[account](path, 1, &Options{AllowUnknownFields: true}) {
			if err != nil {
				t.Fatal(err)
			}
			count++
		}
		if count != n+2 {
			t.Fatalf("%d records", count)
		}
	})
	t.Run("Store All and Get", func(t *testing.T) {
		s := openT[account](t, path, quietOptions(Options{}, vfsOS))
		if _, err := s.Get(n + 2); err == nil {
			t.Fatal("Get of the record with an unknown field succeeded")
		} else {
			checkErr(t, err, n+2)
		}
		for _, err := range s.All(n + 1) {
			if err != nil {
				checkErr(t, err, n+2)
			}
		}
		s.Close()
		s, err = Open[account](path, quietOptions(Options{AllowUnknownFields: true}, vfsOS))
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.Get(n + 2); err != nil || r.Owner != "eve" {
			t.Fatalf("Get with AllowUnknownFields = %+v, %v", r, err)
		}
	})
}

func itoa(n uint64) string { return string(json.RawMessage(mustMarshal(n))) }

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// The decoder that replays records is reused from one record to the next:
// what one record leaves must not reach the next.
func TestRecordDecoderReuse(t *testing.T) {
	tests := []struct {
		payload string
		ok      bool
	}{
		{`{"owner":"a","balance":1}`, true},
		{`{"owner":"b"} `, true},
		{`12`, false},
		{`{"owner":"c","balance":3}`, true},
		{`{"owner":"d"} {"owner":"x"}`, false},
		{`{"owner":"e","balance":5}`, true},
		{`{"owner":`, false},
		{`{"owner":"f","balance":6}`, true},
		{`{"owner":"g","extra":1}`, false},
		{`{"owner":"h","balance":8}`, true},
	}
	var dec recordDecoder
	dec.Strict = true
	for i, tt := range tests {
		var a account
		err := dec.Decode([]byte(tt.payload), &a)
		if (err == nil) != tt.ok {
			t.Fatalf("%d: decode(%s) = %v, want ok=%v", i, tt.payload, err, tt.ok)
		}
		var want account
		if tt.ok && (json.Unmarshal([]byte(tt.payload), &want) != nil || want != a) {
			t.Fatalf("%d: decoded %+v, want %+v", i, a, want)
		}
	}
}

func TestAppendInvalidUTF8(t *testing.T) {
	type rec struct {
		S string            `json:"s"`
		M map[string]string `json:"m,omitempty"`
		R json.RawMessage   `json:"r,omitempty"` // copied as it is by encoding/json
	}
	tests := []struct {
		name string
		rec  rec
		ok   bool
	}{
		{"ascii", rec{S: "plain"}, true},
		{"a real U+FFFD", rec{S: "a \ufffd b"}, true},
		{"the text \\ufffd", rec{S: `\ufffd`}, true},
		{"a backslash then a real U+FFFD", rec{S: "\\\ufffd"}, true},
		{"a lone 0xff", rec{S: "a \xff b"}, false},
		{"a cut rune", rec{S: "caf\xc3"}, false},
		{"a surrogate half", rec{S: "\xed\xa0\x80"}, false},
		{"a backslash then 0xff", rec{S: "\\\xff"}, false},
		{"invalid in a map key", rec{M: map[string]string{"k\xfe": "v"}}, false},
		{"invalid in a map value", rec{M: map[string]string{"k": "\xfe"}}, false},
		{"valid ready-made JSON", rec{R: json.RawMessage("[\"\u2028 \ufffd\"]")}, true},
		{"0xff in ready-made JSON", rec{R: json.RawMessage("\"a \xff b\"")}, false},
		{"a surrogate half in ready-made JSON", rec{R: json.RawMessage("{\"\xed\xa0\x80\":1}")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := vfs.NewMem()
			s := openT[rec](t, "/j/log", quietOptions(Options{}, mem))
			_, err := s.Append(tt.rec)
			if !tt.ok {
				if !errors.Is(err, ErrInvalidUTF8) || !strings.HasPrefix(err.Error(), "ministore: invalid UTF-8") {
					t.Fatalf("Append = %v, want ErrInvalidUTF8", err)
				}
				if _, _, err := s.AppendBatch(rec{S: "fine"}, tt.rec); !errors.Is(err, ErrInvalidUTF8) {
					t.Fatalf("AppendBatch = %v, want ErrInvalidUTF8", err)
				}
				if s.LastSeq() != 0 {
					t.Fatalf("LastSeq %d after refused appends", s.LastSeq())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(1)
			if err != nil || got.S != tt.rec.S {
				t.Fatalf("Get = %+v, %v, want %+v", got, err, tt.rec)
			}
		})
	}
	// A json.RawMessage record is checked, not encoded: json.Valid takes
	// any byte in a string.
	s := openT[json.RawMessage](t, "/j/raw", quietOptions(Options{}, vfs.NewMem()))
	if _, err := s.Append(json.RawMessage("\"\xff\"")); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("Append(json.RawMessage with 0xff) = %v, want ErrInvalidUTF8", err)
	}
	if _, err := s.Append(json.RawMessage("\"\u00e9\ufffd\"")); err != nil {
		t.Fatal(err)
	}
}

// The header docs/FORMAT.md shows parses as documented.
func TestSchemaDocumentedHeader(t *testing.T) {
	h, err := parseHeader([]byte("// MINISTORE JOURNAL v1 base=1 schema=ministate.registry/bank crc=69c075e8"))
	if err != nil || h.schema != "ministate.registry/bank" || h.base != 1 || h.format != FormatV1 {
		t.Fatalf("parseHeader = %+v, %v", h, err)
	}
	h, err = parseHeader([]byte("// MINISTORE JOURNAL v0.1.4 base=1 schema=miniqueue.messages"))
	if err != nil || h.schema != "miniqueue.messages" || h.format != FormatPlain {
		t.Fatalf("parseHeader = %+v, %v", h, err)
	}
}
