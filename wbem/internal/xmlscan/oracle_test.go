package xmlscan

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

	"github.com/hypercim/hypercim/wbem/internal/captures"
)

// The reader is held against encoding/xml's strict tokenizer as an
// oracle, in both modes: whatever Parse accepts, encoding/xml accepts as
// the same tree (Parse may be stricter, never laxer). The one allowed
// difference: names are checked against XML 1.0 fifth edition, whose
// name characters include every one of encoding/xml's older tables
// (TestNameCharsCoverEncodingXML) and more.

// Options of the two adapters, with small limits for the fuzzer.
var (
	rawOptions = Options{AllowDoctype: true, NoMixedContent: true, MaxDepth: 64, MaxAttrs: 32}
	nsOptions  = Options{Namespaces: true, MaxDepth: 16, MaxElements: 500, MaxAttrs: 8}
)

// oracleNode is an element as encoding/xml reads it.
type oracleNode struct {
	raw      xml.Name // as RawToken splits it
	name     xml.Name
	attrs    []xml.Attr
	text     strings.Builder
	children []*oracleNode
	scope    map[string]string
}

// oracleParse builds the tree with encoding/xml, resolving namespaces as
// Options.Namespaces does (prefixes in scope, declarations left out of
// the attributes) or leaving names as RawToken splits them, and applying
// the options' limits and NoMixedContent.
func oracleParse(data []byte, o Options) (*oracleNode, error) {
	d := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF"))))
	d.Strict = true
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("%w %q", ErrCharset, label)
	}
	var root *oracleNode
	var stack []*oracleNode
	var names []xml.Name
	count := 0
	resolve := func(scope map[string]string, prefix string, element bool) (string, bool) {
		switch {
		case prefix == "" && !element:
			return "", true
		case prefix == "xml":
			return NamespaceXML, true
		}
		uri, ok := scope[prefix]
		return uri, ok || prefix == ""
	}
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
			count++
			if o.MaxElements > 0 && count > o.MaxElements || o.MaxDepth > 0 && len(stack) >= o.MaxDepth || o.MaxAttrs > 0 && len(t.Attr) > o.MaxAttrs {
				return nil, ErrLimit
			}
			if len(stack) == 0 && root != nil {
				return nil, errors.New("more than one root element")
			}
			n := &oracleNode{raw: t.Name, name: t.Name, attrs: t.Attr}
			if o.Namespaces {
				n.scope = map[string]string{}
				if len(stack) > 0 {
					for k, v := range stack[len(stack)-1].scope {
						n.scope[k] = v
					}
				}
				n.attrs = nil
				for _, a := range t.Attr {
					switch {
					case a.Name.Space == "" && a.Name.Local == "xmlns":
						n.scope[""] = a.Value
					case a.Name.Space == "xmlns":
						n.scope[a.Name.Local] = a.Value
					}
				}
				space, ok := resolve(n.scope, t.Name.Space, true)
				if !ok {
					return nil, fmt.Errorf("undeclared prefix %q", t.Name.Space)
				}
				n.name.Space = space
				for _, a := range t.Attr {
					if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
						continue
					}
					if a.Name.Space, ok = resolve(n.scope, a.Name.Space, false); !ok {
						return nil, fmt.Errorf("undeclared prefix %q", a.Name.Space)
					}
					n.attrs = append(n.attrs, a)
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
				if o.NoMixedContent {
					if !blank(p.text.String()) {
						return nil, ErrMixedContent
					}
					p.text.Reset()
				}
			} else {
				root = n
			}
			stack = append(stack, n)
			names = append(names, t.Name)
		case xml.EndElement:
			if len(stack) == 0 || names[len(names)-1] != t.Name {
				return nil, errors.New("mismatched end element")
			}
			n := stack[len(stack)-1]
			if o.NoMixedContent && len(n.children) > 0 {
				if !blank(n.text.String()) {
					return nil, ErrMixedContent
				}
				n.text.Reset()
			}
			stack, names = stack[:len(stack)-1], names[:len(names)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if !blank(string(t)) {
				return nil, errors.New("text outside the root element")
			}
		case xml.Directive:
			if !o.AllowDoctype {
				return nil, ErrDoctype
			}
		}
	}
	if root == nil || len(stack) != 0 {
		return nil, errors.New("no complete root element")
	}
	return root, nil
}

// sameTree compares a parsed element with the oracle's.
func sameTree(e *Node, n *oracleNode) error {
	if e.Space != n.name.Space || e.Local != n.name.Local {
		return fmt.Errorf("element {%s}%s, oracle %v", e.Space, e.Local, n.name)
	}
	if raw := n.raw.Local; n.raw.Space != "" && e.Name != n.raw.Space+":"+raw || n.raw.Space == "" && e.Name != raw {
		return fmt.Errorf("element %s, oracle %v", e.Name, n.raw)
	}
	if len(e.Attrs) != len(n.attrs) {
		return fmt.Errorf("%s: attributes %v, oracle %v", e.Name, e.Attrs, n.attrs)
	}
	for i := range e.Attrs {
		if e.Attrs[i] != n.attrs[i] {
			return fmt.Errorf("%s: attributes %v, oracle %v", e.Name, e.Attrs, n.attrs)
		}
	}
	if e.Text != n.text.String() {
		return fmt.Errorf("%s: text %q, oracle %q", e.Name, e.Text, n.text.String())
	}
	if len(e.Children) != len(n.children) {
		return fmt.Errorf("%s: %d children, oracle %d", e.Name, len(e.Children), len(n.children))
	}
	for i := range e.Children {
		if err := sameTree(e.Children[i], n.children[i]); err != nil {
			return err
		}
	}
	return nil
}

// checkAgainstOracle parses data with ps and with encoding/xml and
// reports a disagreement.
func checkAgainstOracle(ps *Parser, data []byte, o Options) error {
	got, err := ps.Parse(data, o)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Kind == nil || e.Line < 1 {
			return fmt.Errorf("an error that is not an *Error of a kind: %#v", err)
		}
		return nil
	}
	want, oerr := oracleParse(data, o)
	if oerr != nil {
		if strings.Contains(oerr.Error(), "invalid XML name") && !isASCII(data) {
			return nil // fifth edition names
		}
		return fmt.Errorf("accepted a document encoding/xml refuses (%v)", oerr)
	}
	return sameTree(got, want)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// oracleSeeds are documents on the edges of the grammar.
var oracleSeeds = []string{
	`<a/>`,
	"\uFEFF<?xml version=\"1.0\" encoding=\"utf-8\"?><a/>",
	"  \n<?xml version='1.0'?>\n<!-- c --><a x='1' y=\"2\"><b/>t&amp;&lt;&gt;&apos;&quot;&#65;&#x42;</a><?pi x?>\n",
	"<a>x\r\ny\rz<![CDATA[<&\r\n]]>w</a>",
	`<a xmlns="u1" xmlns:p="u2"><p:b p:c="1" c="2"><d xmlns=""/></p:b></a>`,
	`<a xml:lang="en"/>`,
	`<a b="1" b="2"/>`,
	`<a xmlns:p="u" xmlns:q="u" p:x="1" q:x="2"/>`,
	`<a b="1"c="2"/>`,
	`<a>]]></a>`,
	`<a>&bogus;</a>`,
	`<a>&#0;</a>`,
	`<a>&#xD800;</a>`,
	`<a b="<"/>`,
	`<a><b></a></b>`,
	`<a/><b/>`,
	`text<a/>`,
	`<a/>text`,
	`<!DOCTYPE a><a/>`,
	`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`,
	`<a><!-- -- --></a>`,
	`<a><?xml version="1.0"?></a>`,
	`<?xml version="1.1"?><a/>`,
	`<?xml version="1.0" encoding="ISO-8859-1"?><a/>`,
	`<p:a/>`,
	`<:a/>`,
	`<a:/>`,
	`<a :b="1" c:="2"/>`,
	`<a:b:c xmlns:a="u"/>`,
	"<a>\x01</a>",
	"<a>\xff</a>",
	`<a>é€𝄞</a>`,
	`<é/>`,
	`<a`,
	`<a>`,
	`<a b="1`,
	`<![CDATA[x]]><a/>`,
	`<?xml version="1.0"?><!-- c --><A x='1' y="&lt;&#65;&#x42;"><B>t&amp;x<![CDATA[<raw>]]>y</B><!--x--><?pi z?><C/></A>`,
	"<A>\r\nline\rend</A>",
	`<A xml:lang="en" b:c="d">é✓</A>`,
	"<A> <B/> text <C/></A>",
}

// FuzzParse checks the reader against the oracle in both modes, with one
// Parser reused for every input and both modes, as a server's pooled
// Parsers are, and a new Parser: both must give the same answer.
func FuzzParse(f *testing.F) {
	for _, s := range oracleSeeds {
		f.Add([]byte(s))
	}
	for _, body := range fixtureDocuments(f) {
		f.Add(body)
	}
	var reused Parser
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, o := range []Options{rawOptions, nsOptions} {
			if err := checkAgainstOracle(&reused, data, o); err != nil {
				t.Fatalf("namespaces %v: %v\n%q", o.Namespaces, err, data)
			}
			var fresh Parser
			a, aerr := fresh.Parse(data, o)
			b, berr := reused.Parse(data, o)
			if (aerr == nil) != (berr == nil) || aerr != nil && aerr.Error() != berr.Error() {
				t.Fatalf("namespaces %v: a new Parser answers %v, a reused one %v\n%q", o.Namespaces, aerr, berr, data)
			}
			if aerr == nil {
				if diff := sameNodes(a, b); diff != "" {
					t.Fatalf("namespaces %v: a reused Parser builds another tree: %s\n%q", o.Namespaces, diff, data)
				}
			}
		}
	})
}

// sameNodes compares two trees of the reader, namespace scopes included.
func sameNodes(a, b *Node) string {
	if a.Name != b.Name || a.Space != b.Space || a.Local != b.Local || a.Text != b.Text || len(a.Children) != len(b.Children) || len(a.Attrs) != len(b.Attrs) {
		return fmt.Sprintf("<%s> %q/%d children vs <%s> %q/%d children", a.Name, a.Text, len(a.Children), b.Name, b.Text, len(b.Children))
	}
	for i := range a.Attrs {
		if a.Attrs[i] != b.Attrs[i] {
			return fmt.Sprintf("<%s> attribute %v vs %v", a.Name, a.Attrs[i], b.Attrs[i])
		}
	}
	if a.scope != b.scope || (a.p == nil) != (b.p == nil) {
		return fmt.Sprintf("<%s> namespace scopes differ", a.Name)
	}
	for i := range a.Children {
		if d := sameNodes(a.Children[i], b.Children[i]); d != "" {
			return d
		}
	}
	return ""
}

// TestAgreesOnFixtures reads every captured client request and malformed
// WS-Man case in the mode of its protocol: the reader and encoding/xml
// must accept and refuse the same documents.
func TestAgreesOnFixtures(t *testing.T) {
	var ps Parser
	for name, doc := range fixtureFiles(t) {
		o := Options{Namespaces: true, MaxDepth: 64, MaxElements: 100000, MaxAttrs: 64}
		if strings.Contains(name, "wbemcli") {
			o = rawOptions
		}
		if err := checkAgainstOracle(&ps, doc, o); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		_, err := ps.Parse(doc, o)
		_, oerr := oracleParse(doc, o)
		if (err == nil) != (oerr == nil) {
			t.Errorf("%s: reader error %v, encoding/xml error %v", name, err, oerr)
		}
	}
}

// fixtureFiles returns the bodies (HTTP headers stripped) of the captured
// wbemcli and WS-Man client requests in the shared fixtures, which CI
// keeps beside the repository (../shared from the module root), and the
// malformed envelopes of the WS-Man adapter's tests, by path.
func fixtureFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		tb.Fatal(err)
	}
	clients := captures.Dir()
	wbemcli, _ := filepath.Glob(filepath.Join(clients, "wbemcli-requests*", "*.txt"))
	wsman, _ := filepath.Glob(filepath.Join(clients, "wsman", "*", "*"))
	if len(wbemcli) < 20 || len(wsman) < 100 {
		tb.Fatalf("%d wbemcli and %d WS-Man captures under %s: the shared fixtures belong at ../shared next to the repository", len(wbemcli), len(wsman), clients)
	}
	malformed, _ := filepath.Glob(filepath.Join(root, "wbem", "wsman", "testdata", "malformed", "*.xml"))
	if len(malformed) == 0 {
		tb.Fatal("no malformed WS-Man envelopes in wbem/wsman/testdata/malformed")
	}
	out := map[string][]byte{}
	for _, f := range append(append(wbemcli, wsman...), malformed...) {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if strings.HasSuffix(f, ".txt") {
			data = captures.Body(data)
		}
		out[f] = data
	}
	return out
}

func fixtureDocuments(tb testing.TB) [][]byte {
	var out [][]byte
	for _, doc := range fixtureFiles(tb) {
		out = append(out, doc)
	}
	return out
}

// BenchmarkParseEncodingXML is encoding/xml's tokenizer building the tree
// of a wbemcli request, for comparison with BenchmarkParseRaw and
// BenchmarkParse in wbem/cimxml/xmlcodec (the same request).
func BenchmarkParseEncodingXML(b *testing.B) {
	body := benchmarkBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := oracleParse(body, rawOptions); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRaw(b *testing.B) {
	body := benchmarkBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var ps Parser
	for b.Loop() {
		if _, err := ps.Parse(body, rawOptions); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseNamespaces(b *testing.B) {
	body := benchmarkBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var ps Parser
	for b.Loop() {
		if _, err := ps.Parse(body, nsOptions); err != nil {
			b.Fatal(err)
		}
	}
}

// benchmarkBody returns the body of the wbemcli GetClass request that
// BenchmarkParse in wbem/cimxml/xmlcodec parses.
func benchmarkBody(tb testing.TB) []byte {
	for name, doc := range fixtureFiles(tb) {
		if strings.HasSuffix(name, filepath.Join("wbemcli-requests-2", "09_GetClass.txt")) {
			return doc
		}
	}
	tb.Fatal("no wbemcli-requests-2/09_GetClass.txt capture")
	return nil
}
