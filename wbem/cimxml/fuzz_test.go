package cimxml

import (
	"context"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
	"github.com/hypercim/hypercim/wbem/internal/captures"
)

// FuzzDecodeRequest feeds arbitrary bodies to the request decoder. It must
// never panic or hang; whatever it decodes must encode into XML that parses
// again and decodes to the same objects.
func FuzzDecodeRequest(f *testing.F) {
	for _, body := range fixtureBodies(f) {
		f.Add(body)
	}
	for _, s := range []string{
		getClassBody,
		`<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="CreateInstance"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="NewInstance"><INSTANCE CLASSNAME="A"><QUALIFIER NAME="Q" TYPE="sint8" TOSUBCLASS="false"><VALUE.ARRAY><VALUE>-1</VALUE><VALUE.NULL/></VALUE.ARRAY></QUALIFIER><PROPERTY NAME="E" TYPE="string" EmbeddedObject="instance"><VALUE>&lt;INSTANCE CLASSNAME="B"&gt;&lt;PROPERTY NAME="x" TYPE="real64"&gt;&lt;VALUE&gt;1.5&lt;/VALUE&gt;&lt;/PROPERTY&gt;&lt;/INSTANCE&gt;</VALUE></PROPERTY><PROPERTY.REFERENCE NAME="R" REFERENCECLASS="B"><VALUE.REFERENCE><LOCALINSTANCEPATH><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/></LOCALNAMESPACEPATH><INSTANCENAME CLASSNAME="B"><KEYBINDING NAME="k"><KEYVALUE VALUETYPE="numeric" TYPE="uint8">7</KEYVALUE></KEYBINDING></INSTANCENAME></LOCALINSTANCEPATH></VALUE.REFERENCE></PROPERTY.REFERENCE></INSTANCE></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`,
		`<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="CreateClass"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="NewClass"><CLASS NAME="A" SUPERCLASS="B"><PROPERTY.ARRAY NAME="a" TYPE="datetime" ARRAYSIZE="2"></PROPERTY.ARRAY><METHOD NAME="m" TYPE="uint32"><PARAMETER.REFARRAY NAME="p" REFERENCECLASS="C"></PARAMETER.REFARRAY></METHOD></CLASS></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`,
		`<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="SetQualifier"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="QualifierDeclaration"><QUALIFIER.DECLARATION NAME="Q" TYPE="string" ISARRAY="true"><SCOPE CLASS="true"/><VALUE.ARRAY><VALUE>x</VALUE></VALUE.ARRAY></QUALIFIER.DECLARATION></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, perr := decodeEnvelope(new(xmlcodec.Parser), body)
		if perr != nil {
			if perr.status < 400 || perr.status > 599 {
				t.Fatalf("protocol error with status %d", perr.status)
			}
			return
		}
		d := newDecoder(context.Background(), nil, req.ns)
		if req.target != nil {
			if p, err := d.DecodePath(req.target); err == nil {
				roundTripPath(t, p)
			}
		}
		for _, pv := range req.params {
			for _, c := range pv.Children {
				roundTripElement(t, d, c)
			}
		}
	})
}

// roundTripElement decodes a parameter value element by its kind, and when
// that succeeds checks that the encoding of the result decodes equal.
func roundTripElement(t *testing.T, d *decoder, n *xmlcodec.Node) {
	var e xmlcodec.Encoder
	switch n.Name {
	case "INSTANCE":
		inst, err := d.DecodeInstance(n)
		if err != nil {
			return
		}
		e.NullInArrays = true
		e.Instance(inst)
		back := reparse(t, e.B)
		got, err := d.DecodeInstance(back)
		if err != nil {
			t.Fatalf("re-decoding our own INSTANCE: %v\n%s", err, e.B)
		}
		if !got.Equal(inst) {
			t.Fatalf("instance changed in a round trip:\n%s", e.B)
		}
	case "CLASS":
		c, err := d.DecodeClass(n)
		if err != nil {
			return
		}
		e.NullInArrays = true
		e.Class(c)
		back := reparse(t, e.B)
		got, err := d.DecodeClass(back)
		if err != nil {
			t.Fatalf("re-decoding our own CLASS: %v\n%s", err, e.B)
		}
		if !got.Equal(c) {
			t.Fatalf("class changed in a round trip:\n%s", e.B)
		}
	case "QUALIFIER.DECLARATION":
		qt, err := d.DecodeQualifierDeclaration(n)
		if err != nil {
			return
		}
		e.NullInArrays = true
		e.QualifierDeclaration(qt)
		reparse(t, e.B)
	case "INSTANCENAME", "CLASSNAME", "VALUE.REFERENCE":
		var p *cim.ObjectPath
		var err error
		if n.Name == "VALUE.REFERENCE" {
			p, err = d.DecodeValueReference(n)
		} else {
			p, err = d.DecodePath(n)
		}
		if err == nil {
			roundTripPath(t, p)
		}
	case "VALUE", "VALUE.ARRAY":
		v, err := d.untypedValue(n, "")
		if err == nil && !v.IsNull() {
			e.NullInArrays = true
			e.Value(v)
			reparse(t, e.B)
		}
	}
}

func roundTripPath(t *testing.T, p *cim.ObjectPath) {
	e := xmlcodec.Encoder{Host: "h"}
	e.ValueReference(p)
	reparse(t, e.B)
}

// reparse checks that encoder output is well-formed and returns its root.
func reparse(t *testing.T, b []byte) *xmlcodec.Node {
	t.Helper()
	root, err := xmlcodec.Parse(b)
	if err != nil {
		t.Fatalf("our own output does not parse: %v\n%s", err, b)
	}
	return root
}

// fixtureBodies returns the bodies of the captured wbemcli requests.
func fixtureBodies(tb testing.TB) [][]byte {
	tb.Helper()
	bodies, err := captures.WbemcliRequests()
	if err != nil {
		tb.Fatal(err)
	}
	return bodies
}
