package wsman

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
	"unicode/utf8"
)

// The request parser (dom.go) reads bytes directly for speed. These tests
// hold it against encoding/xml, the standard library's tokenizer, used as
// an oracle: on every document both accept, the trees are the same, and
// the parser never accepts an ASCII document that encoding/xml refuses.

// oracleNode is a parsed element as comparable text.
type oracleNode struct {
	name     string
	attrs    []string
	text     strings.Builder
	children []*oracleNode
	scope    map[string]string
}

// oracleParse builds the tree with encoding/xml under the same rules and
// limits as parseXML.
func oracleParse(data []byte, lim Limits) (*oracleNode, error) {
	lim = lim.withDefaults()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("unsupported character encoding %q", label)
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
			return nsXML, true
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
			if count > lim.MaxElements || len(stack) >= lim.MaxDepth || len(t.Attr) > lim.MaxAttrs {
				return nil, errTooLarge
			}
			if len(stack) == 0 && root != nil {
				return nil, errors.New("more than one root element")
			}
			n := &oracleNode{scope: map[string]string{}}
			if len(stack) > 0 {
				for k, v := range stack[len(stack)-1].scope {
					n.scope[k] = v
				}
			}
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
			n.name = "{" + space + "}" + t.Name.Local
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				as, ok := resolve(n.scope, a.Name.Space, false)
				if !ok {
					return nil, fmt.Errorf("undeclared prefix %q", a.Name.Space)
				}
				n.attrs = append(n.attrs, "{"+as+"}"+a.Name.Local+"="+a.Value)
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
			names = append(names, t.Name)
		case xml.EndElement:
			if len(stack) == 0 || names[len(names)-1] != t.Name {
				return nil, errors.New("mismatched end element")
			}
			stack, names = stack[:len(stack)-1], names[:len(names)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		case xml.Directive:
			return nil, errors.New("document type declaration")
		}
	}
	if root == nil || len(stack) != 0 {
		return nil, errors.New("no complete root element")
	}
	return root, nil
}

// sameTree compares a parsed element with the oracle's.
func sameTree(e *element, n *oracleNode) error {
	if name := "{" + e.space + "}" + e.local; name != n.name {
		return fmt.Errorf("element %s, oracle %s", name, n.name)
	}
	var attrs []string
	for _, a := range e.attrs {
		attrs = append(attrs, "{"+a.space+"}"+a.local+"="+a.value)
	}
	if strings.Join(attrs, "\x00") != strings.Join(n.attrs, "\x00") {
		return fmt.Errorf("%s: attributes %q, oracle %q", n.name, attrs, n.attrs)
	}
	if e.text != n.text.String() {
		return fmt.Errorf("%s: text %q, oracle %q", n.name, e.text, n.text.String())
	}
	if len(e.children) != len(n.children) {
		return fmt.Errorf("%s: %d children, oracle %d", n.name, len(e.children), len(n.children))
	}
	for i := range e.children {
		if err := sameTree(e.children[i], n.children[i]); err != nil {
			return err
		}
	}
	return nil
}

// checkAgainstOracle parses data with both parsers and reports a
// disagreement.
func checkAgainstOracle(data []byte, lim Limits) error {
	got, err := parseXML(data, lim)
	want, oerr := oracleParse(bytes.TrimPrefix(data, []byte("\uFEFF")), lim)
	switch {
	case err == nil && oerr == nil:
		return sameTree(got, want)
	case err == nil && isASCII(data):
		return fmt.Errorf("accepted a document encoding/xml refuses (%v)", oerr)
	case errors.Is(err, errTooLarge) && oerr != nil && !errors.Is(oerr, errTooLarge) && isASCII(data):
		// Both refuse; the limit was met first.
	}
	return nil
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
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
	`<a><!-- -- --></a>`,
	`<a><?xml version="1.0"?></a>`,
	`<?xml version="1.1"?><a/>`,
	`<?xml version="1.0" encoding="ISO-8859-1"?><a/>`,
	`<p:a/>`,
	`<:a/>`,
	`<a:/>`,
	`<a:b:c xmlns:a="u"/>`,
	"<a>\x01</a>",
	"<a>\xff</a>",
	`<a>é€𝄞</a>`,
	`<é/>`,
	`<a`,
	`<a>`,
	`<a b="1`,
	`<![CDATA[x]]><a/>`,
}

func FuzzParseXML(f *testing.F) {
	for _, s := range oracleSeeds {
		f.Add([]byte(s))
	}
	for _, body := range captureBodies(f) {
		f.Add(body)
	}
	malformed, _ := filepath.Glob(filepath.Join("testdata", "malformed", "*.xml"))
	for _, m := range malformed {
		if data, err := os.ReadFile(m); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkAgainstOracle(data, Limits{MaxBytes: 1 << 20, MaxDepth: 16, MaxElements: 500, MaxAttrs: 8}); err != nil {
			t.Fatalf("%v\n%q", err, data)
		}
	})
}

// TestParserAgreesOnCaptures parses every client capture and malformed
// case with both parsers under the service's limits.
func TestParserAgreesOnCaptures(t *testing.T) {
	docs := captureBodies(t)
	malformed, _ := filepath.Glob(filepath.Join("testdata", "malformed", "*.xml"))
	for _, m := range malformed {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		docs[m] = data
	}
	for name, data := range docs {
		if err := checkAgainstOracle(data, Limits{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		_, err := parseXML(data, Limits{})
		_, oerr := oracleParse(data, Limits{})
		if (err == nil) != (oerr == nil) {
			t.Errorf("%s: parser error %v, encoding/xml error %v", name, err, oerr)
		}
	}
}
