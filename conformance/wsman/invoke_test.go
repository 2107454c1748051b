package wsmanconformance

import (
	"strings"
	"testing"
)

// TestInvokeParameters calls the test provider's T_Dynamic methods through
// WS-Man: IN/OUT parameters, a static method, embedded instances in and
// out, an EPR parameter with an array, and a failing method whose CIM
// status reaches the fault detail.
func TestInvokeParameters(t *testing.T) {
	s := startServer(t)
	td := dmtfPrefix + "T_Dynamic"
	ts := dmtfPrefix + "T_Static"
	sel := selectorSet("Id", "d1")
	call := func(method, headers, body string) (int, string) {
		return s.post(t, soap(td+"/"+method, td, headers, body))
	}
	st, raw := s.post(t, soap("http://schemas.xmlsoap.org/ws/2004/09/transfer/Create", td, "",
		`<p:T_Dynamic xmlns:p="`+td+`"><p:Id>d1</p:Id><p:Name>dynamic</p:Name><p:Size>10</p:Size></p:T_Dynamic>`))
	if st != 200 {
		t.Fatalf("Create: %d %s", st, raw)
	}
	for _, c := range []struct {
		name, method, headers, body string
		status                      int
		want                        []string
	}{
		{"IN/OUT", "Resize", sel, `<p:Resize_INPUT xmlns:p="` + td + `"><p:NewSize>20</p:NewSize><p:Note>hi</p:Note></p:Resize_INPUT>`, 200,
			[]string{"<p:ReturnValue>0</p:ReturnValue>", "<p:OldSize>10</p:OldSize>", "<p:Note>hi!</p:Note>"}},
		{"static", "Hello", "", `<p:Hello_INPUT xmlns:p="` + td + `"><p:Who>wsman</p:Who></p:Hello_INPUT>`, 200,
			[]string{"<p:ReturnValue>hello wsman</p:ReturnValue>"}},
		{"embedded instance", "Embed", sel, `<p:Embed_INPUT xmlns:p="` + td + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><p:Item xmlns:q="` + ts + `" xsi:type="q:T_Static_Type"><q:Id>e1</q:Id><q:Name>inner</q:Name></p:Item></p:Embed_INPUT>`, 200,
			[]string{"<p:ReturnValue>0</p:ReturnValue>", `xsi:type="e1:T_Static_Type"`, "<e1:Name>copy of inner</e1:Name>", "<e1:Id>e1</e1:Id>"}},
		{"EPR and array", "Point", sel, `<p:Point_INPUT xmlns:p="` + td + `"><p:Target><wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address><wsa:ReferenceParameters><wsman:ResourceURI>` + ts + `</wsman:ResourceURI>` + selectorSet("Id", "s1") + `</wsa:ReferenceParameters></p:Target><p:Codes>1</p:Codes><p:Codes>2</p:Codes><p:Codes>3</p:Codes></p:Point_INPUT>`, 200,
			[]string{"<p:ReturnValue>3</p:ReturnValue>", "<p:Echo><wsa:Address>", `<wsman:Selector Name="Id">s1</wsman:Selector>`}},
		{"failure", "Fail", sel, "", 500,
			[]string{"wsman:InternalError", "<e:CIMStatusCode>1</e:CIMStatusCode>", "Fail always fails"}},
		{"mistyped parameter", "Resize", sel, `<p:Resize_INPUT xmlns:p="` + td + `"><p:NewSize>big</p:NewSize></p:Resize_INPUT>`, 400,
			[]string{"wsman:InvalidParameter"}},
	} {
		st, raw := call(c.method, c.headers, c.body)
		if st != c.status {
			t.Errorf("%s: status %d, want %d\n%.1500s", c.name, st, c.status, raw)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(raw, w) {
				t.Errorf("%s: answer lacks %s\n%.1500s", c.name, w, raw)
			}
		}
	}
	// The method changed the instance.
	st, raw = s.post(t, soap(actGet, td, sel, ""))
	if st != 200 || text(parse(t, raw), "//Body/T_Dynamic/Size") != "20" {
		t.Errorf("after Resize: %d %s", st, raw)
	}
}
