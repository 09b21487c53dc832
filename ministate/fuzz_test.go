// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/mini-go/mini/ministate"
)

// refSplit is a reference for the Registry's envelope parser, built on
// encoding/json's tokenizer: a string, or an object with exactly one key.
func refSplit(data []byte) (name string, value []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return "", nil, false
	}
	if s, isStr := tok.(string); isStr {
		if _, err := dec.Token(); err != io.EOF {
			return "", nil, false
		}
		return s, nil, true
	}
	if tok != json.Delim('{') {
		return "", nil, false
	}
	tok, err = dec.Token()
	if err != nil {
		return "", nil, false
	}
	name, isStr := tok.(string)
	if !isStr {
		return "", nil, false
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return "", nil, false
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return "", nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, false
	}
	return name, raw, true
}

// FuzzRegistryDecode: Decode never panics; it accepts exactly what the
// reference accepts (for a registered kind whose value decodes), and what
// it accepts encodes back to a record that decodes to the same mutation.
func FuzzRegistryDecode(f *testing.F) {
	for _, s := range []string{
		`{"Push":{"v":1}}`, `"Reset"`, `{"SetLimit":5}`, `{"Swap":{"a":7}}`, ` { "PushNew" : {"v":-3} } `,
		`{"Pu\u0073h":{"v":8}}`, `{"Push":{"v":1},"x":2}`, `{"Push":"}"}`, `{}`, `[]`, `"`, `{"\"":1}`,
	} {
		f.Add([]byte(s))
	}
	reg := fullRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := reg.Decode(data)
		name, value, refOK := refSplit(data)
		if refOK {
			// The reference parsed the envelope: ours must agree, unless
			// the kind is unknown or its value does not decode.
			if err != nil && !errors.Is(err, ministate.ErrUnknownKind) && value != nil {
				var probe any
				if json.Unmarshal(value, &probe) == nil && isKnownAndDecodes(reg, name, value) {
					t.Fatalf("Decode(%q) = %v, but the reference parses kind %q value %s", data, err, name, value)
				}
			}
		} else if err == nil {
			t.Fatalf("Decode(%q) = %#v, but the reference rejects it", data, m)
		}
		if err != nil {
			return
		}
		enc, err := reg.Encode(m)
		if err != nil {
			t.Fatalf("Encode(%#v) after Decode(%q): %v", m, data, err)
		}
		back, err := reg.Decode(enc)
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip of %q: %s gives %#v, %v", data, enc, back, err)
		}
	})
}

// isKnownAndDecodes reports whether value decodes as kind name.
func isKnownAndDecodes(reg *ministate.Registry[Tape], name string, value []byte) bool {
	key, _ := json.Marshal(name)
	_, err := reg.Decode(append(append(append([]byte("{"), key...), ':'), append(value, '}')...))
	return err == nil
}

// FuzzRecordDecode: decoding a journal record (single or batch, with or
// without a Registry) never panics, and what decodes round-trips.
func FuzzRecordDecode(f *testing.F) {
	for _, s := range []string{
		`{"v":1}`, `[{"v":1},{"v":2}]`, `[[5,6]]`, `[]`, `null`, `[null]`,
		`{"Push":{"v":1}}`, `[{"Push":{"v":1}},"Reset"]`, ` [ {"SetLimit":2} ] `,
	} {
		f.Add([]byte(s))
	}
	reg := fullRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		if ms, err := ministate.DecodeRecord[Tape, Push](nil, data); err == nil {
			enc, err := ministate.EncodeRecord[Tape](nil, ms)
			if err != nil {
				t.Fatalf("EncodeRecord(%v): %v", ms, err)
			}
			back, err := ministate.DecodeRecord[Tape, Push](nil, enc)
			if err != nil || !reflect.DeepEqual(back, ms) {
				t.Fatalf("round trip of %q: %s gives %v, %v", data, enc, back, err)
			}
		}
		if ms, err := ministate.DecodeRecord[Tape, ministate.Mutator[Tape]](reg, data); err == nil {
			enc, err := ministate.EncodeRecord[Tape](reg, ms)
			if err != nil {
				t.Fatalf("EncodeRecord(%#v): %v", ms, err)
			}
			back, err := ministate.DecodeRecord[Tape, ministate.Mutator[Tape]](reg, enc)
			if err != nil || !reflect.DeepEqual(back, ms) {
				t.Fatalf("round trip of %q: %s gives %#v, %v", data, enc, back, err)
			}
		}
		if ms, err := ministate.DecodeRecord[Tape, Pair](nil, data); err == nil {
			enc, _ := ministate.EncodeRecord[Tape](nil, ms)
			if back, err := ministate.DecodeRecord[Tape, Pair](nil, enc); err != nil || !reflect.DeepEqual(back, ms) {
				t.Fatalf("round trip of %q: %s gives %v, %v", data, enc, back, err)
			}
		}
	})
}
