package query

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// ClassLookup returns a resolved class by name, or nil when there is none.
// Check uses it to follow embedded instances declared with
// EmbeddedInstance("Class"); it may be nil.
type ClassLookup func(name string) *cim.Class

// Check validates the query against cls, the resolved class of its FROM
// clause: every selected and compared property must exist, and literals
// must suit the types they are compared with. String literals compared
// with datetime, reference, char16, numeric or boolean properties are
// converted once here. Errors are CIM_ERR_INVALID_QUERY.
func (s *Select) Check(cls *cim.Class, lookup ClassLookup) error {
	for _, name := range s.Properties {
		if !cls.HasProperty(name) {
			return cim.Errorf(cim.ErrInvalidQuery, "class %s has no property %s", cls.Name, name)
		}
	}
	if s.where == nil {
		return nil
	}
	return checkExpr(s.where, cls, lookup)
}

// Check validates the filter against cls, the class of the enumerated
// instances, as Select.Check does.
func (f *Filter) Check(cls *cim.Class, lookup ClassLookup) error {
	return checkExpr(f.where, cls, lookup)
}

// Properties returns the top-level properties the filter reads, so a
// caller can fetch them even when the client's PropertyList leaves them
// out.
func (f *Filter) Properties() []string {
	var names []string
	seen := map[string]bool{}
	f.where.walk(func(ref *propRef) {
		if len(ref.path) > 0 && !seen[cim.FoldName(ref.path[0])] {
			seen[cim.FoldName(ref.path[0])] = true
			names = append(names, ref.path[0])
		}
	})
	return names
}

// declared is what Check knows of a property reference's type.
type declared struct {
	known   bool // false when the type cannot be known (deep embedded paths)
	typ     cim.Type
	isArray bool
	// embedded is set for an embedded object or instance property.
	embedded bool
}

func checkExpr(x expr, cls *cim.Class, lookup ClassLookup) error {
	switch x := x.(type) {
	case *andExpr:
		if err := checkExpr(x.l, cls, lookup); err != nil {
			return err
		}
		return checkExpr(x.r, cls, lookup)
	case *orExpr:
		if err := checkExpr(x.l, cls, lookup); err != nil {
			return err
		}
		return checkExpr(x.r, cls, lookup)
	case *notExpr:
		return checkExpr(x.x, cls, lookup)
	case *nullExpr:
		_, err := resolve(x.x, cls, lookup)
		return err
	case *isaExpr:
		if x.x.self {
			return nil
		}
		d, err := resolve(x.x, cls, lookup)
		if err != nil {
			return err
		}
		if d.known && (!d.embedded || d.isArray) {
			return cim.Errorf(cim.ErrInvalidQuery, "%s ISA %s: %s is not an embedded object", x.x, x.class, x.x)
		}
		return nil
	case *likeExpr:
		return checkLike(x, x.x, cls, lookup, false)
	case *quantExpr:
		d, err := resolve(x.array, cls, lookup)
		if err != nil {
			return err
		}
		if d.known && !d.isArray {
			return cim.Errorf(cim.ErrInvalidQuery, "ANY and EVERY need an array property, and %s is not one", x.array)
		}
		if x.like != nil {
			return checkLike(x.like, x.array, cls, lookup, true)
		}
		elem := d
		elem.isArray = false
		return checkComparison(x.op, x.array, elem, x.r, cls, lookup)
	case *compareExpr:
		l, r := x.l, x.r
		if _, ok := l.(*literal); ok {
			l, r = r, l
		}
		d, err := resolve(l.(*propRef), cls, lookup)
		if err != nil {
			return err
		}
		return checkComparison(x.op, l.(*propRef), d, r, cls, lookup)
	}
	return nil
}

func checkLike(x *likeExpr, o operand, cls *cim.Class, lookup ClassLookup, element bool) error {
	ref, ok := o.(*propRef)
	if !ok {
		return nil
	}
	d, err := resolve(ref, cls, lookup)
	if err != nil {
		return err
	}
	if d.known && (d.isArray && !element || d.embedded || d.typ != cim.TypeString && d.typ != cim.TypeChar16) {
		return cim.Errorf(cim.ErrInvalidQuery, "%s LIKE '%s': LIKE applies to string properties", ref, x.pattern)
	}
	return nil
}

// checkComparison checks "ref op other" where ref is declared as d.
func checkComparison(op string, ref *propRef, d declared, other operand, cls *cim.Class, lookup ClassLookup) error {
	if !d.known {
		return nil
	}
	if d.embedded {
		return cim.Errorf(cim.ErrInvalidQuery, "%s is an embedded object and cannot be compared; compare its properties (%s.Name) or use ISA", ref, ref)
	}
	if d.typ == cim.TypeBoolean && op != "=" && op != "<>" {
		return cim.Errorf(cim.ErrInvalidQuery, "%s is boolean and compares only with = or <>", ref)
	}
	switch o := other.(type) {
	case *propRef:
		od, err := resolve(o, cls, lookup)
		if err != nil || !od.known {
			return err
		}
		if od.isArray != d.isArray {
			return cim.Errorf(cim.ErrInvalidQuery, "%s and %s cannot be compared: one is an array", ref, o)
		}
		if !comparableTypes(d.typ, od.typ) {
			return cim.Errorf(cim.ErrInvalidQuery, "%s (%s) and %s (%s) cannot be compared", ref, d.typ, o, od.typ)
		}
	case *literal:
		if o.v.IsArray() != d.isArray {
			if d.isArray {
				return cim.Errorf(cim.ErrInvalidQuery, "%s is an array: compare it with an array literal {...}, or use ANY, EVERY or %s[index]", ref, ref)
			}
			return cim.Errorf(cim.ErrInvalidQuery, "%s is not an array and cannot be compared with an array literal", ref)
		}
		if d.isArray && (op != "=" && op != "<>") {
			return cim.Errorf(cim.ErrInvalidQuery, "arrays compare only with = or <>")
		}
		if o.str && d.typ != cim.TypeString {
			cv, err := o.v.Convert(d.typ)
			if err != nil {
				return cim.Errorf(cim.ErrInvalidQuery, "%s is %s, and %s is not a valid %s", ref, d.typ, quoteLiteral(o), d.typ)
			}
			// Converted once here rather than for every instance;
			// subclasses cannot change a property's type.
			o.v = cv
			o.str = false
			return nil
		}
		if !comparableTypes(d.typ, o.v.Type()) {
			return cim.Errorf(cim.ErrInvalidQuery, "%s is %s and cannot be compared with %s", ref, d.typ, quoteLiteral(o))
		}
	}
	return nil
}

func quoteLiteral(l *literal) string {
	if l.str {
		return "'" + l.v.Text() + "'"
	}
	return l.v.String()
}

func comparableTypes(a, b cim.Type) bool {
	switch {
	case a.IsNumeric() && b.IsNumeric():
		return true
	case (a == cim.TypeString || a == cim.TypeChar16) && (b == cim.TypeString || b == cim.TypeChar16):
		return true
	}
	return a == b
}

// resolve finds the declared type of a property reference in cls,
// following embedded instances whose class is declared.
func resolve(ref *propRef, cls *cim.Class, lookup ClassLookup) (declared, error) {
	cur := cls
	var d declared
	for i, name := range ref.path {
		if cur == nil {
			return declared{}, nil // inside an embedded object of unknown class
		}
		p := cur.Property(name)
		switch {
		case p == nil && i == 0 && len(ref.path) == 1 && strings.EqualFold(name, "__CLASS"):
			return declared{known: true, typ: cim.TypeString}, nil
		case p == nil && i > 0:
			// An embedded instance may be of a subclass of its declared
			// class, with more properties.
			return declared{}, nil
		case p == nil:
			return declared{}, cim.Errorf(cim.ErrInvalidQuery, "class %s has no property %s", cur.Name, name)
		}
		d = declared{known: true, typ: p.Type, isArray: p.IsArray, embedded: p.EmbeddedKind() != cim.EmbeddedNone}
		if i == len(ref.path)-1 {
			break
		}
		if !d.embedded || d.isArray {
			return declared{}, cim.Errorf(cim.ErrInvalidQuery, "%s: %s is not an embedded instance", ref, name)
		}
		cur = nil
		if cn := p.EmbeddedClassName(); cn != "" && lookup != nil {
			cur = lookup(cn)
		}
	}
	if ref.index >= 0 {
		if !d.isArray {
			return declared{}, cim.Errorf(cim.ErrInvalidQuery, "%s: %s is not an array", ref, ref.path[len(ref.path)-1])
		}
		d.isArray = false
	}
	return d, nil
}
