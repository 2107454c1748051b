package cimxml

import (
	"context"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

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
		body   func(e *xmlcodec.Encoder)
	}{
		{"GetClass", "IMETHODRESPONSE", "GetClass", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.Class(all)
			e.Str("</IRETURNVALUE>")
		}},
		{"EnumerateClasses", "IMETHODRESPONSE", "EnumerateClasses", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.Class(all)
			e.Class(assoc)
			e.Class(cim.FilterClass(all, cim.ClassFilter{LocalOnly: true}))
			e.Str("</IRETURNVALUE>")
		}},
		{"EnumerateClassNames", "IMETHODRESPONSE", "EnumerateClassNames", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.ClassName("Test_All")
			e.ClassName("Test_Assoc")
			e.Str("</IRETURNVALUE>")
		}},
		{"GetInstance", "IMETHODRESPONSE", "GetInstance", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.Instance(filtered)
			e.Str("</IRETURNVALUE>")
		}},
		{"EnumerateInstances", "IMETHODRESPONSE", "EnumerateInstances", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.NamedInstance(inst)
			e.NamedInstance(inst)
			e.Str("</IRETURNVALUE>")
		}},
		{"EnumerateInstanceNames", "IMETHODRESPONSE", "EnumerateInstanceNames", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.InstanceName(inst.Path)
			e.InstanceName(cim.NewInstancePath("", "Test_Singleton"))
			e.Str("</IRETURNVALUE>")
		}},
		{"CreateInstance", "IMETHODRESPONSE", "CreateInstance", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.InstanceName(inst.Path)
			e.Str("</IRETURNVALUE>")
		}},
		{"Associators", "IMETHODRESPONSE", "Associators", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.ObjectWithPathInstance(inst, testNS)
			e.Str("</IRETURNVALUE>")
		}},
		{"AssociatorsOfClass", "IMETHODRESPONSE", "Associators", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.ObjectWithPathClass(cim.NewClassPath(testNS, "Test_Assoc"), assoc, testNS)
			e.Str("</IRETURNVALUE>")
		}},
		{"ReferenceNames", "IMETHODRESPONSE", "ReferenceNames", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.ObjectPath(inst.Path, testNS)
			e.ObjectPath(cim.NewClassPath("", "Test_Assoc"), testNS)
			e.Str("</IRETURNVALUE>")
		}},
		{"GetPropertyScalar", "IMETHODRESPONSE", "GetProperty", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.Value(inst.Get("PStr"))
			e.Str("</IRETURNVALUE>")
		}},
		{"GetPropertyArray", "IMETHODRESPONSE", "GetProperty", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.Value(inst.Get("AStr"))
			e.Str("</IRETURNVALUE>")
		}},
		{"GetPropertyReference", "IMETHODRESPONSE", "GetProperty", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.Value(ref)
			e.Str("</IRETURNVALUE>")
		}},
		{"GetPropertyNull", "IMETHODRESPONSE", "GetProperty", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE></IRETURNVALUE>")
		}},
		{"EnumerateQualifiers", "IMETHODRESPONSE", "EnumerateQualifiers", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			for _, q := range m.QualifierTypes(testNS) {
				e.QualifierDeclaration(q)
			}
			e.QualifierDeclaration(qt)
			e.Str("</IRETURNVALUE>")
		}},
		{"ExecQueryProjection", "IMETHODRESPONSE", "ExecQuery", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE><VALUE.OBJECT>")
			e.Instance(inst)
			e.Str("</VALUE.OBJECT></IRETURNVALUE>")
		}},
		{"OpenEnumerateInstances", "IMETHODRESPONSE", "OpenEnumerateInstances", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.InstanceWithPath(inst, testNS)
			e.Str("</IRETURNVALUE>")
			e.ParamValue("PARAMVALUE", "EndOfSequence", cim.NewBoolean(false))
			e.ParamValue("PARAMVALUE", "EnumerationContext", cim.NewString("ctx-1"))
		}},
		{"OpenEnumerateInstancePaths", "IMETHODRESPONSE", "OpenEnumerateInstancePaths", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE>")
			e.InstancePath(inst.Path, testNS)
			e.Str("</IRETURNVALUE>")
			e.ParamValue("PARAMVALUE", "EndOfSequence", cim.NewBoolean(true))
			e.Str(`<PARAMVALUE NAME="EnumerationContext" PARAMTYPE="string"><VALUE></VALUE></PARAMVALUE>`)
		}},
		{"EnumerationCount", "IMETHODRESPONSE", "EnumerationCount", func(e *xmlcodec.Encoder) {
			e.Str("<IRETURNVALUE><VALUE>12</VALUE></IRETURNVALUE>")
		}},
		{"MethodResponse", "METHODRESPONSE", "DoIt", func(e *xmlcodec.Encoder) {
			e.ParamValue("RETURNVALUE", "", cim.NewUint32(0))
			e.ParamValue("PARAMVALUE", "Out1", cim.NewString("x<y"))
			e.ParamValue("PARAMVALUE", "OutRef", ref)
			e.ParamValue("PARAMVALUE", "OutRefs", refArr)
			e.ParamValue("PARAMVALUE", "OutArr", inst.Get("AS64"))
			e.ParamValue("PARAMVALUE", "OutEmb", inst.Get("PEmb"))
		}},
		{"MethodResponseVoid", "METHODRESPONSE", "Nothing", func(e *xmlcodec.Encoder) {
			e.ParamValue("RETURNVALUE", "", cim.Value{})
		}},
		{"Error", "IMETHODRESPONSE", "GetInstance", func(e *xmlcodec.Encoder) {
			e.Error(cim.NewError(cim.ErrNotFound, `no instance "x" <here>`), false)
		}},
		{"ErrorWithInstances", "IMETHODRESPONSE", "GetInstance", func(e *xmlcodec.Encoder) {
			e.Error(cim.NewError(cim.ErrNotFound, "no such instance"), true)
		}},
	}
	for _, nullInArrays := range []bool{false, true} {
		for _, s := range shapes {
			name := s.name
			if nullInArrays {
				name += "/DTD2.3"
			}
			t.Run(name, func(t *testing.T) {
				e := &xmlcodec.Encoder{Host: "srv.example:5988", NullInArrays: nullInArrays}
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
	e := &xmlcodec.Encoder{Host: "h:1"}
	e.NamedInstance(inst)
	doc := e.B
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
	e2 := &xmlcodec.Encoder{Host: "h:1", NullInArrays: true}
	e2.Value(inst.Get("AStr"))
	if got, want := string(e2.B), `<VALUE.ARRAY><VALUE>a</VALUE><VALUE.NULL/><VALUE>c&amp;d</VALUE></VALUE.ARRAY>`; got != want {
		t.Errorf("array for a DTD 2.3 client = %s, want %s", got, want)
	}
	e3 := &xmlcodec.Encoder{Host: "srv:5989"}
	e3.ValueReference(inst.Path)
	if !strings.HasPrefix(string(e3.B), `<VALUE.REFERENCE><INSTANCEPATH><NAMESPACEPATH><HOST>srv:5989</HOST><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="test"/></LOCALNAMESPACEPATH></NAMESPACEPATH><INSTANCENAME CLASSNAME="Test_All">`) {
		t.Errorf("reference = %s", e3.B)
	}
	var e4 xmlcodec.Encoder
	e4.Error(cim.NewError(cim.ErrInvalidClass, "Class not found"), false)
	if got, want := string(e4.B), `<ERROR CODE="5" DESCRIPTION="CIM_ERR_INVALID_CLASS: Class not found"></ERROR>`; got != want {
		t.Errorf("error = %s, want %s", got, want)
	}
}

// TestEncodeDecodeRoundTrip encodes instances and classes and decodes them
// back with the request decoder.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := loadModel(t)
	inst := sampleInstance(t, m)
	d := newDecoder(context.Background(), nil, testNS)
	for _, nullInArrays := range []bool{true} {
		e := &xmlcodec.Encoder{Host: "h", NullInArrays: nullInArrays}
		e.Instance(inst)
		root, err := xmlcodec.Parse(e.B)
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, e.B)
		}
		got, err := d.DecodeInstance(root)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, e.B)
		}
		if !got.Equal(inst) {
			t.Errorf("instance round trip differs:\n got %#v\nwant %#v", got, inst)
		}
	}
	for _, name := range []string{"Test_Base", "Test_All", "Test_Assoc"} {
		c := mustClass(t, m, name)
		e := &xmlcodec.Encoder{Host: "h"}
		e.Class(c)
		root, err := xmlcodec.Parse(e.B)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		got, err := d.DecodeClass(root)
		if err != nil {
			t.Fatalf("decode %s: %v\n%s", name, err, e.B)
		}
		if !got.Equal(c) {
			t.Errorf("class %s round trip differs:\n got %s\nwant %s", name, got, c)
		}
	}
	for _, qt := range m.QualifierTypes(testNS) {
		e := &xmlcodec.Encoder{}
		e.QualifierDeclaration(qt)
		root, err := xmlcodec.Parse(e.B)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.DecodeQualifierDeclaration(root)
		if err != nil {
			t.Fatalf("decode %s: %v\n%s", qt.Name, err, e.B)
		}
		if !got.Equal(qt) {
			t.Errorf("qualifier %s round trip differs:\n got %s\nwant %s", qt.Name, got, qt)
		}
	}
}
