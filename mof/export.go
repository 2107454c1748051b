package mof

import (
	"fmt"
	"io"

	"github.com/hypercim/hypercim/cim"
)

// Source is a store WriteRepository can read: *repository.Repository (of
// package cim/repository) is one. Each method behaves as the repository's
// method of that name.
type Source interface {
	// Namespaces lists the namespaces.
	Namespaces() ([]string, error)
	// EnumerateQualifiers calls fn with each qualifier declaration of ns.
	EnumerateQualifiers(ns string, fn func(*cim.QualifierType) error) error
	// EnumerateClasses calls fn with the resolved classes of ns below
	// className ("" for all of them, with deep).
	EnumerateClasses(ns, className string, deep bool, fn func(*cim.Class) error) error
	// EnumerateInstances calls fn with the instances of className (and of
	// its subclasses when deep).
	EnumerateInstances(ns, className string, deep bool, fn func(*cim.Instance) error) error
}

// WriteRepository writes namespaces of a repository as MOF that compiles
// back to the same content: per namespace, its qualifier declarations,
// its classes (each after its superclass and the classes its references
// name) and its static instances. With no namespace given it writes them
// all. Then, or with more than one namespace given, each part starts with
// a #pragma namespace, so that compiling the text puts every declaration
// back where it was; a single namespace given is written without one, to
// be compiled into whichever namespace the compiler is told.
//
// The repository enumerates in chunks, so a large repository neither
// holds a transaction open for the whole write nor needs its instances
// in memory; an object created or deleted while the export runs (by
// another user of the same Repository) may or may not be written.
func WriteRepository(out io.Writer, repo Source, namespaces ...string) error {
	pragmas := len(namespaces) != 1
	if len(namespaces) == 0 {
		var err error
		if namespaces, err = repo.Namespaces(); err != nil {
			return err
		}
	}
	return writeNamespaces(out, namespaces, pragmas, func(w *Writer, ns string) error {
		if err := writeNamespace(w, repo, ns); err != nil {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
		return nil
	})
}

// writeNamespace writes one namespace of repo to w.
func writeNamespace(w *Writer, repo Source, ns string) error {
	err := repo.EnumerateQualifiers(ns, func(qt *cim.QualifierType) error {
		w.QualifierType(qt)
		return w.err
	})
	if err != nil {
		return err
	}
	var classes []*cim.Class
	err = repo.EnumerateClasses(ns, "", true, func(c *cim.Class) error {
		classes = append(classes, c)
		return nil
	})
	if err != nil {
		return err
	}
	classes = orderClasses(classes)
	for _, c := range classes {
		w.Class(c)
	}
	if w.err != nil {
		return w.err
	}
	for _, c := range classes {
		err := repo.EnumerateInstances(ns, c.Name, false, func(inst *cim.Instance) error {
			w.Instance(inst)
			return w.err
		})
		if cim.StatusOf(err) == cim.ErrInvalidClass {
			continue // the class was deleted meanwhile
		}
		if err != nil {
			return err
		}
	}
	return w.err
}
