package wsman

import "strconv"

// appendElementXML appends e, its attributes and its content as XML that
// stands on its own wherever it is pasted: every namespace it uses is
// declared on the element that first needs it (prefixes n0, n1, ...).
// Event messages carry the reference parameters of a subscriber's
// NotifyTo and EndTo this way, as WS-Addressing asks: copied as header
// blocks, whatever prefixes the subscriber used.
//
// The element's character data is written before its children: reference
// parameters are either text or elements, and the parsed tree does not
// keep the order of mixed content.
func appendElementXML(dst []byte, e *element) []byte {
	w := xmlWriter{}
	return w.element(dst, e)
}

// xmlWriter tracks the namespace prefixes in scope while writing.
type xmlWriter struct {
	scope []nsBinding
	next  int
}

type nsBinding struct{ uri, prefix string }

// prefixFor returns the prefix bound to uri in scope, or binds a new one
// and appends its declaration to decl.
func (w *xmlWriter) prefixFor(uri string, decl []byte) (string, []byte) {
	if uri == nsXML {
		return "xml", decl
	}
	for i := len(w.scope) - 1; i >= 0; i-- {
		if w.scope[i].uri == uri {
			return w.scope[i].prefix, decl
		}
	}
	p := "n" + strconv.Itoa(w.next)
	w.next++
	w.scope = append(w.scope, nsBinding{uri, p})
	decl = append(decl, " xmlns:"+p+`="`...)
	decl = appendEscaped(decl, uri)
	return p, append(decl, '"')
}

func (w *xmlWriter) element(dst []byte, e *element) []byte {
	mark := len(w.scope)
	var decl, attrs []byte
	tag := e.Local
	if e.Space != "" {
		var p string
		p, decl = w.prefixFor(e.Space, decl)
		tag = p + ":" + e.Local
	}
	for _, a := range e.Attrs {
		name := a.Name.Local
		if a.Name.Space != "" {
			var p string
			p, decl = w.prefixFor(a.Name.Space, decl)
			name = p + ":" + a.Name.Local
		}
		attrs = append(attrs, ' ')
		attrs = append(attrs, name...)
		attrs = append(attrs, `="`...)
		attrs = appendEscaped(attrs, a.Value)
		attrs = append(attrs, '"')
	}
	dst = append(dst, '<')
	dst = append(dst, tag...)
	if e.Space == "" && len(w.scope) == 0 {
		// Pasted into a document, an unqualified element must not fall into
		// a default namespace declared around it.
		dst = append(dst, ` xmlns=""`...)
	}
	dst = append(dst, decl...)
	dst = append(dst, attrs...)
	if e.Text == "" && len(e.Children) == 0 {
		dst = append(dst, "/>"...)
		w.scope = w.scope[:mark]
		return dst
	}
	dst = append(dst, '>')
	dst = appendEscaped(dst, e.Text)
	for _, c := range e.Children {
		dst = w.element(dst, c)
	}
	dst = append(dst, "</"...)
	dst = append(dst, tag...)
	dst = append(dst, '>')
	w.scope = w.scope[:mark]
	return dst
}
