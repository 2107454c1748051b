package cimxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
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
		req, perr := decodeEnvelope(body)
		if perr != nil {
			if perr.status < 400 || perr.status > 599 {
				t.Fatalf("protocol error with status %d", perr.status)
			}
			return
		}
		d := &decoder{ns: req.ns}
		if req.target != nil {
			if p, err := d.decodePath(req.target); err == nil {
				roundTripPath(t, p)
			}
		}
		for _, pv := range req.params {
			for _, c := range pv.children {
				roundTripElement(t, d, c)
			}
		}
	})
}

// roundTripElement decodes a parameter value element by its kind, and when
// that succeeds checks that the encoding of the result decodes equal.
func roundTripElement(t *testing.T, d *decoder, n *node) {
	var e encoder
	switch n.name {
	case "INSTANCE":
		inst, err := d.decodeInstance(n)
		if err != nil {
			return
		}
		e.nullInArrays = true
		e.instance(inst)
		back := reparse(t, e.b)
		got, err := d.decodeInstance(back)
		if err != nil {
			t.Fatalf("re-decoding our own INSTANCE: %v\n%s", err, e.b)
		}
		if !got.Equal(inst) {
			t.Fatalf("instance changed in a round trip:\n%s", e.b)
		}
	case "CLASS":
		c, err := d.decodeClass(n)
		if err != nil {
			return
		}
		e.nullInArrays = true
		e.class(c)
		back := reparse(t, e.b)
		got, err := d.decodeClass(back)
		if err != nil {
			t.Fatalf("re-decoding our own CLASS: %v\n%s", err, e.b)
		}
		if !got.Equal(c) {
			t.Fatalf("class changed in a round trip:\n%s", e.b)
		}
	case "QUALIFIER.DECLARATION":
		qt, err := d.decodeQualifierDeclaration(n)
		if err != nil {
			return
		}
		e.nullInArrays = true
		e.qualifierDeclaration(qt)
		reparse(t, e.b)
	case "INSTANCENAME", "CLASSNAME", "VALUE.REFERENCE":
		var p *cim.ObjectPath
		var err error
		if n.name == "VALUE.REFERENCE" {
			p, err = d.decodeValueReference(n)
		} else {
			p, err = d.decodePath(n)
		}
		if err == nil {
			roundTripPath(t, p)
		}
	case "VALUE", "VALUE.ARRAY":
		v, err := d.untypedValue(n, "")
		if err == nil && !v.IsNull() {
			e.nullInArrays = true
			e.value(v)
			reparse(t, e.b)
		}
	}
}

func roundTripPath(t *testing.T, p *cim.ObjectPath) {
	e := encoder{host: "h"}
	e.valueReference(p)
	reparse(t, e.b)
}

// reparse checks that encoder output is well-formed and returns its root.
func reparse(t *testing.T, b []byte) *node {
	t.Helper()
	root, err := parseTree(b)
	if err != nil {
		t.Fatalf("our own output does not parse: %v\n%s", err, b)
	}
	return root
}

// fixtureBodies returns the bodies of the captured wbemcli requests.
func fixtureBodies(tb testing.TB) [][]byte {
	dir := filepath.Join(repoRoot(tb), "..", "shared", "fixtures", "clients")
	files, _ := filepath.Glob(filepath.Join(dir, "wbemcli-requests*", "*.txt"))
	if len(files) == 0 {
		tb.Fatalf("no wbemcli request captures under %s: the shared fixtures belong at ../shared next to the repository", dir)
	}
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
			out = append(out, raw[i+4:])
		}
	}
	return out
}

// FuzzParseTree compares the request parser with encoding/xml: whatever
// parseTree accepts, encoding/xml must accept as the same tree (parseTree
// may be stricter, never laxer).
func FuzzParseTree(f *testing.F) {
	for _, body := range fixtureBodies(f) {
		f.Add(body)
	}
	for _, s := range []string{
		getClassBody,
		`<?xml version="1.0"?><!-- c --><A x='1' y="&lt;&#65;&#x42;"><B>t&amp;x<![CDATA[<raw>]]>y</B><!--x--><?pi z?><C/></A>`,
		"<A>\r\nline\rend</A>",
		`<A xml:lang="en" b:c="d">é✓</A>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := parseTree(doc)
		if err != nil {
			return
		}
		want, rerr := referenceParse(doc)
		if rerr != nil {
			t.Fatalf("parseTree accepted what encoding/xml rejects (%v):\n%q", rerr, doc)
		}
		if diff := compareTrees(got, want); diff != "" {
			t.Fatalf("trees differ: %s\n%q", diff, doc)
		}
	})
}

// referenceParse builds the tree with encoding/xml's strict tokenizer.
func referenceParse(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var root *node
	var stack []*node
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("two roots")
			}
			n := &node{name: qualifiedName(t.Name), attrs: t.Attr}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].name != qualifiedName(t.Name) {
				return nil, errors.New("mismatched end tag")
			}
			n := stack[len(stack)-1]
			if len(n.children) > 0 {
				n.text = ""
			}
			n.textual = len(n.children) == 0 && strings.TrimSpace(n.text) != ""
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root")
			}
		}
	}
	if root == nil || len(stack) > 0 {
		return nil, errors.New("incomplete document")
	}
	return root, nil
}

func qualifiedName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func compareTrees(a, b *node) string {
	if a.name != b.name || a.text != b.text || a.textual != b.textual || len(a.children) != len(b.children) || len(a.attrs) != len(b.attrs) {
		return fmt.Sprintf("<%s> %q/%d children vs <%s> %q/%d children", a.name, a.text, len(a.children), b.name, b.text, len(b.children))
	}
	for i := range a.attrs {
		if a.attrs[i] != b.attrs[i] {
			return fmt.Sprintf("<%s> attribute %v vs %v", a.name, a.attrs[i], b.attrs[i])
		}
	}
	for i := range a.children {
		if d := compareTrees(a.children[i], b.children[i]); d != "" {
			return d
		}
	}
	return ""
}
