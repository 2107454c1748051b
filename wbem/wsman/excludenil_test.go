package wsman

import "testing"

// TestExcludeNilProperties: openwsman's ExcludeNilProperties option (an
// OptionSet option, in openwsman's namespace as its client sends it, or in
// WS-Management's with a value) leaves
// NULL properties out of Get and Enumerate answers; without it, or set
// to false, each NULL property is an empty element with xsi:nil="true".
// The non-NULL properties are there either way.
func TestExcludeNilProperties(t *testing.T) {
	s := newTestServer(t)
	option := func(value string) string {
		return `<wsman:OptionSet s:mustUnderstand="true"><wsman:Option Name="ExcludeNilProperties">` + value + `</wsman:Option></wsman:OptionSet>`
	}
	// T_Static s1 has Id, Name and Count (7 by default); Extra is NULL.
	check := func(name string, inst *element, raw string, wantNil bool) {
		t.Helper()
		if inst == nil {
			t.Fatalf("%s: no T_Static in the answer\n%.2000s", name, raw)
		}
		if path(inst, "Id").TrimmedText() != "s1" || path(inst, "Name").TrimmedText() != "static one" || path(inst, "Count").TrimmedText() != "7" {
			t.Errorf("%s: the non-NULL properties are not all there\n%.2000s", name, raw)
		}
		extra := path(inst, "Extra")
		switch {
		case wantNil && extra == nil:
			t.Errorf("%s: the NULL property Extra is missing\n%.2000s", name, raw)
		case wantNil && (nilAttr(extra) != "true" || extra.TrimmedText() != "" || len(extra.Children) != 0):
			t.Errorf("%s: the NULL property Extra is not an empty element with xsi:nil=\"true\"\n%.2000s", name, raw)
		case !wantNil && extra != nil:
			t.Errorf("%s: the NULL property Extra is there despite ExcludeNilProperties\n%.2000s", name, raw)
		}
	}
	for _, c := range []struct {
		name    string
		headers string
		wantNil bool
	}{
		{"no option", "", true},
		// openwsman's client library (flag FLAG_EXCLUDE_NIL_PROPS)
		// writes the option in its own namespace, without a value.
		{"openwsman's form", `<wsman:OptionSet><ow:Option xmlns:ow="http://schema.openwsman.org/2006/openwsman" Name="ExcludeNilProperties"/></wsman:OptionSet>`, false},
		{"ExcludeNilProperties=true", option("true"), false},
		{"ExcludeNilProperties=TRUE", option("TRUE"), false},
		{"ExcludeNilProperties without value", option(""), false},
		{"ExcludeNilProperties=false", option("false"), true},
	} {
		st, root, raw := s.post(t, envelope(actionGet, uriStatic, selectors("Id", "s1")+c.headers, ""))
		if st != 200 {
			t.Fatalf("Get, %s: %d\n%.2000s", c.name, st, raw)
		}
		check("Get, "+c.name, path(root, "Body/T_Static"), raw, c.wantNil)

		st, root, raw = s.post(t, envelope(actionEnumerate, uriStatic, c.headers,
			`<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>10</wsman:MaxElements><wsman:EnumerationMode>EnumerateObjectAndEPR</wsman:EnumerationMode></wsen:Enumerate>`))
		if st != 200 {
			t.Fatalf("Enumerate, %s: %d\n%.2000s", c.name, st, raw)
		}
		var s1 *element
		for _, inst := range all(path(root, "Body/EnumerateResponse/Items"), "T_Static") {
			if path(inst, "Id").TrimmedText() == "s1" {
				s1 = inst
			}
		}
		check("Enumerate, "+c.name, s1, raw, c.wantNil)
	}
}

func nilAttr(e *element) string {
	v, _ := e.AttrNS(nsXSI, "nil")
	return v
}
