package cimxml

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureExpectation is the answer a captured request must get: the HTTP
// status, the CIMError header of a refused request, and for a 200 the CIM
// status of the operation ("" for success).
type fixtureExpectation struct {
	status   int
	cimError string
	code     string
}

// fixtureExpectations lists the answers that are not a plain success.
// The captures were made against a scratch server with a slightly
// different model, so some name keys CIM_Foo does not have; the right
// answer to those is CIM_ERR_INVALID_PARAMETER.
var fixtureExpectations = map[string]fixtureExpectation{
	// No Authorization header (captured with -nl and no user in the URL).
	"wbemcli-requests/29_EnumerateClassNames.txt":      {status: 401},
	"wbemcli-requests-auth/01_EnumerateClassNames.txt": {status: 401},
	// Wrong credentials (u:p).
	"wbemcli-requests-auth/02_EnumerateClassNames.txt": {status: 401},
	"wbemcli-requests-err/01_GetInstance.txt":          {status: 401},
	// wbemcli does not escape key values: "a b&<" is not well-formed XML.
	"wbemcli-requests-2/12_GetInstance.txt": {status: 400, cimError: "request-not-well-formed"},
	// Keys Id and Flag, and Ref, are not keys of CIM_Foo here.
	"wbemcli-requests/09_GetInstance.txt":   {status: 200, code: "4"},
	"wbemcli-requests-2/11_GetInstance.txt": {status: 200, code: "4"},
	// CIM_Foo has no method provider.
	"wbemcli-requests/23_DoIt.txt":    {status: 200, code: "16"},
	"wbemcli-requests/25_StaticM.txt": {status: 200, code: "16"},
	"wbemcli-requests/27_DoIt.txt":    {status: 200, code: "16"},
	"wbemcli-requests-2/06_DoIt.txt":  {status: 200, code: "16"},
	"wbemcli-requests-2/08_DoIt.txt":  {status: 200, code: "16"},
	// The captures are a session and are replayed in order: 13 deleted
	// CIM_Foo.Name="abc", so 19 and 21 find no instance; 28 deleted the
	// class CIM_Foo, so 30 and 31 find no class.
	"wbemcli-requests/19_GetProperty.txt":        {status: 200, code: "6"},
	"wbemcli-requests/21_SetProperty.txt":        {status: 200, code: "6"},
	"wbemcli-requests/30_EnumerateInstances.txt": {status: 200, code: "5"},
	"wbemcli-requests/31_EnumerateInstances.txt": {status: 200, code: "5"},
	// The model holds CIM_Foo.Name="abc" already (the captured session
	// created it).
	"wbemcli-requests-2/02_CreateInstance.txt": {status: 200, code: "11"},
}

// TestFixtureReplay sends every captured wbemcli request as raw HTTP, in
// the order of the capture, and checks a well-formed, DTD-valid answer
// with the right status. It runs on a copy of the model in a namespace of
// its own (one per capture session) so that its writes (DeleteInstance,
// DeleteClass) do not disturb the other tests: the captured requests name
// root/cimv2, which the test rewrites in headers and body alike.
func TestFixtureReplay(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "fixtures", "clients")
	files, err := filepath.Glob(filepath.Join(dir, "wbemcli-requests*", "*.txt"))
	if err != nil || len(files) < 40 {
		t.Fatalf("found %d captured requests under %s: %v", len(files), dir, err)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		t.Run(rel, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, ok := fixtureExpectations[filepath.ToSlash(rel)]
			if !ok {
				want = fixtureExpectation{status: 200}
			}
			// Each directory is a session of its own, on a fresh copy of
			// the model.
			ns := "replay"
			if strings.HasPrefix(rel, "wbemcli-requests-2") {
				ns = "replay2"
			}
			resp, err := rawRequest(t, "127.0.0.2", replayable(raw, ns))
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != want.status || resp.Header.Get("CIMError") != want.cimError {
				t.Fatalf("HTTP %d CIMError %q, want %d %q\n%s", resp.StatusCode, resp.Header.Get("CIMError"), want.status, want.cimError, resp.body)
			}
			if resp.StatusCode != 200 {
				return
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
				t.Errorf("Content-Type %q", ct)
			}
			validateDTD(t, resp.body)
			if got := errorCode(resp.body); got != want.code {
				t.Errorf("CIM status %q, want %q\n%s", got, want.code, resp.body)
			}
		})
	}
	checkAlive(t)
}

// replayable prepares a capture for this server: the namespace root/cimv2
// becomes root/<ns> in the headers and the body (Content-Length is
// adjusted), everything else is sent as captured.
func replayable(raw []byte, ns string) []byte {
	head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	body = bytes.ReplaceAll(body, []byte(`<NAMESPACE NAME="cimv2"`), []byte(`<NAMESPACE NAME="`+ns+`"`))
	var out bytes.Buffer
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch strings.ToLower(string(name)) {
		case "content-length":
			line = []byte("Content-Length: " + strconv.Itoa(len(body)))
		case "cimobject":
			line = append([]byte("CIMObject:"), bytes.Replace(value, []byte("root%2Fcimv2"), []byte("root%2F"+ns), 1)...)
		}
		out.Write(line)
		out.WriteString("\r\n")
	}
	out.WriteString("\r\n")
	out.Write(body)
	return out.Bytes()
}
