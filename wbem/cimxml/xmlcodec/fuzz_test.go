package xmlcodec

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
)

// fixtureBodies returns the bodies of the captured wbemcli requests in the
// shared fixtures, which CI keeps next to the repository (../shared).
func fixtureBodies(tb testing.TB) [][]byte {
	dir := filepath.Join("..", "..", "..", "..", "shared", "fixtures", "clients")
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
// Parse accepts, encoding/xml must accept as the same tree (Parse
// may be stricter, never laxer).
func FuzzParseTree(f *testing.F) {
	for _, body := range fixtureBodies(f) {
		f.Add(body)
	}
	for _, s := range []string{
		`<?xml version="1.0"?><!-- c --><A x='1' y="&lt;&#65;&#x42;"><B>t&amp;x<![CDATA[<raw>]]>y</B><!--x--><?pi z?><C/></A>`,
		"<A>\r\nline\rend</A>",
		`<A xml:lang="en" b:c="d">é✓</A>`,
	} {
		f.Add([]byte(s))
	}
	// reused parses every input after the previous ones, as a server's
	// pooled parsers do: it must give the same tree as a new one.
	var reused Parser
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := Parse(doc)
		again, aerr := reused.Parse(doc)
		if (err == nil) != (aerr == nil) {
			t.Fatalf("a reused Parser answers %v, a new one %v:\n%q", aerr, err, doc)
		}
		if err != nil {
			return
		}
		if diff := compareTrees(again, got); diff != "" {
			t.Fatalf("a reused Parser builds another tree: %s\n%q", diff, doc)
		}
		want, rerr := referenceParse(doc)
		if rerr != nil {
			t.Fatalf("Parse accepted what encoding/xml rejects (%v):\n%q", rerr, doc)
		}
		if diff := compareTrees(got, want); diff != "" {
			t.Fatalf("trees differ: %s\n%q", diff, doc)
		}
	})
}

// referenceParse builds the tree with encoding/xml's strict tokenizer.
func referenceParse(data []byte) (*Node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// Parse also takes the "utf8" spelling of UTF-8 in the declaration.
	d.CharsetReader = func(charset string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf8") {
			return in, nil
		}
		return nil, fmt.Errorf("charset %s", charset)
	}
	var root *Node
	var stack []*Node
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
			n := &Node{Name: qualifiedName(t.Name), Attrs: t.Attr}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].Name != qualifiedName(t.Name) {
				return nil, errors.New("mismatched end tag")
			}
			n := stack[len(stack)-1]
			if len(n.Children) > 0 {
				n.Text = ""
			}
			n.Textual = len(n.Children) == 0 && strings.TrimSpace(n.Text) != ""
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
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

func compareTrees(a, b *Node) string {
	if a.Name != b.Name || a.Text != b.Text || a.Textual != b.Textual || len(a.Children) != len(b.Children) || len(a.Attrs) != len(b.Attrs) {
		return fmt.Sprintf("<%s> %q/%d children vs <%s> %q/%d children", a.Name, a.Text, len(a.Children), b.Name, b.Text, len(b.Children))
	}
	for i := range a.Attrs {
		if a.Attrs[i] != b.Attrs[i] {
			return fmt.Sprintf("<%s> attribute %v vs %v", a.Name, a.Attrs[i], b.Attrs[i])
		}
	}
	for i := range a.Children {
		if d := compareTrees(a.Children[i], b.Children[i]); d != "" {
			return d
		}
	}
	return ""
}

// BenchmarkParse and BenchmarkParseEncodingXML compare the parser with encoding/xml's tokenizer on a GetInstance request.
func BenchmarkParse(b *testing.B) {
	body := fixtureBodies(b)[8]
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEncodingXML(b *testing.B) {
	body := fixtureBodies(b)[8]
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := referenceParse(body); err != nil {
			b.Fatal(err)
		}
	}
}
