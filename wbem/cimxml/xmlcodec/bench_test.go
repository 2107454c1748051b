package xmlcodec

import (
	"testing"

	"github.com/hypercim/hypercim/wbem/internal/captures"
)

// fixtureBodies returns the bodies of the captured wbemcli requests.
func fixtureBodies(tb testing.TB) [][]byte {
	tb.Helper()
	bodies, err := captures.WbemcliRequests()
	if err != nil {
		tb.Fatal(err)
	}
	return bodies
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
