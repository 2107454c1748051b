package cimxml

import (
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

func TestAppendEscaped(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{`a<b>c&d"e'f`, `a&lt;b&gt;c&amp;d&quot;e'f`},
		{"tab\tnl\ncr\r", "tab\tnl\ncr\r"},
		{"nul\x00bell\x07", "nul\uFFFDbell\uFFFD"},
		{"ünïcode ✓", "ünïcode ✓"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"trunc\xe2\x9c", "trunc\uFFFD\uFFFD"},
		{"nonchar\uFFFE", "nonchar\uFFFD"},
		{"", ""},
	} {
		if got := string(appendEscaped(nil, tc.in)); got != tc.want {
			t.Errorf("appendEscaped(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestResponseShapesAreDTDValid encodes every response shape the adapter
// produces and validates it against DSP0203 2.4.0 and wbemcli's parser
// rules.
func TestResponseShapesAreDTDValid(t *testing.T) {
	m := loadModel(t)
	inst := sampleInstance(t, m)
	all := mustClass(t, m, "Test_All")
	assoc := mustClass(t, m, "Test_Assoc")
	qt, err := m.QualifierType(testNS, "TestArrayQual")
	if err != nil || qt == nil {
		t.Fatalf("qualifier type: %v", err)
	}
	ref := cim.NewReference(inst.Path)
	refArr := cim.NewReferenceArray([]*cim.ObjectPath{inst.Path, nil, cim.NewClassPath("", "Test_All")})
	filtered := cim.FilterInstance(inst, all, cim.InstanceFilter{IncludeQualifiers: true, IncludeClassOrigin: true})

	shapes := []struct {
		name   string
		elem   string
		method string
		body   func(e *encoder)
	}{
		{"GetClass", "IMETHODRESPONSE", "GetClass", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.class(all)
			e.str("</IRETURNVALUE>")
		}},
		{"EnumerateClasses", "IMETHODRESPONSE", "EnumerateClasses", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.class(all)
			e.class(assoc)
			e.class(cim.FilterClass(all, cim.ClassFilter{LocalOnly: true}))
			e.str("</IRETURNVALUE>")
		}},
		{"EnumerateClassNames", "IMETHODRESPONSE", "EnumerateClassNames", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.className("Test_All")
			e.className("Test_Assoc")
			e.str("</IRETURNVALUE>")
		}},
		{"GetInstance", "IMETHODRESPONSE", "GetInstance", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.instance(filtered)
			e.str("</IRETURNVALUE>")
		}},
		{"EnumerateInstances", "IMETHODRESPONSE", "EnumerateInstances", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.namedInstance(inst)
			e.namedInstance(inst)
			e.str("</IRETURNVALUE>")
		}},
		{"EnumerateInstanceNames", "IMETHODRESPONSE", "EnumerateInstanceNames", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.instanceName(inst.Path)
			e.instanceName(cim.NewInstancePath("", "Test_Singleton"))
			e.str("</IRETURNVALUE>")
		}},
		{"CreateInstance", "IMETHODRESPONSE", "CreateInstance", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.instanceName(inst.Path)
			e.str("</IRETURNVALUE>")
		}},
		{"Associators", "IMETHODRESPONSE", "Associators", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.objectWithPathInstance(inst, testNS)
			e.str("</IRETURNVALUE>")
		}},
		{"AssociatorsOfClass", "IMETHODRESPONSE", "Associators", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.objectWithPathClass(cim.NewClassPath(testNS, "Test_Assoc"), assoc, testNS)
			e.str("</IRETURNVALUE>")
		}},
		{"ReferenceNames", "IMETHODRESPONSE", "ReferenceNames", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.objectPath(inst.Path, testNS)
			e.objectPath(cim.NewClassPath("", "Test_Assoc"), testNS)
			e.str("</IRETURNVALUE>")
		}},
		{"GetPropertyScalar", "IMETHODRESPONSE", "GetProperty", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.value(inst.Get("PStr"))
			e.str("</IRETURNVALUE>")
		}},
		{"GetPropertyArray", "IMETHODRESPONSE", "GetProperty", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.value(inst.Get("AStr"))
			e.str("</IRETURNVALUE>")
		}},
		{"GetPropertyReference", "IMETHODRESPONSE", "GetProperty", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.value(ref)
			e.str("</IRETURNVALUE>")
		}},
		{"GetPropertyNull", "IMETHODRESPONSE", "GetProperty", func(e *encoder) {
			e.str("<IRETURNVALUE></IRETURNVALUE>")
		}},
		{"EnumerateQualifiers", "IMETHODRESPONSE", "EnumerateQualifiers", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			for _, q := range m.QualifierTypes(testNS) {
				e.qualifierDeclaration(q)
			}
			e.qualifierDeclaration(qt)
			e.str("</IRETURNVALUE>")
		}},
		{"ExecQueryProjection", "IMETHODRESPONSE", "ExecQuery", func(e *encoder) {
			e.str("<IRETURNVALUE><VALUE.OBJECT>")
			e.instance(inst)
			e.str("</VALUE.OBJECT></IRETURNVALUE>")
		}},
		{"OpenEnumerateInstances", "IMETHODRESPONSE", "OpenEnumerateInstances", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.instanceWithPath(inst, testNS)
			e.str("</IRETURNVALUE>")
			e.paramValue("PARAMVALUE", "EndOfSequence", cim.NewBoolean(false))
			e.paramValue("PARAMVALUE", "EnumerationContext", cim.NewString("ctx-1"))
		}},
		{"OpenEnumerateInstancePaths", "IMETHODRESPONSE", "OpenEnumerateInstancePaths", func(e *encoder) {
			e.str("<IRETURNVALUE>")
			e.instancePath(inst.Path, testNS)
			e.str("</IRETURNVALUE>")
			e.paramValue("PARAMVALUE", "EndOfSequence", cim.NewBoolean(true))
			e.str(`<PARAMVALUE NAME="EnumerationContext" PARAMTYPE="string"><VALUE></VALUE></PARAMVALUE>`)
		}},
		{"EnumerationCount", "IMETHODRESPONSE", "EnumerationCount", func(e *encoder) {
			e.str("<IRETURNVALUE><VALUE>12</VALUE></IRETURNVALUE>")
		}},
		{"MethodResponse", "METHODRESPONSE", "DoIt", func(e *encoder) {
			e.paramValue("RETURNVALUE", "", cim.NewUint32(0))
			e.paramValue("PARAMVALUE", "Out1", cim.NewString("x<y"))
			e.paramValue("PARAMVALUE", "OutRef", ref)
			e.paramValue("PARAMVALUE", "OutRefs", refArr)
			e.paramValue("PARAMVALUE", "OutArr", inst.Get("AS64"))
			e.paramValue("PARAMVALUE", "OutEmb", inst.Get("PEmb"))
		}},
		{"MethodResponseVoid", "METHODRESPONSE", "Nothing", func(e *encoder) {
			e.paramValue("RETURNVALUE", "", cim.Value{})
		}},
		{"Error", "IMETHODRESPONSE", "GetInstance", func(e *encoder) {
			e.errorElem(cim.NewError(cim.ErrNotFound, `no instance "x" <here>`), false)
		}},
		{"ErrorWithInstances", "IMETHODRESPONSE", "GetInstance", func(e *encoder) {
			e.errorElem(cim.NewError(cim.ErrNotFound, "no such instance"), true)
		}},
	}
	for _, nullInArrays := range []bool{false, true} {
		for _, s := range shapes {
			name := s.name
			if nullInArrays {
				name += "/DTD2.3"
			}
			t.Run(name, func(t *testing.T) {
				e := &encoder{host: "srv.example:5988", nullInArrays: nullInArrays}
				doc := message(e, s.elem, s.method, func() { s.body(e) })
				validateDTD(t, doc)
				if s.name != "ErrorWithInstances" {
					checkWbemcliReadable(t, doc, nullInArrays)
				}
			})
		}
	}
}

func TestEncodeDetails(t *testing.T) {
	m := loadModel(t)
	inst := sampleInstance(t, m)
	e := &encoder{host: "h:1"}
	e.namedInstance(inst)
	doc := e.b
	contains(t, doc,
		// Keys carry TYPE (required by DSP0203 2.4) and VALUETYPE.
		`<KEYBINDING NAME="Name"><KEYVALUE VALUETYPE="string" TYPE="string">key with &lt;markup&gt; &amp; &quot;quotes&quot; and ünïcode ✓</KEYVALUE></KEYBINDING>`,
		`<PROPERTY NAME="PU32" TYPE="uint32"><VALUE>4294967295</VALUE></PROPERTY>`,
		`<PROPERTY NAME="PBool" TYPE="boolean"><VALUE>TRUE</VALUE></PROPERTY>`,
		`<PROPERTY NAME="PChar" TYPE="char16"><VALUE>&lt;</VALUE></PROPERTY>`,
		`<PROPERTY NAME="PDt" TYPE="datetime"><VALUE>20240131235959.123456-300</VALUE></PROPERTY>`,
		// The NULL element is left out for a DTD 2.0 client.
		`<PROPERTY.ARRAY NAME="AStr" TYPE="string"><VALUE.ARRAY><VALUE>a</VALUE><VALUE>c&amp;d</VALUE></VALUE.ARRAY></PROPERTY.ARRAY>`,
		`<PROPERTY NAME="PEmb" TYPE="string" EmbeddedObject="instance"><VALUE>&lt;INSTANCE CLASSNAME=&quot;Test_Base&quot;&gt;`,
		`&lt;PROPERTY NAME=&quot;Name&quot; TYPE=&quot;string&quot;&gt;&lt;VALUE&gt;inner &amp;lt;&amp;quot;&amp;amp;&amp;quot;&amp;gt;&lt;/VALUE&gt;`,
		// A NULL property is an empty pair, never self-closed.
		`<PROPERTY NAME="PS8" TYPE="sint8"><VALUE>-128</VALUE></PROPERTY>`,
	)
	e2 := &encoder{host: "h:1", nullInArrays: true}
	e2.value(inst.Get("AStr"))
	if got, want := string(e2.b), `<VALUE.ARRAY><VALUE>a</VALUE><VALUE.NULL/><VALUE>c&amp;d</VALUE></VALUE.ARRAY>`; got != want {
		t.Errorf("array for a DTD 2.3 client = %s, want %s", got, want)
	}
	e3 := &encoder{host: "srv:5989"}
	e3.valueReference(inst.Path)
	if !strings.HasPrefix(string(e3.b), `<VALUE.REFERENCE><INSTANCEPATH><NAMESPACEPATH><HOST>srv:5989</HOST><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="test"/></LOCALNAMESPACEPATH></NAMESPACEPATH><INSTANCENAME CLASSNAME="Test_All">`) {
		t.Errorf("reference = %s", e3.b)
	}
	var e4 encoder
	e4.errorElem(cim.NewError(cim.ErrInvalidClass, "Class not found"), false)
	if got, want := string(e4.b), `<ERROR CODE="5" DESCRIPTION="CIM_ERR_INVALID_CLASS: Class not found"></ERROR>`; got != want {
		t.Errorf("error = %s, want %s", got, want)
	}
}

// TestEncodeDecodeRoundTrip encodes instances and classes and decodes them
// back with the request decoder.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := loadModel(t)
	inst := sampleInstance(t, m)
	d := &decoder{ns: testNS}
	for _, nullInArrays := range []bool{true} {
		e := &encoder{host: "h", nullInArrays: nullInArrays}
		e.instance(inst)
		root, err := parseTree(e.b)
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, e.b)
		}
		got, err := d.decodeInstance(root)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, e.b)
		}
		if !got.Equal(inst) {
			t.Errorf("instance round trip differs:\n got %#v\nwant %#v", got, inst)
		}
	}
	for _, name := range []string{"Test_Base", "Test_All", "Test_Assoc"} {
		c := mustClass(t, m, name)
		e := &encoder{host: "h"}
		e.class(c)
		root, err := parseTree(e.b)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		got, err := d.decodeClass(root)
		if err != nil {
			t.Fatalf("decode %s: %v\n%s", name, err, e.b)
		}
		if !got.Equal(c) {
			t.Errorf("class %s round trip differs:\n got %s\nwant %s", name, got, c)
		}
	}
	for _, qt := range m.QualifierTypes(testNS) {
		e := &encoder{}
		e.qualifierDeclaration(qt)
		root, err := parseTree(e.b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.decodeQualifierDeclaration(root)
		if err != nil {
			t.Fatalf("decode %s: %v\n%s", qt.Name, err, e.b)
		}
		if !got.Equal(qt) {
			t.Errorf("qualifier %s round trip differs:\n got %s\nwant %s", qt.Name, got, qt)
		}
	}
}
