package wsmanconformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

const nsXS = "http://www.w3.org/2001/XMLSchema"

// bodyElement returns the first element of an answer's Body as a document
// of its own, with the namespace declarations of the envelope it needs.
func bodyElement(t *testing.T, raw, what string) *etree.Document {
	t.Helper()
	d := parse(t, raw)
	body := d.FindElement("//Body")
	if body == nil || len(body.ChildElements()) == 0 {
		t.Fatalf("%s: an empty answer\n%.2000s", what, raw)
	}
	el := body.ChildElements()[0].Copy()
	for _, a := range d.Root().Attr {
		if a.Space == "xmlns" && el.SelectAttr("xmlns:"+a.Key) == nil {
			el.CreateAttr("xmlns:"+a.Key, a.Value)
		}
	}
	out := etree.NewDocument()
	out.SetRoot(el)
	return out
}

// xmllint runs xmllint offline and returns its exit status and output.
func xmllint(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command("xmllint", append([]string{"--noout", "--nonet"}, args...)...).CombinedOutput()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("xmllint: %v", err)
		}
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}

// TestClassSchemaValidatesInstances fetches a class's XML schema as
// clients do (a Get of <class resource URI>.xsd), compiles it with
// xmllint as an XML Schema (the DMTF common schema it imports replaced
// by testdata/dsp0230-common.xsd, as the test runs offline), checks its
// DSP0230 structure, and validates real Get answers against it: an
// instance with a value of every kind, one with NULLs, an empty array
// and an embedded instance, and, as a control, an instance edited to break its types.
func TestClassSchemaValidatesInstances(t *testing.T) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint is not installed (libxml2-utils)")
	}
	s := startServer(t, "testdata/wsmt.mof")
	dir := t.TempDir()
	common, err := filepath.Abs(filepath.Join("testdata", "dsp0230-common.xsd"))
	if err != nil {
		t.Fatal(err)
	}

	st, raw := s.post(t, soap(actGet, dmtfPrefix+"WSMT_Widget.xsd", "", ""))
	if st != 200 {
		t.Fatalf("Get of the schema: %d\n%.2000s", st, raw)
	}
	xsd := bodyElement(t, raw, "schema")
	root := xsd.Root()
	if root.Space != "xs" || root.Tag != "schema" || root.SelectAttrValue("targetNamespace", "") != dmtfPrefix+"WSMT_Widget" {
		t.Fatalf("the answer is not the class's xs:schema\n%.2000s", raw)
	}
	imp := root.FindElement("import")
	if imp == nil || imp.SelectAttrValue("namespace", "") != "http://schemas.dmtf.org/wbem/wscim/1/common" {
		t.Fatalf("the schema does not import the WS-CIM common schema\n%.2000s", raw)
	}
	imp.CreateAttr("schemaLocation", common)

	// DSP0230: a global, nillable element per property, typed with the
	// common schema's type of its CIM type; arrays unbounded in the
	// class's complex type; the class element of that type.
	wantTypes := map[string]string{
		"InstanceID": "cim:cimString", "ElementName": "cim:cimString", "State": "cim:cimUnsignedShort",
		"Codes": "cim:cimUnsignedShort", "Created": "cim:cimDateTime", "Uptime": "cim:cimDateTime",
		"Ratio": "cim:cimDouble", "Enabled": "cim:cimBoolean", "Note": "cim:cimString",
		"Delta": "cim:cimLong", "Grade": "cim:cimChar16", "Spec": "xs:anyType",
	}
	for name, typ := range wantTypes {
		e := root.FindElement("element[@name='" + name + "']")
		if e == nil {
			t.Errorf("no global element for the property %s", name)
			continue
		}
		if got := e.SelectAttrValue("type", ""); got != typ {
			t.Errorf("%s: type %q, want %q", name, got, typ)
		}
		if e.SelectAttrValue("nillable", "") != "true" {
			t.Errorf("%s is not nillable", name)
		}
		ref := root.FindElement("complexType[@name='WSMT_Widget_Type']/sequence/element[@ref='class:" + name + "']")
		if ref == nil {
			t.Errorf("WSMT_Widget_Type does not hold %s", name)
			continue
		}
		if max := ref.SelectAttrValue("maxOccurs", "1"); (name == "Codes") != (max == "unbounded") || ref.SelectAttrValue("minOccurs", "") != "0" {
			t.Errorf("%s: minOccurs %q maxOccurs %q", name, ref.SelectAttrValue("minOccurs", ""), max)
		}
	}
	if n := len(root.FindElements("element[@nillable]")); n != len(wantTypes) {
		t.Errorf("%d property elements, want %d", n, len(wantTypes))
	}
	if e := root.FindElement("element[@name='WSMT_Widget']"); e == nil || e.SelectAttrValue("type", "") != "class:WSMT_Widget_Type" {
		t.Errorf("no class element WSMT_Widget of type class:WSMT_Widget_Type")
	}

	widgetXSD := filepath.Join(dir, "WSMT_Widget.xsd")
	if err := xsd.WriteToFile(widgetXSD); err != nil {
		t.Fatal(err)
	}
	// The embedded instances of Spec carry xsi:type WSMT_Part_Type: the
	// validation needs that class's schema too, fetched the same way,
	// both imported by one wrapper schema.
	st, raw = s.post(t, soap(actGet, dmtfPrefix+"WSMT_Part.xsd", "", ""))
	if st != 200 {
		t.Fatalf("Get of the WSMT_Part schema: %d\n%.2000s", st, raw)
	}
	part := bodyElement(t, raw, "WSMT_Part schema")
	part.Root().FindElement("import").CreateAttr("schemaLocation", common)
	partXSD := filepath.Join(dir, "WSMT_Part.xsd")
	if err := part.WriteToFile(partXSD); err != nil {
		t.Fatal(err)
	}
	xsdFile := filepath.Join(dir, "all.xsd")
	wrapper := `<xs:schema xmlns:xs="` + nsXS + `" targetNamespace="urn:hypercim:test:all">` +
		`<xs:import namespace="` + dmtfPrefix + `WSMT_Widget" schemaLocation="` + widgetXSD + `"/>` +
		`<xs:import namespace="` + dmtfPrefix + `WSMT_Part" schemaLocation="` + partXSD + `"/></xs:schema>`
	if err := os.WriteFile(xsdFile, []byte(wrapper), 0o644); err != nil {
		t.Fatal(err)
	}
	// w2 gets an embedded WSMT_Part in Spec.
	put := soap("http://schemas.xmlsoap.org/ws/2004/09/transfer/Put", dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", "w2"),
		`<p:WSMT_Widget xmlns:p="`+dmtfPrefix+`WSMT_Widget" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`+
			`<p:InstanceID>w2</p:InstanceID><p:ElementName>second</p:ElementName>`+
			`<p:Spec xmlns:e="`+dmtfPrefix+`WSMT_Part" xsi:type="e:WSMT_Part_Type"><e:Name>spring</e:Name><e:Count>2</e:Count></p:Spec>`+
			`</p:WSMT_Widget>`)
	if st, raw := s.post(t, put); st != 200 {
		t.Fatalf("Put of w2 with an embedded instance: %d\n%.2000s", st, raw)
	}
	// xmllint --schema compiles the schema first: one that does not
	// compile fails every validation.
	valid := func(name string, doc *etree.Document) (int, string) {
		t.Helper()
		f := filepath.Join(dir, name+".xml")
		if err := doc.WriteToFile(f); err != nil {
			t.Fatal(err)
		}
		return xmllint(t, "--schema", xsdFile, f)
	}
	for _, id := range []string{"w1", "w2"} {
		st, raw := s.post(t, soap(actGet, dmtfPrefix+"WSMT_Widget", selectorSet("InstanceID", id), ""))
		if st != 200 {
			t.Fatalf("Get %s: %d\n%.2000s", id, st, raw)
		}
		inst := bodyElement(t, raw, "Get "+id)
		if id == "w2" && inst.Root().FindElement("Spec/Name") == nil {
			t.Errorf("w2 has no embedded instance in Spec\n%.2000s", raw)
		}
		if rc, out := valid(id, inst); rc != 0 || !strings.Contains(out, "validates") {
			s, _ := inst.WriteToString()
			t.Errorf("Get %s does not validate against the class schema (exit %d):\n%s\n%s", id, rc, out, s)
		}
		if id != "w1" {
			continue
		}
		// Control: the same instance with a value its type refuses.
		inst.Root().FindElement("State").SetText("lots")
		if rc, out := valid(id+"-broken", inst); rc == 0 {
			t.Errorf("an instance with State \"lots\" validates: the schema checks nothing\n%s", out)
		}
	}
}
