package wbem

import (
	"context"
	"errors"

	"github.com/hypercim/hypercim/cim"
)

// Class and qualifier operations: all served by the repository.

// GetClass returns a class shaped by f (DSP0200 5.3.2.1). A missing class is
// CIM_ERR_NOT_FOUND.
func (s *Server) GetClass(ctx context.Context, ns, className string, f cim.ClassFilter) (*cim.Class, error) {
	c, err := s.begin(ctx, "GetClass", ns, className, false)
	if err != nil {
		return nil, err
	}
	if err := mustName("ClassName", className); err != nil {
		return nil, c.end(err)
	}
	cls, err := s.repo.GetClass(c.ns, className)
	if err != nil {
		if errors.Is(err, cim.ErrNotFound) {
			err = errorf(cim.ErrNotFound, "Class not found: %s", className)
		}
		return nil, c.end(err)
	}
	return cim.FilterClass(cls, f), c.end(nil)
}

// EnumerateClasses yields the subclasses of className (the root classes
// for ""), all of them when deep (DSP0200 5.3.2.7).
func (s *Server) EnumerateClasses(ctx context.Context, ns, className string, deep bool, f cim.ClassFilter, yield func(*cim.Class) error) error {
	c, err := s.begin(ctx, "EnumerateClasses", ns, className, false)
	if err != nil {
		return err
	}
	if className != "" {
		if err := s.checkClass(c.ns, className); err != nil {
			return c.end(err)
		}
	}
	y := yielder(c, yield)
	return c.end(s.repo.EnumerateClasses(c.ns, className, deep, func(cls *cim.Class) error {
		return y(cim.FilterClass(cls, f))
	}))
}

// EnumerateClassNames yields the names of the subclasses of className
// (DSP0200 5.3.2.8).
func (s *Server) EnumerateClassNames(ctx context.Context, ns, className string, deep bool, yield func(string) error) error {
	c, err := s.begin(ctx, "EnumerateClassNames", ns, className, false)
	if err != nil {
		return err
	}
	if className != "" {
		if err := s.checkClass(c.ns, className); err != nil {
			return c.end(err)
		}
	}
	return c.end(s.repo.EnumerateClassNames(c.ns, className, deep, yielder(c, yield)))
}

// checkClass reports a missing class as CIM_ERR_INVALID_CLASS.
func (s *Server) checkClass(ns, className string) error {
	if err := mustName("ClassName", className); err != nil {
		return err
	}
	_, err := s.Class(ns, className)
	return err
}

// CreateClass creates a class (DSP0200 5.3.2.9).
func (s *Server) CreateClass(ctx context.Context, ns string, cls *cim.Class) error {
	if cls == nil {
		return errorf(cim.ErrInvalidParameter, "NewClass is missing")
	}
	c, err := s.begin(ctx, "CreateClass", ns, cls.Name, true)
	if err != nil {
		return err
	}
	if err := mustName("class name", cls.Name); err != nil {
		return c.end(err)
	}
	return c.end(s.repo.CreateClass(c.ns, cls))
}

// ModifyClass replaces a class declaration (DSP0200 5.3.2.10).
func (s *Server) ModifyClass(ctx context.Context, ns string, cls *cim.Class) error {
	if cls == nil {
		return errorf(cim.ErrInvalidParameter, "ModifiedClass is missing")
	}
	c, err := s.begin(ctx, "ModifyClass", ns, cls.Name, true)
	if err != nil {
		return err
	}
	if err := mustName("class name", cls.Name); err != nil {
		return c.end(err)
	}
	return c.end(s.repo.ModifyClass(c.ns, cls))
}

// DeleteClass deletes a class with its subclasses and their static
// instances (DSP0200 5.3.2.11).
func (s *Server) DeleteClass(ctx context.Context, ns, className string) error {
	c, err := s.begin(ctx, "DeleteClass", ns, className, true)
	if err != nil {
		return err
	}
	if err := mustName("ClassName", className); err != nil {
		return c.end(err)
	}
	return c.end(s.repo.DeleteClass(c.ns, className, true))
}

// GetQualifier returns a qualifier declaration (DSP0200 5.3.2.22).
func (s *Server) GetQualifier(ctx context.Context, ns, name string) (*cim.QualifierType, error) {
	c, err := s.begin(ctx, "GetQualifier", ns, "", false)
	if err != nil {
		return nil, err
	}
	if err := mustName("QualifierName", name); err != nil {
		return nil, c.end(err)
	}
	qt, err := s.repo.GetQualifier(c.ns, name)
	return qt, c.end(err)
}

// SetQualifier creates or replaces a qualifier declaration (DSP0200
// 5.3.2.23).
func (s *Server) SetQualifier(ctx context.Context, ns string, qt *cim.QualifierType) error {
	if qt == nil {
		return errorf(cim.ErrInvalidParameter, "QualifierDeclaration is missing")
	}
	c, err := s.begin(ctx, "SetQualifier", ns, "", true)
	if err != nil {
		return err
	}
	return c.end(s.repo.SetQualifier(c.ns, qt))
}

// DeleteQualifier deletes a qualifier declaration no class uses (DSP0200
// 5.3.2.24).
func (s *Server) DeleteQualifier(ctx context.Context, ns, name string) error {
	c, err := s.begin(ctx, "DeleteQualifier", ns, "", true)
	if err != nil {
		return err
	}
	if err := mustName("QualifierName", name); err != nil {
		return c.end(err)
	}
	return c.end(s.repo.DeleteQualifier(c.ns, name))
}

// EnumerateQualifiers yields the qualifier declarations of ns (DSP0200
// 5.3.2.25).
func (s *Server) EnumerateQualifiers(ctx context.Context, ns string, yield func(*cim.QualifierType) error) error {
	c, err := s.begin(ctx, "EnumerateQualifiers", ns, "", false)
	if err != nil {
		return err
	}
	return c.end(s.repo.EnumerateQualifiers(c.ns, yielder(c, yield)))
}
