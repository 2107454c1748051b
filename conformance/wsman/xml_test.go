package wsmanconformance

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// Envelope builders and readers shared by the tests.

const (
	dmtfPrefix   = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
	vendorPrefix = "http://schemas.hypercim.org/wbem/wscim/1/cim-schema/2/"
	allClasses   = "http://schemas.dmtf.org/wbem/wscim/1/*"
	actGet       = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
	actEnumerate = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
	actPull      = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull"
)

// soap builds a request as openwsman's wsman CLI writes it.
func soap(action, resourceURI, headers, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><s:Header>` +
		`<wsa:Action s:mustUnderstand="true">` + action + `</wsa:Action><wsa:To s:mustUnderstand="true">http://localhost/wsman</wsa:To>` +
		`<wsman:ResourceURI s:mustUnderstand="true">` + resourceURI + `</wsman:ResourceURI>` +
		`<wsa:MessageID s:mustUnderstand="true">uuid:6b1f6f7e-0c1a-4c5e-9a39-3c1b8a1e0001</wsa:MessageID>` +
		`<wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>` +
		headers + `</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
}

func selectorSet(kv ...string) string {
	var b strings.Builder
	b.WriteString("<wsman:SelectorSet>")
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, `<wsman:Selector Name="%s">%s</wsman:Selector>`, kv[i], kv[i+1])
	}
	b.WriteString("</wsman:SelectorSet>")
	return b.String()
}

// parse reads an answer; a test fails on an answer that is not XML.
func parse(t testing.TB, raw string) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(raw); err != nil {
		t.Fatalf("the answer is not XML: %v\n%.2000s", err, raw)
	}
	return doc
}

// text returns the trimmed text of the first element at path ("" if none).
func text(doc *etree.Document, path string) string {
	if e := doc.FindElement(path); e != nil {
		return strings.TrimSpace(e.Text())
	}
	return ""
}

// fault returns the subcode and fault detail (tail of the URI) of a fault
// answer, or "" for other answers.
func fault(doc *etree.Document) (subcode, detail string) {
	if doc.FindElement("//Body/Fault") == nil {
		return "", ""
	}
	subcode = text(doc, "//Body/Fault/Code/Subcode/Value")
	if subcode == "" {
		subcode = text(doc, "//Body/Fault/Code/Value")
	}
	detail = text(doc, "//Body/Fault/Detail/FaultDetail")
	detail = strings.TrimPrefix(detail, "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/")
	return subcode, detail
}

// enumerate runs an optimized enumeration to its end, checking the end
// rules, and returns the items (children of Items) in order.
func enumerate(t testing.TB, s *server, uri, headers, body string, maxElements int) []*etree.Element {
	t.Helper()
	enum := fmt.Sprintf(`<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>%d</wsman:MaxElements>%s</wsen:Enumerate>`, maxElements, body)
	st, raw := s.post(t, soap(actEnumerate, uri, headers, enum))
	if st != 200 {
		t.Fatalf("Enumerate %s: %d\n%.3000s", uri, st, raw)
	}
	doc := parse(t, raw)
	var items []*etree.Element
	if it := doc.FindElement("//EnumerateResponse/Items"); it != nil {
		items = append(items, it.ChildElements()...)
	}
	ctx := doc.FindElement("//EnumerateResponse/EnumerationContext")
	if ctx == nil {
		t.Fatalf("no EnumerationContext:\n%.3000s", raw)
	}
	if end := doc.FindElement("//EnumerateResponse/EndOfSequence") != nil; end != (strings.TrimSpace(ctx.Text()) == "") {
		t.Fatalf("optimized end rule broken:\n%.3000s", raw)
	}
	for c := strings.TrimSpace(ctx.Text()); c != ""; {
		st, raw = s.post(t, soap(actPull, uri, headers, fmt.Sprintf(`<wsen:Pull><wsen:EnumerationContext>%s</wsen:EnumerationContext><wsen:MaxElements>%d</wsen:MaxElements></wsen:Pull>`, c, maxElements)))
		if st != 200 {
			t.Fatalf("Pull: %d\n%.3000s", st, raw)
		}
		doc = parse(t, raw)
		if it := doc.FindElement("//PullResponse/Items"); it != nil {
			items = append(items, it.ChildElements()...)
		}
		next := doc.FindElement("//PullResponse/EnumerationContext")
		if end := doc.FindElement("//PullResponse/EndOfSequence") != nil; end != (next == nil) {
			t.Fatalf("pull end rule broken:\n%.3000s", raw)
		}
		c = ""
		if next != nil {
			c = strings.TrimSpace(next.Text())
		}
	}
	return items
}

// cimxmlCall sends one CIM-XML intrinsic operation and returns the answer.
func cimxmlCall(t testing.TB, s *server, method, ns, params string) *etree.Document {
	t.Helper()
	var nsPath strings.Builder
	for _, part := range strings.Split(ns, "/") {
		fmt.Fprintf(&nsPath, `<NAMESPACE NAME="%s"/>`, part)
	}
	body := `<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="` + method +
		`"><LOCALNAMESPACEPATH>` + nsPath.String() + `</LOCALNAMESPACEPATH>` + params + `</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`
	req, err := http.NewRequest("POST", s.cimxmlURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	req.Header.Set("CIMOperation", "MethodCall")
	req.Header.Set("CIMMethod", method)
	req.Header.Set("CIMObject", ns)
	req.SetBasicAuth(s.user, s.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("CIM-XML %s: %d %s\n%s", method, resp.StatusCode, resp.Header.Get("CIMError"), data)
	}
	return parse(t, string(data))
}

func itoa(n int) string { return strconv.Itoa(n) }
