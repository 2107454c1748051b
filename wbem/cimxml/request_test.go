package cimxml

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

func newRequest(method string, hdr map[string]string) *http.Request {
	r := httptest.NewRequest(method, "/cimom", strings.NewReader(""))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

func baseHeaders() map[string]string {
	return map[string]string{
		"Content-Type":       `application/xml; charset="utf-8"`,
		"CIMOperation":       "MethodCall",
		"CIMMethod":          "GetClass",
		"CIMObject":          "root%2Fcimv2",
		"CIMProtocolVersion": "1.0",
	}
}

func TestReadHeaders(t *testing.T) {
	h, perr := readHeaders(newRequest("POST", baseHeaders()))
	if perr != nil {
		t.Fatal(perr)
	}
	if h.object != "root/cimv2" || h.method != "GetClass" || h.trailers {
		t.Errorf("headers = %+v", h)
	}

	mpost := map[string]string{
		"Content-Type":          "text/xml",
		"Man":                   `http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=73`,
		"73-CIMOperation":       "MethodCall",
		"73-CIMMethod":          "DoIt",
		"73-CIMObject":          `root/cimv2:CIM_Foo.Name="a"`,
		"73-CIMProtocolVersion": "1.1",
		"TE":                    "trailers, deflate;q=0.5",
	}
	h, perr = readHeaders(newRequest("M-POST", mpost))
	if perr != nil {
		t.Fatal(perr)
	}
	if h.prefix != "73-" || h.method != "DoIt" || h.object != `root/cimv2:CIM_Foo.Name="a"` || !h.trailers {
		t.Errorf("M-POST headers = %+v", h)
	}

	for _, tc := range []struct {
		name     string
		method   string
		change   map[string]string
		status   int
		cimError string
	}{
		{"no content type", "POST", map[string]string{"Content-Type": ""}, 400, cimErrRequestNotValid},
		{"json", "POST", map[string]string{"Content-Type": "application/json"}, 400, cimErrRequestNotValid},
		{"latin-1", "POST", map[string]string{"Content-Type": "application/xml; charset=iso-8859-1"}, 400, cimErrRequestNotValid},
		{"no operation", "POST", map[string]string{"CIMOperation": ""}, 400, cimErrUnsupportedOperation},
		{"export operation", "POST", map[string]string{"CIMOperation": "", "CIMExport": "MethodRequest"}, 400, cimErrUnsupportedOperation},
		{"bad operation", "POST", map[string]string{"CIMOperation": "MethodResponse"}, 400, cimErrUnsupportedOperation},
		{"no method", "POST", map[string]string{"CIMMethod": ""}, 400, cimErrHeaderMismatch},
		{"no object", "POST", map[string]string{"CIMObject": ""}, 400, cimErrHeaderMismatch},
		{"bad percent encoding", "POST", map[string]string{"CIMObject": "root%zz"}, 400, cimErrHeaderMismatch},
		{"protocol 2.0", "POST", map[string]string{"CIMProtocolVersion": "2.0"}, 501, cimErrUnsupportedProtocolVersion},
		{"batch", "POST", map[string]string{"CIMBatch": "CIMBatch"}, 501, cimErrMultipleRequests},
		{"accept json", "POST", map[string]string{"Accept": "application/json"}, 406, ""},
		{"accept xml q=0", "POST", map[string]string{"Accept": "application/xml;q=0, text/xml;q=0"}, 406, ""},
		{"accept latin-1 only", "POST", map[string]string{"Accept-Charset": "iso-8859-1"}, 406, ""},
		{"M-POST without Man", "M-POST", nil, 510, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := baseHeaders()
			for k, v := range tc.change {
				if v == "" {
					delete(hdr, k)
				} else {
					hdr[k] = v
				}
			}
			_, perr := readHeaders(newRequest(tc.method, hdr))
			if perr == nil {
				t.Fatal("accepted")
			}
			if perr.status != tc.status || perr.cimError != tc.cimError {
				t.Errorf("got %d %q, want %d %q (%s)", perr.status, perr.cimError, tc.status, tc.cimError, perr.detail)
			}
		})
	}
	for _, accept := range []string{"*/*", "application/xml", "text/*;q=0.5", "text/xml, application/json"} {
		hdr := baseHeaders()
		hdr["Accept"] = accept
		if _, perr := readHeaders(newRequest("POST", hdr)); perr != nil {
			t.Errorf("Accept %q refused: %v", accept, perr)
		}
	}
}

const getClassBody = `<?xml version="1.0" encoding="utf-8" ?>
<CIM CIMVERSION="2.0" DTDVERSION="2.0">
<MESSAGE ID="4711" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="GetClass">
<LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH>
<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="CIM_Foo"/></IPARAMVALUE>
</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`

func TestDecodeRequestEnvelope(t *testing.T) {
	h := &requestHeaders{method: "GetClass", object: "root/cimv2", objectPresent: true}
	req, perr := decodeRequest(new(xmlcodec.Parser), []byte(getClassBody), h)
	if perr != nil {
		t.Fatal(perr)
	}
	if !req.intrinsic || req.method != "GetClass" || req.ns != "root/cimv2" || req.messageID != "4711" || len(req.params) != 1 || req.dtdMinor != 0 {
		t.Errorf("request = %+v", req)
	}

	extrinsic := `<CIM CIMVERSION="2.0" DTDVERSION="2.3"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><METHODCALL NAME="DoIt"><LOCALINSTANCEPATH><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH><INSTANCENAME CLASSNAME="CIM_Foo"><KEYBINDING NAME="Name"><KEYVALUE>abc</KEYVALUE></KEYBINDING></INSTANCENAME></LOCALINSTANCEPATH><PARAMVALUE NAME="P1"><VALUE>x</VALUE></PARAMVALUE></METHODCALL></SIMPLEREQ></MESSAGE></CIM>`
	req, perr = decodeRequest(new(xmlcodec.Parser), []byte(extrinsic), &requestHeaders{method: "DoIt", object: `root/cimv2:CIM_Foo.Name="abc"`})
	if perr != nil {
		t.Fatal(perr)
	}
	if req.intrinsic || req.ns != "root/cimv2" || req.target == nil || len(req.params) != 1 || req.dtdMinor != 3 {
		t.Errorf("extrinsic request = %+v", req)
	}

	replace := func(old, new string) string { return strings.Replace(getClassBody, old, new, 1) }
	rename := func(elem string) string {
		return strings.ReplaceAll(strings.ReplaceAll(getClassBody, "<SIMPLEREQ>", "<"+elem+">"), "</SIMPLEREQ>", "</"+elem+">")
	}
	for _, tc := range []struct {
		name     string
		body     string
		hdr      *requestHeaders
		status   int
		cimError string
	}{
		{"not CIM", `<FOO/>`, h, 400, cimErrRequestNotValid},
		{"truncated", getClassBody[:len(getClassBody)-10], h, 400, cimErrRequestNotWellFormed},
		{"CIM 3.0", replace(`CIMVERSION="2.0"`, `CIMVERSION="3.0"`), h, 501, cimErrUnsupportedCIMVersion},
		{"DTD 3.0", replace(`DTDVERSION="2.0"`, `DTDVERSION="3.0"`), h, 501, cimErrUnsupportedDTDVersion},
		{"no CIMVERSION", replace(`CIMVERSION="2.0"`, ``), h, 400, cimErrRequestNotValid},
		{"protocol 2.0", replace(`PROTOCOLVERSION="1.0"`, `PROTOCOLVERSION="2.0"`), h, 501, cimErrUnsupportedProtocolVersion},
		{"no message id", replace(`ID="4711" `, ``), h, 400, cimErrRequestNotValid},
		{"multireq", rename("MULTIREQ"), h, 501, cimErrMultipleRequests},
		{"export", rename("SIMPLEEXPREQ"), h, 400, cimErrUnsupportedOperation},
		{"unknown element", replace(`<IPARAMVALUE NAME="ClassName">`, `<FOO/><IPARAMVALUE NAME="ClassName">`), h, 400, cimErrRequestNotValid},
		{"no namespace path", replace(`<LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH>`, ``), h, 400, cimErrRequestNotValid},
		{"empty namespace path", replace(`<NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/>`, ``), h, 400, cimErrRequestNotValid},
		{"two values", replace(`<CLASSNAME NAME="CIM_Foo"/>`, `<CLASSNAME NAME="CIM_Foo"/><CLASSNAME NAME="CIM_Bar"/>`), h, 400, cimErrRequestNotValid},
		{"IPARAMVALUE without name", replace(`IPARAMVALUE NAME="ClassName"`, `IPARAMVALUE`), h, 400, cimErrRequestNotValid},
		{"method mismatch", getClassBody, &requestHeaders{method: "GetInstance", object: "root/cimv2"}, 400, cimErrHeaderMismatch},
		{"namespace mismatch", getClassBody, &requestHeaders{method: "GetClass", object: "root/other"}, 400, cimErrHeaderMismatch},
		{"class mismatch", extrinsic, &requestHeaders{method: "DoIt", object: `root/cimv2:CIM_Bar.Name="abc"`}, 400, cimErrHeaderMismatch},
		{"extrinsic namespace mismatch", extrinsic, &requestHeaders{method: "DoIt", object: `root/x:CIM_Foo.Name="abc"`}, 400, cimErrHeaderMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, perr := decodeRequest(new(xmlcodec.Parser), []byte(tc.body), tc.hdr)
			if perr == nil {
				t.Fatal("accepted")
			}
			if perr.status != tc.status || perr.cimError != tc.cimError {
				t.Errorf("got %d %q, want %d %q (%s)", perr.status, perr.cimError, tc.status, tc.cimError, perr.detail)
			}
		})
	}
}
