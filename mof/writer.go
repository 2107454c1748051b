package mof

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hypercim/hypercim/cim"
)

// Writer writes CIM objects as MOF (DSP0221 v2) that this package, and
// other MOF v2 compilers, compile back to the same objects: the same
// qualifier declarations, and classes that resolve to the same classes
// (properties, methods, parameters, qualifier values and flavors, default
// values, ClassOrigin). Long strings are split into adjacent literals the
// way the DMTF schema writes its descriptions.
//
// Classes may be given resolved (as a Target returns them) or as declared;
// only the elements a class declares itself are written. Write the
// qualifier declarations first: the Writer uses them to write a
// qualifier's flavors only where they differ from its declaration.
type Writer struct {
	out   io.Writer
	buf   []byte
	quals cim.QualifierTypes
	err   error
}

// NewWriter returns a Writer on w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{out: w, quals: cim.QualifierTypes{}}
}

// Flush writes buffered output and returns the first error met, if any.
func (w *Writer) Flush() error {
	if len(w.buf) > 0 && w.err == nil {
		_, w.err = w.out.Write(w.buf)
	}
	w.buf = w.buf[:0]
	return w.err
}

// flushIfFull passes output on between declarations once enough is
// buffered.
func (w *Writer) flushIfFull() {
	if len(w.buf) >= 64<<10 {
		w.Flush()
	}
}

func (w *Writer) str(s string) { w.buf = append(w.buf, s...) }

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// Pragma writes #pragma name ("arg").
func (w *Writer) Pragma(name, arg string) {
	w.str("#pragma " + name + " (")
	w.quoted(arg)
	w.str(")\n")
}

// QualifierType writes a qualifier declaration.
func (w *Writer) QualifierType(qt *cim.QualifierType) {
	w.quals[cim.FoldName(qt.Name)] = qt
	w.str("Qualifier " + qt.Name + " : " + qt.Type.String())
	if qt.IsArray {
		w.arraySuffix(qt.ArraySize)
	}
	if !qt.Default.IsNull() {
		w.str(" = ")
		w.value(qt.Default, "    ")
	}
	w.str(",\n    Scope(" + qt.Scopes.String() + ")")
	if qt.Flavor != 0 {
		w.str(",\n    Flavor(" + qt.Flavor.String() + ")")
	}
	w.str(";\n\n")
	w.flushIfFull()
}

func (w *Writer) arraySuffix(size int) {
	if size > 0 {
		w.str("[" + strconv.Itoa(size) + "]")
	} else {
		w.str("[]")
	}
}

// Class writes a class declaration: its own qualifiers, properties and
// methods (those not marked Propagated).
func (w *Writer) Class(c *cim.Class) {
	w.qualifierList(c.Qualifiers, "", "\n")
	w.str("class " + c.Name)
	if c.SuperClass != "" {
		w.str(" : " + c.SuperClass)
	}
	w.str(" {\n")
	for _, p := range c.Properties() {
		if p.Propagated {
			continue
		}
		w.str("\n")
		w.qualifierList(p.Qualifiers, "      ", "\n")
		w.str("   ")
		w.decl(p.Name, p.Type, p.IsArray, p.ArraySize, p.ReferenceClass)
		if !p.Value.IsNull() {
			w.str(" = ")
			w.value(p.Value, "      ")
		}
		w.str(";\n")
	}
	for _, m := range c.Methods() {
		if m.Propagated {
			continue
		}
		w.str("\n")
		w.qualifierList(m.Qualifiers, "      ", "\n")
		w.str("   " + m.ReturnType.String() + " " + m.Name + "(")
		for i, par := range m.Parameters {
			if i > 0 {
				w.str(",")
			}
			w.str("\n")
			w.qualifierList(par.Qualifiers, "         ", "\n")
			w.str("      ")
			w.decl(par.Name, par.Type, par.IsArray, par.ArraySize, par.ReferenceClass)
		}
		w.str(");\n")
	}
	w.str("\n};\n\n")
	w.flushIfFull()
}

func (w *Writer) decl(name string, t cim.Type, isArray bool, size int, refClass string) {
	if t == cim.TypeReference {
		w.str(refClass + " REF " + name)
	} else {
		w.str(t.String() + " " + name)
	}
	if isArray {
		w.arraySuffix(size)
	}
}

// qualifierList writes [Q1, Q2(v), ...] for the qualifiers an element
// declares itself, followed by end; it writes nothing when there are none.
// A short list goes on one line, a long one gets a line per qualifier.
func (w *Writer) qualifierList(qs cim.Qualifiers, indent, end string) {
	var parts []string
	total := 0
	for _, q := range qs {
		if q.Propagated {
			continue
		}
		start := len(w.buf)
		w.qualifier(q, indent+"    ")
		parts = append(parts, string(w.buf[start:]))
		total += len(w.buf) - start + 2
		w.buf = w.buf[:start]
	}
	if len(parts) == 0 {
		return
	}
	sep := ", "
	if total > 60 || strings.Contains(strings.Join(parts, ""), "\n") {
		sep = ",\n" + indent + " "
	}
	w.str(indent + "[" + strings.Join(parts, sep) + "]" + end)
}

func (w *Writer) qualifier(q cim.Qualifier, indent string) {
	w.str(q.Name)
	v := q.Value
	switch {
	case v.Type() == cim.TypeBoolean && !v.IsArray() && !v.IsNull() && v.Bool():
		// [Key] is Key(true).
	case v.IsArray() && !v.IsNull():
		w.str(" ")
		w.value(v, indent)
	default:
		w.str(" ( ")
		w.value(v, indent)
		w.str(" )")
	}
	if f := w.explicitFlavor(q); f != 0 {
		w.str(" : " + strings.ReplaceAll(f.String(), ",", ""))
	}
}

// explicitFlavor returns the flavors to write after a qualifier: none when
// they are what its declaration gives, else all of them.
func (w *Writer) explicitFlavor(q cim.Qualifier) cim.Flavor {
	decl := w.quals.Get(q.Name)
	if decl == nil || q.Flavor == 0 {
		return q.Flavor
	}
	if q.Flavor == decl.Flavor.Complete() {
		return 0
	}
	return q.Flavor
}

// Instance writes an instance declaration with every property that has a
// value. References are written as object paths.
func (w *Writer) Instance(inst *cim.Instance) {
	w.qualifierList(inst.Qualifiers, "", "\n")
	w.str("instance of " + inst.ClassName + " {\n")
	for _, p := range inst.Properties() {
		if p.Value.IsNull() {
			continue
		}
		w.qualifierList(p.Qualifiers, "   ", "\n")
		w.str("   " + p.Name + " = ")
		w.value(p.Value, "      ")
		w.str(";\n")
	}
	w.str("};\n\n")
	w.flushIfFull()
}

// value writes a value as a MOF literal; indent is used when a long string
// or array is continued on following lines.
func (w *Writer) value(v cim.Value, indent string) {
	if v.IsNull() {
		w.str("NULL")
		return
	}
	if !v.IsArray() {
		w.scalar(v, indent)
		return
	}
	w.str("{")
	n := v.Len()
	for i := 0; i < n; i++ {
		e := v.Index(i)
		if i > 0 {
			w.str(",")
			if w.column()+1+estimateLen(e) > lineWidth {
				w.str("\n" + indent + " ")
			} else {
				w.str(" ")
			}
		}
		w.value(e, indent+" ")
	}
	w.str("}")
}

// lineWidth is the width the writer keeps lines within where it can.
const lineWidth = 78

// column returns the current output column (0-based). Output is flushed
// only at line starts, so the buffer always holds the current line.
func (w *Writer) column() int {
	return len(w.buf) - bytes.LastIndexByte(w.buf, '\n') - 1
}

// estimateLen is the written length of a scalar, roughly (escapes aside).
func estimateLen(v cim.Value) int {
	switch {
	case v.IsNull():
		return 4
	case v.Type() == cim.TypeString || v.Type() == cim.TypeDatetime || v.Type() == cim.TypeReference:
		return len(v.Text()) + 2
	}
	return len(v.Text()) + 1
}

func (w *Writer) scalar(v cim.Value, indent string) {
	switch t := v.Type(); {
	case t == cim.TypeBoolean:
		if v.Bool() {
			w.str("true")
		} else {
			w.str("false")
		}
	case t == cim.TypeString:
		switch {
		case v.Instance() != nil:
			w.quoted(w.embeddedText(func(e *Writer) { e.Instance(v.Instance()) }))
		case v.Class() != nil:
			w.quoted(w.embeddedText(func(e *Writer) { e.Class(v.Class()) }))
		default:
			w.longString(v.Str(), indent)
		}
	case t == cim.TypeChar16:
		w.str("'")
		w.escaped(rune(v.Char16()), '\'')
		w.str("'")
	case t.IsReal():
		f, _ := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			w.fail(fmt.Errorf("mof: real value %v cannot be written in MOF", f))
			w.str("NULL")
			return
		}
		w.str(formatReal(f, t.Bits()))
	case t.IsInteger():
		w.str(v.Text())
	case t == cim.TypeDatetime, t == cim.TypeReference:
		w.quoted(v.Text())
	default:
		w.fail(fmt.Errorf("mof: cannot write a value of type %s", t))
		w.str("NULL")
	}
}

// embeddedText renders an embedded object's MOF, which is then written as
// a string.
func (w *Writer) embeddedText(write func(*Writer)) string {
	var b strings.Builder
	e := NewWriter(&b)
	e.quals = w.quals
	write(e)
	if err := e.Flush(); err != nil {
		w.fail(err)
	}
	return strings.TrimRight(b.String(), "\n")
}

// formatReal writes the shortest text that reads back to the same value,
// always with a decimal point, as DSP0221's realValue requires.
func formatReal(f float64, bits int) string {
	s := strconv.FormatFloat(f, 'g', -1, bits)
	mant, exp, hasExp := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	if hasExp {
		return mant + "E" + exp
	}
	return mant
}

// longString writes s as one literal, or as several adjacent literals on
// successive lines when it does not fit, split after spaces.
func (w *Writer) longString(s, indent string) {
	room := lineWidth - w.column() - 2
	for first := true; ; first = false {
		if !first {
			w.str("\n" + indent)
			room = lineWidth - len(indent) - 2
		}
		n := splitAt(s, max(room, 20))
		w.quoted(s[:n])
		s = s[n:]
		if s == "" {
			return
		}
	}
}

// splitAt returns where to end the next chunk of s: after the last space
// within width bytes, else after the first space beyond it, else at the
// end: words are never cut.
func splitAt(s string, width int) int {
	if len(s) <= width {
		return len(s)
	}
	if i := strings.LastIndexByte(s[:width], ' '); i > 0 {
		return i + 1
	}
	if i := strings.IndexByte(s[width:], ' '); i >= 0 {
		return width + i + 1
	}
	return len(s)
}

func (w *Writer) quoted(s string) {
	w.str(`"`)
	for len(s) > 0 {
		// Copy the run of plain printable ASCII in one go.
		i := 0
		for i < len(s) && s[i] >= 0x20 && s[i] < 0x7F && s[i] != '"' && s[i] != '\\' {
			i++
		}
		w.str(s[:i])
		if i == len(s) {
			break
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		w.escaped(r, '"')
		s = s[i+n:]
	}
	w.str(`"`)
}

// escaped writes one character of a string or char16 literal. Characters
// that are not printable are written as \x with four hex digits, so that a
// following hex digit cannot be taken as part of the escape.
func (w *Writer) escaped(r rune, quote rune) {
	switch r {
	case '\\':
		w.str(`\\`)
	case quote:
		w.str(`\` + string(quote))
	case '\b':
		w.str(`\b`)
	case '\t':
		w.str(`\t`)
	case '\n':
		w.str(`\n`)
	case '\f':
		w.str(`\f`)
	case '\r':
		w.str(`\r`)
	default:
		if r <= 0xFFFF && !unicode.IsPrint(r) {
			w.buf = fmt.Appendf(w.buf, `\x%04X`, r)
			return
		}
		w.buf = utf8.AppendRune(w.buf, r)
	}
}

// WriteClasses writes classes so that each comes after its superclass and
// the classes its references name, as a compiler needs them; otherwise the
// given order is kept.
func (w *Writer) WriteClasses(classes []*cim.Class) {
	for _, c := range orderClasses(classes) {
		w.Class(c)
	}
}

// orderClasses sorts classes topologically on superclass and reference
// dependencies, keeping the input order where it is free.
func orderClasses(classes []*cim.Class) []*cim.Class {
	byName := make(map[string]*cim.Class, len(classes))
	for _, c := range classes {
		byName[cim.FoldName(c.Name)] = c
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := make(map[string]int, len(classes))
	out := make([]*cim.Class, 0, len(classes))
	var visit func(c *cim.Class)
	visit = func(c *cim.Class) {
		key := cim.FoldName(c.Name)
		if state[key] != unseen {
			return // done, or a reference cycle: break it here
		}
		state[key] = visiting
		deps := []string{c.SuperClass}
		for _, p := range c.Properties() {
			if !p.Propagated && p.Type == cim.TypeReference {
				deps = append(deps, p.ReferenceClass)
			}
		}
		for _, m := range c.Methods() {
			for _, par := range m.Parameters {
				if !m.Propagated && par.Type == cim.TypeReference {
					deps = append(deps, par.ReferenceClass)
				}
			}
		}
		for _, d := range deps {
			if dc := byName[cim.FoldName(d)]; dc != nil {
				visit(dc)
			}
		}
		state[key] = done
		out = append(out, c)
	}
	for _, c := range classes {
		visit(c)
	}
	return out
}

// WriteTarget writes everything a MemTarget holds: per namespace, its
// qualifier declarations, classes and instances. With more than one
// namespace each part starts with a #pragma namespace.
func WriteTarget(out io.Writer, t *MemTarget) error {
	w := NewWriter(out)
	spaces := t.Namespaces()
	for _, ns := range spaces {
		if len(spaces) > 1 {
			w.Pragma("namespace", ns)
			w.str("\n")
		}
		for _, qt := range t.QualifierTypes(ns) {
			w.QualifierType(qt)
		}
		w.WriteClasses(t.Classes(ns))
		for _, inst := range t.Instances(ns) {
			w.Instance(inst)
		}
	}
	return w.Flush()
}
