package wsman

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func pullBody(ctx, extra string) string {
	return `<wsen:Pull><wsen:EnumerationContext>` + ctx + `</wsen:EnumerationContext>` + extra + `</wsen:Pull>`
}

// enumerateAll runs an enumeration to its end and returns the items of
// every response (by local names of the Items' children) and the number of
// responses; it checks the end rules on the way.
func enumerateAll(t *testing.T, s *testServer, uri, headers, enumBody string, pullMax int) ([]*element, int) {
	t.Helper()
	st, root, raw := s.post(t, envelope(actionEnumerate, uri, headers, enumBody))
	if st != 200 {
		t.Fatalf("Enumerate: %d %s", st, raw)
	}
	resp := path(root, "Body/EnumerateResponse")
	var items []*element
	if it := path(resp, "Items"); it != nil {
		items = append(items, it.Children...)
	}
	ctxEl := path(resp, "EnumerationContext")
	if ctxEl == nil {
		t.Fatalf("EnumerateResponse without EnumerationContext: %s", raw)
	}
	eos := path(resp, "EndOfSequence") != nil
	if eos != (ctxEl.TrimmedText() == "") {
		t.Fatalf("optimized end rule broken (EndOfSequence=%v, context %q): %s", eos, ctxEl.TrimmedText(), raw)
	}
	responses := 1
	ctx := ctxEl.TrimmedText()
	for ctx != "" {
		extra := ""
		if pullMax > 0 {
			extra = fmt.Sprintf("<wsen:MaxElements>%d</wsen:MaxElements>", pullMax)
		}
		st, root, raw = s.post(t, envelope(actionPull, uri, headers, pullBody(ctx, extra)))
		if st != 200 {
			t.Fatalf("Pull: %d %s", st, raw)
		}
		responses++
		pr := path(root, "Body/PullResponse")
		if it := path(pr, "Items"); it != nil {
			items = append(items, it.Children...)
		}
		c := path(pr, "EnumerationContext")
		end := path(pr, "EndOfSequence") != nil
		if end != (c == nil) {
			t.Fatalf("pull end rule broken (EndOfSequence=%v, context present=%v): %s", end, c != nil, raw)
		}
		if end && path(pr, "Items") == nil && len(items) > 0 {
			t.Errorf("the last PullResponse carries no items: %s", raw)
		}
		ctx = ""
		if c != nil {
			ctx = c.TrimmedText()
		}
		if responses > 10000 {
			t.Fatal("enumeration does not end")
		}
	}
	return items, responses
}

func localNames(items []*element) string {
	var s []string
	for _, i := range items {
		s = append(s, i.Local)
	}
	return strings.Join(s, ",")
}

func TestEnumerateEndRules(t *testing.T) {
	s := newTestServer(t)
	// Optimized, everything in the first response: empty context.
	items, n := enumerateAll(t, s, uriCS, "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>10</wsman:MaxElements></wsen:Enumerate>`, 0)
	if n != 1 || localNames(items) != "CIM_ComputerSystem,HC_ComputerSystem" {
		t.Fatalf("optimized: %d responses, items %s", n, localNames(items))
	}
	// Optimized with one per response: one Pull, the last one.
	items, n = enumerateAll(t, s, uriCS, "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1</wsman:MaxElements></wsen:Enumerate>`, 1)
	if n != 2 || len(items) != 2 {
		t.Fatalf("optimized by one: %d responses, %d items", n, len(items))
	}
	// Plain: the Enumerate returns no items, each Pull one (the default).
	items, n = enumerateAll(t, s, uriCS, "", `<wsen:Enumerate/>`, 0)
	if n != 3 || len(items) != 2 {
		t.Fatalf("plain: %d responses, %d items", n, len(items))
	}
	if s.core.OpenEnumerations() != 0 || len(s.handler.enums.drain()) != 0 {
		t.Errorf("contexts left open: core %d, adapter %d", s.core.OpenEnumerations(), len(s.handler.enums.m))
	}
}

func TestEnumerationModes(t *testing.T) {
	s := newTestServer(t)
	items, _ := enumerateAll(t, s, uriCS, "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>5</wsman:MaxElements><wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode></wsen:Enumerate>`, 5)
	if localNames(items) != "EndpointReference,EndpointReference" {
		t.Fatalf("EPR mode: %s", localNames(items))
	}
	if got := path(items[1], "ReferenceParameters/ResourceURI").TrimmedText(); got != uriHC {
		t.Errorf("EPR resource URI %q", got)
	}
	items, _ = enumerateAll(t, s, uriCS, "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>5</wsman:MaxElements><wsman:EnumerationMode>EnumerateObjectAndEPR</wsman:EnumerationMode></wsen:Enumerate>`, 5)
	if localNames(items) != "Item,Item" || path(items[0], "CIM_ComputerSystem") == nil || path(items[0], "EndpointReference") == nil {
		t.Fatalf("ObjectAndEPR mode: %s", localNames(items))
	}
	// PolymorphismMode None keeps only the class itself; Exclude renders
	// every instance as the requested class.
	items, _ = enumerateAll(t, s, uriCS, "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>5</wsman:MaxElements><wsmb:PolymorphismMode>None</wsmb:PolymorphismMode></wsen:Enumerate>`, 5)
	if localNames(items) != "CIM_ComputerSystem" {
		t.Fatalf("PolymorphismMode None: %s", localNames(items))
	}
	items, _ = enumerateAll(t, s, uriCS, "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>5</wsman:MaxElements><wsmb:PolymorphismMode>ExcludeSubClassProperties</wsmb:PolymorphismMode></wsen:Enumerate>`, 5)
	if localNames(items) != "CIM_ComputerSystem,CIM_ComputerSystem" {
		t.Fatalf("PolymorphismMode Exclude: %s", localNames(items))
	}
}

func TestEnumerateFilters(t *testing.T) {
	s := newTestServer(t)
	opt := `<wsman:OptimizeEnumeration/><wsman:MaxElements>50</wsman:MaxElements>`
	cases := []struct {
		name, uri, body, want string
	}{
		{"WQL", AllClassesURI, `<wsman:Filter Dialect="` + dialectWQLMicrosft + `">select * from CIM_ComputerSystem where Name='vm1'</wsman:Filter>`, "HC_ComputerSystem"},
		{"DMTF WQL", AllClassesURI, `<wsman:Filter Dialect="` + dialectWQL + `">SELECT * FROM HC_ComputerSystem</wsman:Filter>`, "HC_ComputerSystem"},
		{"CQL on a class URI", uriCS, `<wsman:Filter Dialect="` + dialectCQL + `">select * from CIM_ComputerSystem where EnabledState = 2</wsman:Filter>`, "CIM_ComputerSystem"},
		{"WinRM URI", WMIPrefix + "root/virt/*", `<wsman:Filter Dialect="` + dialectWQLMicrosft + `">select * from CIM_LogicalDevice</wsman:Filter>`, "CIM_LogicalDisk"},
		{"SelectorFilter", uriCS, `<wsman:Filter Dialect="` + dialectSelector + `"><wsman:SelectorSet><wsman:Selector Name="Name">host1</wsman:Selector></wsman:SelectorSet></wsman:Filter>`, "CIM_ComputerSystem"},
		{"associators", AllClassesURI, `<wsman:Filter Dialect="` + dialectAssociation + `"><wsmb:AssociatedInstances><wsmb:Object><wsa:Address>` + anonymousAddress + `</wsa:Address><wsa:ReferenceParameters><wsman:ResourceURI>` + uriCS + `</wsman:ResourceURI>` + selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1") + `</wsa:ReferenceParameters></wsmb:Object><wsmb:AssociationClassName>CIM_SystemDevice</wsmb:AssociationClassName><wsmb:Role>GroupComponent</wsmb:Role><wsmb:ResultClassName>CIM_LogicalDevice</wsmb:ResultClassName><wsmb:ResultRole>PartComponent</wsmb:ResultRole></wsmb:AssociatedInstances></wsman:Filter>`, "CIM_LogicalDisk"},
		{"references", AllClassesURI, `<wsman:Filter Dialect="` + dialectAssociation + `"><wsmb:AssociationInstances><wsmb:Object><wsa:Address>` + anonymousAddress + `</wsa:Address><wsa:ReferenceParameters><wsman:ResourceURI>` + uriCS + `</wsman:ResourceURI>` + selectors("CreationClassName", "CIM_ComputerSystem", "Name", "host1") + `</wsa:ReferenceParameters></wsmb:Object><wsmb:Role>GroupComponent</wsmb:Role><wsmb:ResultClassName>CIM_SystemDevice</wsmb:ResultClassName></wsmb:AssociationInstances></wsman:Filter>`, "CIM_SystemDevice"},
		{"association text form", AllClassesURI, `<wsman:Filter Dialect="` + dialectAssociation + `">` + uriCS + `?CreationClassName=CIM_ComputerSystem,Name=host1</wsman:Filter>`, "CIM_LogicalDisk"},
	}
	for _, c := range cases {
		items, _ := enumerateAll(t, s, c.uri, "", `<wsen:Enumerate>`+opt+c.body+`</wsen:Enumerate>`, 50)
		if got := localNames(items); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	// The association's references render as EPRs.
	items, _ := enumerateAll(t, s, AllClassesURI, "", `<wsen:Enumerate>`+opt+cases[6].body+`</wsen:Enumerate>`, 50)
	if path(items[0], "GroupComponent/ReferenceParameters/ResourceURI").TrimmedText() != uriCS {
		t.Errorf("reference property not an EPR")
	}
}

func TestEnumerateFaults(t *testing.T) {
	s := newTestServer(t)
	cases := []struct {
		name, uri, body string
		status          int
		sub, detail     string
	}{
		{"no filter on *", AllClassesURI, `<wsen:Enumerate/>`, 400, "wsman:UnsupportedFeature", detailFilteringRequired},
		{"unknown dialect", AllClassesURI, `<wsen:Enumerate><wsman:Filter Dialect="urn:x">x</wsman:Filter></wsen:Enumerate>`, 400, "wsen:FilterDialectRequestedUnavailable", ""},
		{"bad WQL", AllClassesURI, `<wsen:Enumerate><wsman:Filter Dialect="` + dialectWQL + `">select from</wsman:Filter></wsen:Enumerate>`, 400, "wsman:CannotProcessFilter", ""},
		{"bad mode", uriCS, `<wsen:Enumerate><wsman:EnumerationMode>EnumerateEverything</wsman:EnumerationMode></wsen:Enumerate>`, 400, "wsman:UnsupportedFeature", detailEnumerationMode},
		{"bad polymorphism", uriCS, `<wsen:Enumerate><wsmb:PolymorphismMode>Some</wsmb:PolymorphismMode></wsen:Enumerate>`, 400, "wsmb:PolymorphismModeNotSupported", ""},
		{"bad MaxElements", uriCS, `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>-3</wsman:MaxElements></wsen:Enumerate>`, 400, "wsman:SchemaValidationError", ""},
		{"expires too long", uriCS, `<wsen:Enumerate><wsen:Expires>P10Y</wsen:Expires></wsen:Enumerate>`, 400, "wsen:InvalidExpirationTime", ""},
		{"expires as date", uriCS, `<wsen:Enumerate><wsen:Expires>2030-01-01T00:00:00Z</wsen:Expires></wsen:Enumerate>`, 400, "wsen:UnsupportedExpirationType", ""},
		{"unknown class", DMTFClassPrefix + "CIM_Nope", `<wsen:Enumerate/>`, 400, "wsa:DestinationUnreachable", detailInvalidResourceURI},
	}
	for _, c := range cases {
		st, root, raw := s.post(t, envelope(actionEnumerate, c.uri, "", c.body))
		_, sub, detail := faultOf(root)
		if st != c.status || sub != c.sub || detail != c.detail {
			t.Errorf("%s: got %d %s %s, want %d %s %s\n%s", c.name, st, sub, detail, c.status, c.sub, c.detail, raw)
		}
	}
	// Pull and Release of unknown and released contexts.
	st, root, _ := s.post(t, envelope(actionPull, uriCS, "", pullBody("uuid:nope", "")))
	if code, sub, _ := faultOf(root); st != 500 || code != "s:Receiver" || sub != "wsen:InvalidEnumerationContext" {
		t.Errorf("unknown context: %d %s %s", st, code, sub)
	}
	_, root, _ = s.post(t, envelope(actionEnumerate, uriCS, "", `<wsen:Enumerate/>`))
	ctx := path(root, "Body/EnumerateResponse/EnumerationContext").TrimmedText()
	if st, _, raw := s.post(t, envelope(actionRelease, uriCS, "", `<wsen:Release><wsen:EnumerationContext>`+ctx+`</wsen:EnumerationContext></wsen:Release>`)); st != 200 {
		t.Fatalf("Release: %d %s", st, raw)
	}
	st, root, _ = s.post(t, envelope(actionPull, uriCS, "", pullBody(ctx, "")))
	if _, sub, _ := faultOf(root); st != 500 || sub != "wsen:InvalidEnumerationContext" {
		t.Errorf("released context: %d %s", st, sub)
	}
	if s.core.OpenEnumerations() != 0 {
		t.Errorf("Release left the core context open")
	}
	st, root, _ = s.post(t, envelope(actionPull, uriCS, "", `<wsen:Pull/>`))
	if _, sub, _ := faultOf(root); st != 400 || sub != "wsman:SchemaValidationError" {
		t.Errorf("Pull without context: %d %s", st, sub)
	}
}

func TestEnumerationExpires(t *testing.T) {
	s := newTestServer(t)
	_, root, raw := s.post(t, envelope(actionEnumerate, uriCS, "", `<wsen:Enumerate><wsen:Expires>PT0.2S</wsen:Expires></wsen:Enumerate>`))
	ctx := path(root, "Body/EnumerateResponse/EnumerationContext").TrimmedText()
	if ctx == "" || path(root, "Body/EnumerateResponse/Expires") == nil {
		t.Fatalf("no context or Expires: %s", raw)
	}
	time.Sleep(300 * time.Millisecond)
	st, root, _ := s.post(t, envelope(actionPull, uriCS, "", pullBody(ctx, "")))
	if _, sub, _ := faultOf(root); st != 500 || sub != "wsen:InvalidEnumerationContext" {
		t.Fatalf("expired context: %d %s", st, sub)
	}
	if s.core.OpenEnumerations() != 0 {
		t.Errorf("the expired context is still open in the core")
	}
}

func TestTotalItemsCountEstimateAndBigEnumeration(t *testing.T) {
	s := newTestServerWith(t, testOptions{gen: 2500})
	hdr := `<wsman:RequestTotalItemsCountEstimate/>`
	// The core counts an enumeration once its producer has ended (DSP0200
	// allows no earlier answer): a batch that reaches the end knows the
	// exact count of its items and those still to come.
	_, root, raw := s.post(t, envelope(actionEnumerate, uriCS, hdr, `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1</wsman:MaxElements></wsen:Enumerate>`))
	if got := path(root, "Header/TotalItemsCountEstimate").TrimmedText(); got != "2" {
		t.Fatalf("estimate %q: %s", got, raw)
	}
	ctx := path(root, "Body/EnumerateResponse/EnumerationContext").TrimmedText()
	_, root, raw = s.post(t, envelope(actionPull, uriCS, hdr, pullBody(ctx, "")))
	if got := path(root, "Header/TotalItemsCountEstimate").TrimmedText(); got != "1" || path(root, "Body/PullResponse/EndOfSequence") == nil {
		t.Fatalf("estimate %q at the end: %s", got, raw)
	}
	// Before that it is unknown: xsi:nil (DSP0226 clause 8.2.2).
	_, root, raw = s.post(t, envelope(actionEnumerate, uriGen, hdr, `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1000</wsman:MaxElements></wsen:Enumerate>`))
	if e := path(root, "Header/TotalItemsCountEstimate"); e == nil || !isNil(e) {
		t.Fatalf("estimate of an enumeration in progress: %s", raw)
	}
	ctx = path(root, "Body/EnumerateResponse/EnumerationContext").TrimmedText()
	if st, _, raw := s.post(t, envelope(actionRelease, uriGen, "", `<wsen:Release><wsen:EnumerationContext>`+ctx+`</wsen:EnumerationContext></wsen:Release>`)); st != 200 {
		t.Fatalf("Release: %d %s", st, raw)
	}
	items, n := enumerateAll(t, s, uriGen, "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1000</wsman:MaxElements></wsen:Enumerate>`, 1000)
	if len(items) != 2500 || n != 3 {
		t.Fatalf("%d items in %d responses", len(items), n)
	}
	// Batches encoded by several workers keep the provider's order.
	for i, it := range items {
		if got, want := path(it, "Id").TrimmedText(), fmt.Sprintf("g%07d", i); got != want {
			t.Fatalf("item %d is %s, want %s", i, got, want)
		}
	}
	// A small MaxEnvelopeSize splits batches without losing items.
	items, n = enumerateAll(t, s, uriGen, `<wsman:MaxEnvelopeSize s:mustUnderstand="true">16384</wsman:MaxEnvelopeSize>`,
		`<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1000</wsman:MaxElements></wsen:Enumerate>`, 1000)
	seen := map[string]bool{}
	for _, it := range items {
		seen[path(it, "Id").TrimmedText()] = true
	}
	if len(items) != 2500 || len(seen) != 2500 || n < 10 {
		t.Fatalf("with a 16 KiB envelope: %d items (%d distinct) in %d responses", len(items), len(seen), n)
	}
	if got := s.handler.prefetchBytes.Load(); got != 0 {
		t.Errorf("finished enumerations still reserve %d octets of prefetch", got)
	}
	// Without room for prefetching, each batch is produced when its Pull
	// comes, and nothing is lost.
	s.handler.prefetchBytes.Store(maxPrefetchBytes)
	items, n = enumerateAll(t, s, uriGen, "", `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1000</wsman:MaxElements></wsen:Enumerate>`, 1000)
	if len(items) != 2500 || n != 3 || s.handler.prefetchBytes.Load() != maxPrefetchBytes {
		t.Fatalf("without prefetch: %d items in %d responses, %d octets reserved", len(items), n, s.handler.prefetchBytes.Load())
	}
}

// The SelectorFilter and PolymorphismMode None are the core's (the
// adapter drops nothing): selecting by every key gets the instance rather
// than scanning the class (the T_Gen provider produces none), the count
// estimate is that of the selection, and the EPR and object modes agree.
func TestSelectorFilterInCore(t *testing.T) {
	s := newTestServerWith(t, testOptions{gen: 5000})
	filter := func(kv ...string) string {
		return `<wsman:Filter Dialect="` + dialectSelector + `">` + selectors(kv...) + `</wsman:Filter>`
	}
	hdr := `<wsman:RequestTotalItemsCountEstimate/>`
	for _, mode := range []string{"", `<wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode>`} {
		_, root, raw := s.post(t, envelope(actionEnumerate, uriGen, hdr, `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1</wsman:MaxElements>`+mode+filter("Id", "g0004999")+`</wsen:Enumerate>`))
		resp := path(root, "Body/EnumerateResponse")
		if got := path(root, "Header/TotalItemsCountEstimate").TrimmedText(); got != "1" || path(resp, "EndOfSequence") == nil || len(path(resp, "Items").Children) != 1 {
			t.Fatalf("selected by its key (mode %q): estimate %q\n%s", mode, got, raw)
		}
	}
	if n := s.prov.Produced(); n != 0 {
		t.Errorf("the SelectorFilter scanned %d T_Gen instances", n)
	}
	cases := []struct {
		name, uri, body, want string
	}{
		{"all keys, CreationClassName of a subclass", uriCS, filter("CreationClassName", "HC_ComputerSystem", "Name", "vm1"), "HC_ComputerSystem"},
		{"all keys, None", uriCS, `<wsmb:PolymorphismMode>None</wsmb:PolymorphismMode>` + filter("CreationClassName", "HC_ComputerSystem", "Name", "vm1"), ""},
		{"some keys, None", uriCS, `<wsmb:PolymorphismMode>None</wsmb:PolymorphismMode>` + filter("Name", "host1"), "CIM_ComputerSystem"},
		{"some keys", uriCS, filter("Name", "vm1"), "HC_ComputerSystem"},
		{"__cimnamespace is no key", uriCS, filter("__cimnamespace", "root/virt", "Name", "vm1"), "HC_ComputerSystem"},
		{"no match", uriCS, filter("Name", "vm9"), ""},
		{"typed key", DMTFClassPrefix + "CIM_LogicalDisk", filter("DeviceID", "disk0", "SystemName", "host1"), "CIM_LogicalDisk"},
	}
	opt := `<wsman:OptimizeEnumeration/><wsman:MaxElements>50</wsman:MaxElements>`
	for _, c := range cases {
		items, _ := enumerateAll(t, s, c.uri, "", `<wsen:Enumerate>`+opt+c.body+`</wsen:Enumerate>`, 50)
		if got := localNames(items); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	// A selector that is no key of the class, or an EPR that does not
	// parse, cannot be processed.
	for _, body := range []string{
		filter("Nope", "x"),
		`<wsman:Filter Dialect="` + dialectSelector + `"><wsman:SelectorSet><wsman:Selector Name="Name"><wsa:EndpointReference><wsa:Address>x</wsa:Address></wsa:EndpointReference></wsman:Selector></wsman:SelectorSet></wsman:Filter>`,
		filter("__cimnamespace", "root/virt"),
	} {
		st, root, raw := s.post(t, envelope(actionEnumerate, uriCS, "", `<wsen:Enumerate>`+body+`</wsen:Enumerate>`))
		if _, sub, _ := faultOf(root); st != 400 || sub != "wsman:CannotProcessFilter" {
			t.Errorf("%s: %d %s\n%s", body, st, sub, raw)
		}
	}
}
