package cimxml

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/wbem/testprovider"
)

// A provider failing in the middle of a streamed response: the test
// provider's T_Flaky yields testprovider.FlakyBefore instances of about a
// kilobyte (over the 256 KiB the server buffers, so it has begun a chunked
// response), then fails with CIM_ERR_FAILED.
func TestErrorMidStream(t *testing.T) {
	req := func(extra ...string) *response {
		t.Helper()
		body := intrinsicBody("EnumerateInstances", "root/test", iparam("ClassName", `<CLASSNAME NAME="T_Flaky"/>`))
		resp, err := rawRequest(t, "", cimRequest("EnumerateInstances", "root%2Ftest", body, extra...))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// TE: trailers: a complete chunked message whose trailers carry the
	// status; CIMError is declared with the others, and has no value for
	// a CIM error (DSP0200 defines CIMError values for refused requests
	// only).
	r := req("TE: trailers")
	if r.StatusCode != 200 || r.readErr != nil || len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
		t.Fatalf("HTTP %d, transfer encoding %v, read error %v", r.StatusCode, r.TransferEncoding, r.readErr)
	}
	for _, name := range []string{"CIMStatusCode", "CIMStatusCodeDescription", "CIMError"} {
		if _, declared := r.Trailer[http.CanonicalHeaderKey(name)]; !declared {
			t.Errorf("the Trailer header does not declare %s: %v", name, r.Trailer)
		}
	}
	// What was sent before the failure came; what was still buffered is
	// not (the message cannot be completed anyway).
	if n := bytes.Count(r.body, []byte("<VALUE.NAMEDINSTANCE>")); n == 0 || n > testprovider.FlakyBefore {
		t.Errorf("%d instances before the failure, want 1 to %d", n, testprovider.FlakyBefore)
	}
	if bytes.HasSuffix(bytes.TrimSpace(r.body), []byte("</CIM>")) {
		t.Error("the failed response ends as a complete message")
	}
	desc, err := url.PathUnescape(r.Trailer.Get("CIMStatusCodeDescription"))
	if r.Trailer.Get("CIMStatusCode") != "1" || err != nil || desc != "CIM_ERR_FAILED: T_Flaky: the backend went away after 1000 instances" {
		t.Errorf("trailers %v (description %q, %v)", r.Trailer, desc, err)
	}
	if got := r.Trailer.Get("CIMError"); got != "" {
		t.Errorf("CIMError trailer %q for a provider's failure", got)
	}

	// Without TE: trailers there is no way to send the status: the
	// connection is cut before the last chunk, so the client sees an
	// incomplete response rather than a short one.
	if r := req(); r.StatusCode != 200 || r.readErr == nil {
		t.Errorf("without TE: trailers: HTTP %d, read error %v after %d bytes", r.StatusCode, r.readErr, len(r.body))
	}
	checkAlive(t)

	// wbemcli: with -cte it reads the status from the trailers and prints
	// no partial result. It reads the description from a trailer named
	// CIMStatusDescription, which DSP0200, OpenPegasus and SFCB do not
	// send, so the description stays empty. Without -cte, curl reports
	// the cut connection.
	u := "http://" + adminUser + ":" + adminPass + "@" + srv.httpAddr + "/root/test:T_Flaky"
	for _, c := range []struct {
		args    []string
		errText string
	}{
		{[]string{"ei", "-cte", u}, "Cim: (1) CIM_ERR_FAILED: "},
		{[]string{"ei", u}, "Http Exception: Transferred a partial file"},
	} {
		stdout, stderr, code := wbemcli(t, c.args...)
		if code != 16 || stdout != "" || !strings.Contains(stderr, c.errText) {
			t.Errorf("wbemcli %s: exit %d, stdout %d bytes, stderr %q; want exit 16, no output and %q", strings.Join(c.args, " "), code, len(stdout), stderr, c.errText)
		}
	}
}
