package wsmanconformance

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// instanceValues is an instance as comparable text: property name (folded)
// to its values, nil for NULL.
type instanceValues map[string][]string

// cimxmlInstances enumerates a class with CIM-XML (all properties, deep)
// and returns the instances keyed by their model path's keys.
func cimxmlInstances(t *testing.T, s *server, ns, class string) map[string]instanceValues {
	t.Helper()
	doc := cimxmlCall(t, s, "EnumerateInstances", ns, `<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="`+class+`"/></IPARAMVALUE>`+
		`<IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE><IPARAMVALUE NAME="DeepInheritance"><VALUE>TRUE</VALUE></IPARAMVALUE>`)
	if e := doc.FindElement("//ERROR"); e != nil {
		t.Fatalf("CIM-XML EnumerateInstances %s: %s %s", class, e.SelectAttrValue("CODE", ""), e.SelectAttrValue("DESCRIPTION", ""))
	}
	out := map[string]instanceValues{}
	for _, ni := range doc.FindElements("//VALUE.NAMEDINSTANCE") {
		inst := ni.FindElement("INSTANCE")
		vals := instanceValues{}
		for _, p := range inst.ChildElements() {
			name := strings.ToLower(p.SelectAttrValue("NAME", ""))
			typ := p.SelectAttrValue("TYPE", "")
			switch p.Tag {
			case "PROPERTY":
				if v := p.FindElement("VALUE"); v != nil {
					vals[name] = []string{normalize(typ, v.Text())}
				} else {
					vals[name] = nil
				}
			case "PROPERTY.ARRAY":
				arr := p.FindElement("VALUE.ARRAY")
				if arr == nil {
					vals[name] = nil
					continue
				}
				vals[name] = []string{}
				for _, v := range arr.FindElements("VALUE") {
					vals[name] = append(vals[name], normalize(typ, v.Text()))
				}
			case "PROPERTY.REFERENCE":
				if v := p.FindElement(".//INSTANCENAME"); v != nil {
					vals[name] = []string{refKey(v)}
				} else {
					vals[name] = nil
				}
			}
		}
		out[keyOf(ni.FindElement("INSTANCENAME"))] = vals
	}
	return out
}

// keyOf renders the keybindings of a CIM-XML INSTANCENAME.
func keyOf(e *etree.Element) string {
	var parts []string
	for _, kb := range e.FindElements("KEYBINDING") {
		v := kb.FindElement("KEYVALUE")
		if v == nil {
			if r := kb.FindElement(".//INSTANCENAME"); r != nil {
				parts = append(parts, strings.ToLower(kb.SelectAttrValue("NAME", ""))+"="+refKey(r))
			}
			continue
		}
		parts = append(parts, strings.ToLower(kb.SelectAttrValue("NAME", ""))+"="+v.Text())
	}
	sort.Strings(parts)
	return e.SelectAttrValue("CLASSNAME", "") + "." + strings.Join(parts, ",")
}

func refKey(e *etree.Element) string { return "<" + keyOf(e) + ">" }

// normalize writes a CIM-XML value in the form both sides are compared in.
func normalize(typ, v string) string {
	v = strings.TrimSpace(v)
	switch typ {
	case "boolean":
		return strings.ToLower(v)
	case "real32", "real64":
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			if typ == "real32" {
				f = float64(float32(f))
			}
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
	}
	return v
}

// wsmanInstances enumerates a class with WS-Man (EnumerateObjectAndEPR)
// and returns the instances keyed like cimxmlInstances.
func wsmanInstances(t *testing.T, s *server, ns, class string) map[string]instanceValues {
	t.Helper()
	items := enumerate(t, s, dmtfPrefix+class, selectorSet("__cimnamespace", ns),
		`<wsman:EnumerationMode>EnumerateObjectAndEPR</wsman:EnumerationMode>`, 100)
	out := map[string]instanceValues{}
	for _, item := range items {
		children := item.ChildElements()
		if len(children) != 2 {
			t.Fatalf("a wsman:Item holds %d elements", len(children))
		}
		inst, epr := children[0], children[1]
		vals := instanceValues{}
		for _, p := range inst.ChildElements() {
			name := strings.ToLower(p.Tag)
			if p.SelectAttrValue("xsi:nil", "") == "true" {
				vals[name] = nil
				continue
			}
			vals[name] = append(vals[name], wsmanValue(t, p))
		}
		out[eprKey(inst.Tag, epr)] = vals
	}
	return out
}

// eprKey renders an EPR like keyOf renders an INSTANCENAME.
func eprKey(class string, epr *etree.Element) string {
	if uri := epr.FindElement(".//ReferenceParameters/ResourceURI"); uri != nil {
		u := strings.TrimSpace(uri.Text())
		class = u[strings.LastIndexByte(u, '/')+1:]
	}
	var parts []string
	for _, sel := range epr.FindElements("./ReferenceParameters/SelectorSet/Selector") {
		name := sel.SelectAttrValue("Name", "")
		if name == "__cimnamespace" {
			continue
		}
		if inner := sel.FindElement("EndpointReference"); inner != nil {
			parts = append(parts, strings.ToLower(name)+"=<"+eprKey("", inner)+">")
			continue
		}
		parts = append(parts, strings.ToLower(name)+"="+strings.TrimSpace(sel.Text()))
	}
	sort.Strings(parts)
	return class + "." + strings.Join(parts, ",")
}

// wsmanValue turns one DSP0230 property element into the CIM-XML text
// form: datetimes back to the 25-character form, references to keys.
func wsmanValue(t *testing.T, p *etree.Element) string {
	if p.FindElement("ReferenceParameters") != nil {
		return "<" + eprKey("", p) + ">"
	}
	if c := p.ChildElements(); len(c) == 1 {
		switch c[0].Tag {
		case "Datetime":
			tm, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(c[0].Text()))
			if err != nil {
				t.Fatalf("cim:Datetime %q: %v", c[0].Text(), err)
			}
			_, off := tm.Zone()
			sign := '+'
			if off < 0 {
				sign, off = '-', -off
			}
			return fmt.Sprintf("%s.%06d%c%03d", tm.Format("20060102150405"), tm.Nanosecond()/1000, sign, off/60)
		case "Interval":
			var d, h, m int
			var sec float64
			if _, err := fmt.Sscanf(strings.TrimSpace(c[0].Text()), "P%dDT%dH%dM%gS", &d, &h, &m, &sec); err != nil {
				t.Fatalf("cim:Interval %q: %v", c[0].Text(), err)
			}
			us := int((sec - float64(int(sec))) * 1e6)
			return fmt.Sprintf("%08d%02d%02d%02d.%06d:000", d, h, m, int(sec), us)
		case "CIM_DateTime":
			return strings.TrimSpace(c[0].Text())
		}
	}
	return strings.TrimSpace(p.Text())
}

// TestCIMXMLAndWSManAgree enumerates the same classes through both
// protocols and compares every instance, property by property.
func TestCIMXMLAndWSManAgree(t *testing.T) {
	s := startServer(t, "testdata/wsmt.mof")
	for _, c := range []struct{ ns, class string }{
		{"root/virt", "WSMT_Widget"},
		{"root/virt", "WSMT_WidgetPart"},
		{"root/virt", "CIM_ComputerSystem"},
		{"root/interop", "CIM_Namespace"},
		{"root/interop", "CIM_RegisteredProfile"},
		{"root/interop", "CIM_ObjectManagerCommunicationMechanism"},
	} {
		want := cimxmlInstances(t, s, c.ns, c.class)
		got := wsmanInstances(t, s, c.ns, c.class)
		if len(want) == 0 && c.ns == "root/virt" {
			t.Errorf("%s: CIM-XML returned no instances", c.class)
		}
		if len(got) != len(want) {
			t.Errorf("%s:%s: WS-Man has %d instances, CIM-XML %d", c.ns, c.class, len(got), len(want))
		}
		for key, wv := range want {
			gv, ok := got[key]
			if !ok {
				t.Errorf("%s: WS-Man lacks %s (has %v)", c.class, key, keysOf(got))
				continue
			}
			for name, vals := range wv {
				if _, present := gv[name]; !present && vals != nil && len(vals) == 0 {
					// DSP0230 writes an array as one element per entry:
					// an empty array is no element at all.
					gv[name] = vals
				}
				if fmt.Sprint(gv[name]) != fmt.Sprint(vals) {
					t.Errorf("%s %s.%s: WS-Man %q, CIM-XML %q", c.class, key, name, gv[name], vals)
				}
			}
			if len(gv) != len(wv) {
				t.Errorf("%s %s: WS-Man has %d properties, CIM-XML %d", c.class, key, len(gv), len(wv))
			}
		}
	}
}

// TestInteropAdvertisesWSMan checks that root/interop describes the
// WS-Management listener: an HC_WSManCommunicationMechanism
// (CommunicationMechanism 4) named by the listener's URL.
func TestInteropAdvertisesWSMan(t *testing.T) {
	s := startServer(t)
	items := enumerate(t, s, vendorPrefix+"HC_WSManCommunicationMechanism", selectorSet("__cimnamespace", "root/interop"), "", 10)
	found := false
	for _, it := range items {
		name := strings.TrimSpace(it.FindElement("Name").Text())
		if strings.HasSuffix(name, s.wsmanAddr+"/wsman") || strings.Contains(name, ":"+s.wsmanAddr[strings.LastIndexByte(s.wsmanAddr, ':')+1:]+"/wsman") {
			found = true
			if got := strings.TrimSpace(it.FindElement("CommunicationMechanism").Text()); got != "4" {
				t.Errorf("CommunicationMechanism %s, want 4 (WS-Management)", got)
			}
		}
	}
	if !found {
		t.Errorf("no HC_WSManCommunicationMechanism for %s among %d", s.wsmanURL(), len(items))
	}
}

func keysOf(m map[string]instanceValues) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
