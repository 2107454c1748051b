package mof

import (
	"bytes"
	"fmt"
	"io"

	"github.com/hypercim/hypercim/cim"
)

// Writer writes CIM objects as MOF (DSP0221 v2) that this package, and
// other MOF v2 compilers, compile back to the same objects: the same
// qualifier declarations, and classes that resolve to the same classes
// (properties, methods, parameters, qualifier values and flavors, default
// values, ClassOrigin). The text is that of cim.MOFFormat, kept within
// 78 columns: long strings are split into adjacent literals the way the
// DMTF schema writes its descriptions. The Writer adds what files need:
// buffering, pragmas, blank lines between declarations and an order in
// which classes compile.
//
// Classes may be given resolved (as a Target returns them) or as declared;
// only the elements a class declares itself are written. Write the
// qualifier declarations first: the Writer uses them to write a
// qualifier's flavors only where they differ from its declaration.
type Writer struct {
	out    io.Writer
	buf    []byte
	quals  cim.QualifierTypes
	format cim.MOFFormat
	err    error
}

// lineWidth is the width the writer keeps lines within where it can.
const lineWidth = 78

// NewWriter returns a Writer on w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	quals := cim.QualifierTypes{}
	return &Writer{out: w, quals: quals, format: cim.MOFFormat{Width: lineWidth, QualifierType: quals.Get}}
}

// Flush writes buffered output and returns the first error met, if any.
func (w *Writer) Flush() error {
	if len(w.buf) > 0 && w.err == nil {
		_, w.err = w.out.Write(w.buf)
	}
	w.buf = w.buf[:0]
	return w.err
}

// emit takes what a cim.MOFFormat call appended, ends the declaration
// with a blank line and passes output on once enough is buffered (always
// at a line start, as the format's line width needs).
func (w *Writer) emit(buf []byte, err error) {
	if !bytes.HasSuffix(buf, []byte("\n")) {
		buf = append(buf, '\n')
	}
	w.buf = append(buf, '\n')
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("mof: %w", err)
	}
	if len(w.buf) >= 64<<10 {
		w.Flush()
	}
}

// Pragma writes #pragma name ("arg").
func (w *Writer) Pragma(name, arg string) {
	w.buf = append(w.buf, "#pragma "+name+" ("...)
	w.buf, _ = w.format.AppendValue(w.buf, cim.NewString(arg))
	w.buf = append(w.buf, ")\n"...)
}

// QualifierType writes a qualifier declaration.
func (w *Writer) QualifierType(qt *cim.QualifierType) {
	w.quals[cim.FoldName(qt.Name)] = qt
	w.emit(w.format.AppendQualifierType(w.buf, qt))
}

// Class writes a class declaration: its own qualifiers, properties and
// methods (those not marked Propagated).
func (w *Writer) Class(c *cim.Class) { w.emit(w.format.AppendClass(w.buf, c)) }

// Instance writes an instance declaration with every property.
// References are written as object paths.
func (w *Writer) Instance(inst *cim.Instance) { w.emit(w.format.AppendInstance(w.buf, inst)) }

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
	spaces := t.Namespaces()
	return writeNamespaces(out, spaces, len(spaces) > 1, func(w *Writer, ns string) error {
		for _, qt := range t.QualifierTypes(ns) {
			w.QualifierType(qt)
		}
		w.WriteClasses(t.Classes(ns))
		for _, inst := range t.Instances(ns) {
			w.Instance(inst)
		}
		return nil
	})
}

// writeNamespaces writes each namespace with write, preceded by a #pragma
// namespace if pragmas is set, and flushes.
func writeNamespaces(out io.Writer, spaces []string, pragmas bool, write func(w *Writer, ns string) error) error {
	w := NewWriter(out)
	for _, ns := range spaces {
		if pragmas {
			w.Pragma("namespace", ns)
			w.buf = append(w.buf, '\n')
		}
		if err := write(w, ns); err != nil {
			return err
		}
	}
	return w.Flush()
}
