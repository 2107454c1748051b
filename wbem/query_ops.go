package wbem

import (
	"context"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/query"
)

// ExecQuery runs a WQL or CQL query (DSP0200 5.3.2.20) and yields the
// matching instances, projected on the select list, each with its path.
func (s *Server) ExecQuery(ctx context.Context, ns, language, text string, yield func(*cim.Instance) error) error {
	c, err := s.begin(ctx, "ExecQuery", ns, "", false)
	if err != nil {
		return err
	}
	run, sel, _, err := s.prepareQuery(c.ns, language, text)
	if err != nil {
		return c.end(err)
	}
	c.class = sel.ClassName
	return c.end(run(ctx, yielder(c, yield)))
}

// prepareQuery parses and checks a query and returns what produces its
// results, the parsed query and the resolved class of its FROM clause.
func (s *Server) prepareQuery(ns, language, text string) (enumRun[*cim.Instance], *query.Select, *cim.Class, error) {
	sel, err := query.ParseSelect(language, text)
	if err != nil {
		return nil, nil, nil, err
	}
	top, err := s.Class(ns, sel.ClassName)
	if err != nil {
		return nil, nil, nil, errorf(cim.ErrInvalidQuery, "the class %s of the FROM clause does not exist in namespace %s", sel.ClassName, ns)
	}
	schema := schemaOf{s: s, ns: ns}
	if err := sel.Check(top, schema.lookup); err != nil {
		return nil, nil, nil, err
	}
	return func(ctx context.Context, yield func(*cim.Instance) error) error {
		return s.eachInstance(ctx, ns, top, func(inst *cim.Instance) error {
			if !sel.Match(inst, schema) {
				return nil
			}
			return yield(sel.Project(inst))
		})
	}, sel, top, nil
}

// filterOf parses the FQL FilterQuery of a pull operation and checks it
// against cls (when known). It returns nil when there is no filter.
func (s *Server) filterOf(ns string, p OpenOptions, cls *cim.Class) (func(*cim.Instance) bool, error) {
	if p.FilterQueryLanguage == "" && p.FilterQuery == "" {
		return nil, nil
	}
	if p.FilterQueryLanguage == "" {
		return nil, errorf(cim.ErrInvalidParameter, "FilterQuery is given without FilterQueryLanguage")
	}
	f, err := query.ParseFilter(p.FilterQueryLanguage, p.FilterQuery)
	if err != nil {
		return nil, err
	}
	schema := schemaOf{s: s, ns: ns}
	if cls != nil {
		if err := f.Check(cls, schema.lookup); err != nil {
			return nil, err
		}
	}
	return func(inst *cim.Instance) bool { return f.Match(inst, schema) }, nil
}
