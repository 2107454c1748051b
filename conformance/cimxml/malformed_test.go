package cimxml

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// expect is the answer a malformed request must get: an HTTP status with
// the CIMError header DSP0200 defines for it, or HTTP 200 with a CIM error
// code in the ERROR element.
type expect struct {
	status   int
	cimError string
	code     string
}

var (
	notWellFormed = expect{status: 400, cimError: "request-not-well-formed"}
	notValid      = expect{status: 400, cimError: "request-not-valid"}
	headerMism    = expect{status: 400, cimError: "header-mismatch"}
	unsupportedOp = expect{status: 400, cimError: "unsupported-operation"}
	invalidParam  = expect{status: 200, code: "4"}
	success       = expect{status: 200}
)

func cimCode(code string) expect { return expect{status: 200, code: code} }

type malformedCase struct {
	name string
	raw  []byte
	want expect
	// from is the source address; requests that fail authentication come
	// from their own, so that the rate limiter does not block the others.
	from string
}

const getInstanceParams = `<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="CIM_Foo"><KEYBINDING NAME="Name"><KEYVALUE VALUETYPE="string">abc</KEYVALUE></KEYBINDING></INSTANCENAME></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE>`

// getInstance is a valid GetInstance body the cases distort.
func getInstance() string { return intrinsicBody("GetInstance", "root/cimv2", getInstanceParams) }

func op(method, body string, headers ...string) []byte {
	return cimRequest(method, "root%2Fcimv2", body, headers...)
}

// createAllTypes is a CreateInstance of Test_AllTypes with one property.
func createAllTypes(prop, typ, value string) []byte {
	inst := fmt.Sprintf(`<INSTANCE CLASSNAME="Test_AllTypes"><PROPERTY NAME="Id" TYPE="string"><VALUE>bad-%s</VALUE></PROPERTY><PROPERTY NAME="%s" TYPE="%s"><VALUE>%s</VALUE></PROPERTY></INSTANCE>`, prop, prop, typ, value)
	return op("CreateInstance", intrinsicBody("CreateInstance", "root/cimv2", iparam("NewInstance", inst)))
}

// withHeaders builds a request for the valid GetInstance body with the
// given header lines instead of the usual ones (no Authorization unless
// given).
func withHeaders(method string, headers ...string) []byte {
	body := getInstance()
	var b strings.Builder
	fmt.Fprintf(&b, "%s /cimom HTTP/1.1\r\nHost: %s\r\n", method, srv.httpAddr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

var authHeader = "Authorization: Basic " + basic(adminUser, adminPass)

func stdHeaders(except string, extra ...string) []string {
	h := []string{authHeader, `Content-Type: application/xml; charset="utf-8"`, "CIMOperation: MethodCall", "CIMMethod: GetInstance", "CIMObject: root%2Fcimv2"}
	var out []string
	for _, x := range h {
		if except == "" || !strings.HasPrefix(x, except+":") {
			out = append(out, x)
		}
	}
	return append(out, extra...)
}

func malformedCases() []malformedCase {
	var cs []malformedCase
	add := func(name string, raw []byte, want expect) {
		cs = append(cs, malformedCase{name: name, raw: raw, want: want})
	}

	// Truncated documents.
	full := getInstance()
	for _, frac := range []int{1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99} {
		n := len(full) * frac / 100
		add(fmt.Sprintf("truncated at %d%%", frac), op("GetInstance", full[:n]), notWellFormed)
	}
	add("truncated before </CIM>", op("GetInstance", strings.TrimSuffix(full, "</CIM>")), notWellFormed)
	add("empty body", op("GetInstance", ""), notWellFormed)

	// Wrong nesting.
	replace := func(old, new string) string {
		if !strings.Contains(full, old) {
			panic("malformed case: " + old + " not in the base request")
		}
		return strings.Replace(full, old, new, 1)
	}
	add("IMETHODCALL without SIMPLEREQ", op("GetInstance", strings.NewReplacer("<SIMPLEREQ>", "", "</SIMPLEREQ>", "").Replace(full)), notValid)
	add("SIMPLEREQ without MESSAGE", op("GetInstance", strings.NewReplacer(`<MESSAGE ID="1" PROTOCOLVERSION="1.0">`, "", "</MESSAGE>", "").Replace(full)), notValid)
	add("two MESSAGEs", op("GetInstance", replace("</MESSAGE>", `</MESSAGE><MESSAGE ID="2" PROTOCOLVERSION="1.0"></MESSAGE>`)), notValid)
	add("two IMETHODCALLs", op("GetInstance", replace("</IMETHODCALL>", `</IMETHODCALL><IMETHODCALL NAME="GetInstance"></IMETHODCALL>`)), notValid)
	add("IPARAMVALUE before LOCALNAMESPACEPATH", op("GetInstance", strings.Replace(intrinsicBody("GetInstance", "root/cimv2", ""), `<LOCALNAMESPACEPATH>`, getInstanceParams+`<LOCALNAMESPACEPATH>`, 1)), notValid)
	add("mismatched end tag", op("GetInstance", replace("</KEYBINDING>", "</KEYVALUE>")), notWellFormed)
	add("overlapping elements", op("GetInstance", replace(`<KEYVALUE VALUETYPE="string">abc</KEYVALUE></KEYBINDING>`, `<KEYVALUE VALUETYPE="string">abc</KEYBINDING></KEYVALUE>`)), notWellFormed)
	add("VALUE inside VALUE", op("GetInstance", replace(`<VALUE>FALSE</VALUE>`, `<VALUE><VALUE>FALSE</VALUE></VALUE>`)), notValid)
	add("element inside KEYVALUE", op("GetInstance", replace(`>abc</KEYVALUE>`, `><VALUE>abc</VALUE></KEYVALUE>`)), notValid)
	add("KEYBINDING as the parameter", op("GetInstance", replace(`<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="CIM_Foo">`, `<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="CIM_Foo"></INSTANCENAME><KEYBINDING NAME="x">`)), notWellFormed)
	add("text in IPARAMVALUE", op("GetInstance", replace(`<IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE>`, `<IPARAMVALUE NAME="LocalOnly">FALSE</IPARAMVALUE>`)), notValid)
	add("text mixed with elements", op("GetInstance", replace(`<LOCALNAMESPACEPATH>`, `<LOCALNAMESPACEPATH>root`)), notValid)
	add("element inside NAMESPACE", op("GetInstance", replace(`<NAMESPACE NAME="root"/>`, `<NAMESPACE NAME="root"><NAMESPACE NAME="x"/></NAMESPACE>`)), notValid)
	add("two values in one IPARAMVALUE", op("GetInstance", replace(`<VALUE>FALSE</VALUE>`, `<VALUE>FALSE</VALUE><VALUE>TRUE</VALUE>`)), notValid)
	add("INSTANCENAME of KEYVALUE and KEYBINDING", op("GetInstance", replace(`<INSTANCENAME CLASSNAME="CIM_Foo">`, `<INSTANCENAME CLASSNAME="CIM_Foo"><KEYVALUE>x</KEYVALUE>`)), notValid)
	add("INSTANCE holding a CLASS", op("CreateInstance", intrinsicBody("CreateInstance", "root/cimv2", iparam("NewInstance", `<INSTANCE CLASSNAME="CIM_Bar"><CLASS NAME="X"></CLASS></INSTANCE>`))), notValid)

	// Unknown elements.
	add("unknown root", op("GetInstance", `<?xml version="1.0"?><FOO/>`), notValid)
	add("unknown element in MESSAGE", op("GetInstance", replace("<SIMPLEREQ>", "<FOO/><SIMPLEREQ>")), notValid)
	add("unknown element in SIMPLEREQ", op("GetInstance", replace("</IMETHODCALL>", "</IMETHODCALL><FOO/>")), notValid)
	add("unknown element in IMETHODCALL", op("GetInstance", replace("</LOCALNAMESPACEPATH>", "</LOCALNAMESPACEPATH><FOO/>")), notValid)
	add("unknown element in LOCALNAMESPACEPATH", op("GetInstance", replace(`<NAMESPACE NAME="root"/>`, `<NAMESPACE NAME="root"/><FOO/>`)), notValid)
	add("unknown element in INSTANCENAME", op("GetInstance", replace(`<KEYBINDING NAME="Name">`, `<FOO/><KEYBINDING NAME="Name">`)), notValid)
	add("unknown element as parameter value", op("GetInstance", replace(`<VALUE>FALSE</VALUE>`, `<FOO/>`)), notValid)
	add("unknown element in INSTANCE", op("CreateInstance", intrinsicBody("CreateInstance", "root/cimv2", iparam("NewInstance", `<INSTANCE CLASSNAME="CIM_Bar"><FOO/></INSTANCE>`))), notValid)
	add("unknown element in CLASS", op("CreateClass", intrinsicBody("CreateClass", "root/cimv2", iparam("NewClass", `<CLASS NAME="X_New"><FOO/></CLASS>`))), notValid)
	add("unknown element in METHOD", op("CreateClass", intrinsicBody("CreateClass", "root/cimv2", iparam("NewClass", `<CLASS NAME="X_New"><METHOD NAME="m" TYPE="uint32"><FOO/></METHOD></CLASS>`))), notValid)
	add("unknown element in METHODCALL", cimRequest("DoIt", `root%2Fcimv2%3ACIM_Foo`, `<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><METHODCALL NAME="DoIt"><LOCALCLASSPATH><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH><CLASSNAME NAME="CIM_Foo"/></LOCALCLASSPATH><FOO/></METHODCALL></SIMPLEREQ></MESSAGE></CIM>`), notValid)
	add("unknown parameter", op("GetInstance", replace(`<IPARAMVALUE NAME="LocalOnly">`, `<IPARAMVALUE NAME="Bogus"><VALUE>1</VALUE></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly">`)), invalidParam)
	add("parameter given twice", op("GetInstance", replace(`<IPARAMVALUE NAME="LocalOnly">`, `<IPARAMVALUE NAME="LocalOnly"><VALUE>TRUE</VALUE></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly">`)), invalidParam)
	add("unknown intrinsic method", cimRequest("Frobnicate", "root%2Fcimv2", intrinsicBody("Frobnicate", "root/cimv2", "")), cimCode("7"))

	// Bad values for every CIM type.
	for _, v := range []struct{ prop, typ, value string }{
		{"PBool", "boolean", "maybe"}, {"PBool", "boolean", "1"},
		{"PChar", "char16", "ab"}, {"PChar", "char16", ""}, {"PChar", "char16", "😀"},
		{"PU8", "uint8", "256"}, {"PU8", "uint8", "-1"}, {"PU8", "uint8", "0x100"},
		{"PS8", "sint8", "128"}, {"PS8", "sint8", "-129"},
		{"PU16", "uint16", "65536"}, {"PS16", "sint16", "-32769"},
		{"PU32", "uint32", "4294967296"}, {"PS32", "sint32", "2147483648"},
		{"PU64", "uint64", "18446744073709551616"}, {"PS64", "sint64", "-9223372036854775809"},
		{"PU32", "uint32", "12abc"}, {"PU32", "uint32", "1.5"},
		{"PR32", "real32", "1e39"}, {"PR32", "real32", "abc"},
		{"PR64", "real64", "1.2.3"}, {"PR64", "real64", "1e400"},
		{"PDt", "datetime", "2024"}, {"PDt", "datetime", "20241301000000.000000+000"},
		{"PDt", "datetime", "20240101000000.000000:001"}, {"PDt", "datetime", "00000000250000.000000:000"},
		{"PU8", "uint7", "1"},
	} {
		add(fmt.Sprintf("bad %s %q", v.typ, v.value), createAllTypes(v.prop, v.typ, v.value), invalidParam)
	}
	key := func(kv string) []byte {
		return op("GetInstance", intrinsicBody("GetInstance", "root/cimv2", iparam("InstanceName", `<INSTANCENAME CLASSNAME="CIM_Bar"><KEYBINDING NAME="Id">`+kv+`</KEYBINDING></INSTANCENAME>`)))
	}
	add("KEYVALUE numeric not a number", key(`<KEYVALUE VALUETYPE="numeric">seven</KEYVALUE>`), invalidParam)
	add("KEYVALUE boolean not a boolean", key(`<KEYVALUE VALUETYPE="boolean">yes</KEYVALUE>`), invalidParam)
	add("KEYVALUE of an unknown VALUETYPE", key(`<KEYVALUE VALUETYPE="float">7</KEYVALUE>`), notValid)
	add("KEYVALUE TYPE out of range", key(`<KEYVALUE VALUETYPE="numeric" TYPE="uint8">300</KEYVALUE>`), invalidParam)
	add("key of the wrong type for the class", key(`<KEYVALUE VALUETYPE="string">seven</KEYVALUE>`), invalidParam)
	add("boolean parameter not a boolean", op("GetInstance", replace(`<VALUE>FALSE</VALUE>`, `<VALUE>nope</VALUE>`)), invalidParam)
	add("negative MaxObjectCount", cimRequest("OpenEnumerateInstances", "root%2Fcimv2", intrinsicBody("OpenEnumerateInstances", "root/cimv2", iparam("ClassName", `<CLASSNAME NAME="CIM_Bar"/>`)+iparam("MaxObjectCount", "<VALUE>-1</VALUE>"))), invalidParam)
	add("class name not a CIM name", op("GetInstance", replace(`CLASSNAME="CIM_Foo"`, `CLASSNAME="9 lives"`)), invalidParam)
	add("embedded instance not well-formed", createEmbedded(`&lt;INSTANCE CLASSNAME="CIM_Bar"&gt;`), invalidParam)

	// Huge and deep documents.
	huge := intrinsicBody("GetInstance", "root/cimv2", getInstanceParams+iparam("Padding", "<VALUE>"+strings.Repeat("x", maxRequestSize+1000)+"</VALUE>"))
	add("body over --max-request-size", op("GetInstance", huge), expect{status: 413})
	add("Content-Length over --max-request-size", []byte(fmt.Sprintf("POST /cimom HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/xml\r\nCIMOperation: MethodCall\r\nCIMMethod: GetInstance\r\nCIMObject: root/cimv2\r\nContent-Length: 1000000000\r\n\r\n<CIM>", authHeader)), expect{status: 413})
	deep := strings.Repeat("<VALUE.ARRAY>", 200) + strings.Repeat("</VALUE.ARRAY>", 200)
	add("200 levels deep", op("GetInstance", replace(`<VALUE>FALSE</VALUE>`, deep)), notValid)
	attrs := `<CLASSNAME NAME="CIM_Bar"`
	for i := 0; i < 5000; i++ {
		attrs += fmt.Sprintf(` a%d="x"`, i)
	}
	add("5000 attributes", cimRequest("EnumerateInstanceNames", "root%2Fcimv2", intrinsicBody("EnumerateInstanceNames", "root/cimv2", iparam("ClassName", attrs+"/>"))), notValid)
	var many strings.Builder
	for i := 0; many.Len() < maxRequestSize*3/4; i++ {
		fmt.Fprintf(&many, `<IPARAMVALUE NAME="P%d"><VALUE>%d</VALUE></IPARAMVALUE>`, i, i)
	}
	add("40,000 parameters within the size limit", cimRequest("EnumerateInstanceNames", "root%2Fcimv2", intrinsicBody("EnumerateInstanceNames", "root/cimv2", iparam("ClassName", `<CLASSNAME NAME="CIM_Bar"/>`)+many.String())), invalidParam)
	add("a 1 MB class name", cimRequest("EnumerateInstanceNames", "root%2Fcimv2", intrinsicBody("EnumerateInstanceNames", "root/cimv2", iparam("ClassName", `<CLASSNAME NAME="C`+strings.Repeat("x", 1<<20)+`"/>`))), cimCode("5"))

	// Entity tricks: nothing is ever expanded or fetched.
	add("billion laughs", op("GetInstance", `<?xml version="1.0"?><!DOCTYPE CIM [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>`+strings.TrimPrefix(full, `<?xml version="1.0" encoding="utf-8" ?>`)), notValid)
	add("external entity (XXE)", op("GetInstance", `<?xml version="1.0"?><!DOCTYPE CIM [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`+strings.Replace(strings.TrimPrefix(full, `<?xml version="1.0" encoding="utf-8" ?>`), ">abc<", ">&xxe;<", 1)), notValid)
	add("parameter entity", op("GetInstance", `<!DOCTYPE CIM [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>`+strings.TrimPrefix(full, `<?xml version="1.0" encoding="utf-8" ?>`)), notValid)
	add("undefined entity", op("GetInstance", replace(">abc<", ">&undefined;<")), notWellFormed)
	add("entity in an attribute", op("GetInstance", replace(`CLASSNAME="CIM_Foo"`, `CLASSNAME="&x;"`)), notWellFormed)
	add("NUL character reference", op("GetInstance", replace(">abc<", ">&#0;<")), notWellFormed)
	add("raw NUL byte", op("GetInstance", replace(">abc<", ">a\x00c<")), notWellFormed)
	add("invalid UTF-8", op("GetInstance", replace(">abc<", ">a\xff\xfec<")), notWellFormed)
	add("UTF-16 declared", op("GetInstance", strings.Replace(full, `encoding="utf-8"`, `encoding="UTF-16"`, 1)), notWellFormed)
	add("Latin-1 declared", op("GetInstance", strings.Replace(full, `encoding="utf-8"`, `encoding="ISO-8859-1"`, 1)), notWellFormed)
	add("unterminated CDATA", op("GetInstance", replace(">abc<", "><![CDATA[abc<")), notWellFormed)
	add("external DTD reference is ignored", op("GetInstance", `<?xml version="1.0" encoding="utf-8"?><!DOCTYPE CIM SYSTEM "http://127.0.0.1:1/CIM_DTD_V22.dtd">`+strings.TrimPrefix(full, `<?xml version="1.0" encoding="utf-8" ?>`)), success)

	// Wrong headers.
	h := func(name string, want expect, headers ...string) {
		add(name, withHeaders("POST", headers...), want)
	}
	h("no CIMOperation", unsupportedOp, stdHeaders("CIMOperation")...)
	h("CIMOperation MethodResponse", unsupportedOp, stdHeaders("CIMOperation", "CIMOperation: MethodResponse")...)
	h("CIMExport instead of CIMOperation", unsupportedOp, stdHeaders("CIMOperation", "CIMExport: MethodRequest", "CIMExportMethod: ExportIndication")...)
	h("no CIMMethod", headerMism, stdHeaders("CIMMethod")...)
	h("CIMMethod not the body's", headerMism, stdHeaders("CIMMethod", "CIMMethod: GetClass")...)
	h("no CIMObject", headerMism, stdHeaders("CIMObject")...)
	h("CIMObject not the body's namespace", headerMism, stdHeaders("CIMObject", "CIMObject: root%2Finterop")...)
	h("CIMObject badly percent-encoded", headerMism, stdHeaders("CIMObject", "CIMObject: root%zzcimv2")...)
	h("CIMObject raw, as pywbem sends it", success, stdHeaders("CIMObject", "CIMObject: root/cimv2")...)
	h("Content-Type text/plain", notValid, stdHeaders("Content-Type", "Content-Type: text/plain")...)
	h("no Content-Type", notValid, stdHeaders("Content-Type")...)
	h("Latin-1 charset", notValid, stdHeaders("Content-Type", "Content-Type: application/xml; charset=iso-8859-1")...)
	h("text/xml is accepted", success, stdHeaders("Content-Type", "Content-Type: text/xml")...)
	h("CIMProtocolVersion 2.0", expect{status: 501, cimError: "unsupported-protocol-version"}, stdHeaders("", "CIMProtocolVersion: 2.0")...)
	h("CIMBatch", expect{status: 501, cimError: "multiple-requests-unsupported"}, stdHeaders("", "CIMBatch: CIMBatch")...)
	h("Accept application/json", expect{status: 406}, stdHeaders("", "Accept: application/json")...)
	h("Accept-Charset Latin-1 only", expect{status: 406}, stdHeaders("", "Accept-Charset: iso-8859-1")...)
	add("CIMVERSION 3.0", op("GetInstance", strings.Replace(full, `CIMVERSION="2.0"`, `CIMVERSION="3.0"`, 1)), expect{status: 501, cimError: "unsupported-cim-version"})
	add("DTDVERSION 3.0", op("GetInstance", strings.Replace(full, `DTDVERSION="2.0"`, `DTDVERSION="3.0"`, 1)), expect{status: 501, cimError: "unsupported-dtd-version"})
	add("PROTOCOLVERSION 2.0", op("GetInstance", strings.Replace(full, `PROTOCOLVERSION="1.0"`, `PROTOCOLVERSION="2.0"`, 1)), expect{status: 501, cimError: "unsupported-protocol-version"})
	add("MULTIREQ", op("GetInstance", strings.NewReplacer("<SIMPLEREQ>", "<MULTIREQ><SIMPLEREQ>", "</SIMPLEREQ>", "</SIMPLEREQ></MULTIREQ>").Replace(full)), expect{status: 501, cimError: "multiple-requests-unsupported"})
	add("M-POST without Man", withHeaders("M-POST", stdHeaders("")...), expect{status: 510})
	add("M-POST with unprefixed CIM headers", withHeaders("M-POST", stdHeaders("", "Man: http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=11")...), unsupportedOp)
	add("M-POST", withHeaders("M-POST", authHeader, "Content-Type: application/xml", "Man: http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=11", "11-CIMOperation: MethodCall", "11-CIMMethod: GetInstance", "11-CIMObject: root/cimv2"), success)
	add("extrinsic CIMObject naming another class", cimRequest("DoIt", `root%2Fcimv2%3ACIM_Bar.Id=7`, `<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><METHODCALL NAME="DoIt"><LOCALCLASSPATH><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH><CLASSNAME NAME="CIM_Foo"/></LOCALCLASSPATH></METHODCALL></SIMPLEREQ></MESSAGE></CIM>`), headerMism)
	authFail := func(name string, headers ...string) {
		cs = append(cs, malformedCase{name: name, raw: withHeaders("POST", headers...), want: expect{status: 401}, from: "127.0.0.3"})
	}
	authFail("no Authorization", stdHeaders("Authorization")...)
	authFail("Digest credentials", stdHeaders("Authorization", `Authorization: Digest username="tester", realm="hypercim", nonce="x", uri="/cimom", response="0"`)...)
	authFail("Basic credentials not base64", stdHeaders("Authorization", "Authorization: Basic !!!")...)
	authFail("wrong password", stdHeaders("Authorization", "Authorization: Basic "+basic(adminUser, "wrong"))...)
	add("missing Host", []byte(strings.Replace(string(op("GetInstance", full)), "Host: "+srv.httpAddr+"\r\n", "", 1)), expect{status: 400})

	// Wrong methods and paths.
	for _, m := range []string{"GET", "PUT", "DELETE", "PATCH", "TRACE"} {
		add("method "+m, withHeaders(m, stdHeaders("")...), expect{status: 405})
	}
	add("POST to another path", []byte(strings.Replace(string(op("GetInstance", full)), "POST /cimom ", "POST /other ", 1)), expect{status: 404})
	add("POST to /", []byte(strings.Replace(string(op("GetInstance", full)), "POST /cimom ", "POST / ", 1)), expect{status: 404})

	// Bad Content-Length and framing.
	framing := func(name, lengthHeaders, body string, want expect) {
		raw := fmt.Sprintf("POST /cimom HTTP/1.1\r\nHost: x\r\n%s\r\n%s\r\n%sConnection: close\r\n\r\n%s", strings.Join(stdHeaders(""), "\r\n"), "CIMProtocolVersion: 1.0", lengthHeaders, body)
		add(name, []byte(raw), want)
	}
	framing("Content-Length not a number", "Content-Length: ten\r\n", full, expect{status: 400})
	framing("negative Content-Length", "Content-Length: -5\r\n", full, expect{status: 400})
	framing("two different Content-Lengths", fmt.Sprintf("Content-Length: %d\r\nContent-Length: 12\r\n", len(full)), full, expect{status: 400})
	framing("Content-Length shorter than the body", "Content-Length: 50\r\n", full, notWellFormed)
	framing("Content-Length longer than the body", fmt.Sprintf("Content-Length: %d\r\n", len(full)+100), full, expect{status: 400})
	framing("chunked body", "Transfer-Encoding: chunked\r\n", fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(full), full), success)
	framing("bad chunk size", "Transfer-Encoding: chunked\r\n", "zz\r\n"+full+"\r\n0\r\n\r\n", expect{status: 400})
	return cs
}

// cimErrorHeader returns the CIMError header, under the header namespace
// of an M-POST answer when there is one ("11-CIMError").
func cimErrorHeader(h http.Header) string {
	if v := h.Get("CIMError"); v != "" {
		return v
	}
	for k, v := range h {
		if strings.HasSuffix(k, "-Cimerror") && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func createEmbedded(escaped string) []byte {
	body := `<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><METHODCALL NAME="Embed"><LOCALINSTANCEPATH><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="test"/></LOCALNAMESPACEPATH><INSTANCENAME CLASSNAME="T_Dynamic"><KEYBINDING NAME="Id"><KEYVALUE>x</KEYVALUE></KEYBINDING></INSTANCENAME></LOCALINSTANCEPATH><PARAMVALUE NAME="Item" PARAMTYPE="string" EmbeddedObject="instance"><VALUE>` + escaped + `</VALUE></PARAMVALUE></METHODCALL></SIMPLEREQ></MESSAGE></CIM>`
	return cimRequest("Embed", `root%2Ftest%3AT_Dynamic.Id="x"`, body)
}

// TestMalformedRequests sends each malformed or hostile request on a
// connection of its own and checks the exact answer, then that the server
// still answers a valid request.
func TestMalformedRequests(t *testing.T) {
	cases := malformedCases()
	if len(cases) < 100 {
		t.Fatalf("only %d malformed cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := rawRequest(t, c.from, c.raw)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			got := expect{status: resp.StatusCode, cimError: cimErrorHeader(resp.Header), code: errorCode(resp.body)}
			if got != c.want {
				t.Fatalf("got HTTP %d CIMError %q code %q, want HTTP %d CIMError %q code %q\n%.600s",
					got.status, got.cimError, got.code, c.want.status, c.want.cimError, c.want.code, resp.body)
			}
			if c.want.status == 200 {
				validateDTD(t, resp.body)
			}
			if c.want.status == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="hypercim"` {
				t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
			checkAlive(t)
		})
	}
}

// TestSlowloris holds connections that send their request a byte at a
// time: the server keeps answering others meanwhile and drops the slow
// ones after --read-header-timeout (headers) and --read-timeout (body).
func TestSlowloris(t *testing.T) {
	for _, c := range []struct {
		name    string
		prefix  string // sent at once
		trickle string // then one byte every 200 ms
	}{
		{"headers", "", "POST /cimom HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\nCIMOperation: MethodCall\r\n"},
		{"body", fmt.Sprintf("POST /cimom HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: 4000\r\n\r\n", strings.Join(stdHeaders(""), "\r\n")), getInstance()},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.httpAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.prefix); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			closed := make(chan time.Duration, 1)
			go func() {
				// The server's answer, or the end of the connection.
				br := bufio.NewReader(conn)
				resp, err := http.ReadResponse(br, nil)
				if err == nil {
					resp.Body.Close()
				}
				closed <- time.Since(start)
			}()
			for i := 0; i < len(c.trickle); i++ {
				select {
				case d := <-closed:
					if d < time.Second {
						t.Fatalf("the slow connection was dropped after only %v", d)
					}
					if d > 15*time.Second {
						t.Fatalf("the slow connection lived %v", d)
					}
					return
				case <-time.After(200 * time.Millisecond):
				}
				conn.Write([]byte{c.trickle[i]})
				if i%5 == 0 {
					checkAlive(t)
				}
			}
			t.Fatalf("the server accepted a request trickled over %v", time.Since(start))
		})
	}
}
