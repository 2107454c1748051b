package wsman

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

// captureBodies returns the SOAP bodies of the captured client requests
// (HTTP headers stripped), by their path under the captures directory.
func captureBodies(t testing.TB) map[string][]byte {
	t.Helper()
	dir := capturesDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil || len(files) < 100 {
		t.Fatalf("%d captures in %s: %v", len(files), dir, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".txt") {
			if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
				data = data[i+4:]
			} else if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
				data = data[i+2:]
			}
		}
		rel, _ := filepath.Rel(dir, f)
		out[rel] = data
	}
	return out
}

// FuzzDecodeEnvelope feeds arbitrary bytes to the envelope decoder and the
// parsers behind it: they must never panic, and whatever they accept must
// have a consistent shape.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, body := range captureBodies(f) {
		f.Add(body)
	}
	f.Add([]byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><x mustUnderstand="1"/></s:Header><s:Body/></s:Envelope>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, fault := decodeEnvelope(data, Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxElements: 5000})
		if req == nil {
			t.Fatal("nil request")
		}
		if fault != nil {
			if fault.Reason == "" || fault.status() < 400 {
				t.Fatalf("fault without reason or status: %+v", fault)
			}
			return
		}
		if req.hasResourceURI {
			if res, f := parseResourceURI(req.resourceURI); f == nil && res.kind == resourceClass && res.class == "" {
				t.Fatal("class resource without a class")
			}
		}
		sels, f := parseSelectorSet(req.selectorSet)
		if f == nil {
			_, keys := namespaceOf(sels)
			_, _ = keyBindings(keys, 0)
		}
		if req.body != nil {
			_, _ = parseEnumerate(req.body)
			for _, g := range groupChildren(req.body) {
				for _, arr := range []bool{false, true} {
					for _, typ := range []cim.Type{cim.TypeString, cim.TypeUint16, cim.TypeDatetime, cim.TypeReference} {
						_, _ = decodeValue(g.elems, typ, arr)
					}
				}
			}
		}
	})
}

func TestCapturesDecode(t *testing.T) {
	for name, body := range captureBodies(t) {
		req, fault := decodeEnvelope(body, Limits{})
		if strings.Contains(name, "NOACTION") {
			if fault == nil {
				t.Errorf("%s: an empty body was accepted", name)
			}
			continue
		}
		if fault != nil {
			t.Errorf("%s: %v", name, fault)
			continue
		}
		if req.body == nil && req.action != actionGet && req.action != actionDelete {
			t.Errorf("%s: no body element", name)
		}
	}
}
