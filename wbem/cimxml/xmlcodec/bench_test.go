package xmlcodec

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// fixtureBodies returns the bodies of the captured wbemcli requests in the
// shared fixtures, which CI keeps next to the repository (../shared).
func fixtureBodies(tb testing.TB) [][]byte {
	dir := filepath.Join("..", "..", "..", "..", "shared", "fixtures", "clients")
	files, _ := filepath.Glob(filepath.Join(dir, "wbemcli-requests*", "*.txt"))
	if len(files) == 0 {
		tb.Fatalf("no wbemcli request captures under %s: the shared fixtures belong at ../shared next to the repository", dir)
	}
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
			out = append(out, raw[i+4:])
		}
	}
	return out
}

// BenchmarkParse measures Parse on a wbemcli GetClass request
// (BenchmarkParseEncodingXML in wbem/internal/xmlscan builds the same tree
// with encoding/xml's tokenizer).
func BenchmarkParse(b *testing.B) {
	body := fixtureBodies(b)[8]
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
