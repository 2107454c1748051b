package query

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// Schema answers the class questions evaluation needs.
type Schema interface {
	// IsA reports whether className is superName or one of its
	// subclasses.
	IsA(className, superName string) bool
}

// evalEnv is what one evaluation looks at.
type evalEnv struct {
	inst   *cim.Instance
	schema Schema
}

// Match reports whether inst satisfies the query's WHERE clause (true for
// a query without one). schema may be nil, in which case ISA only accepts
// the class itself.
func (s *Select) Match(inst *cim.Instance, schema Schema) bool {
	return s.where == nil || s.where.eval(&evalEnv{inst: inst, schema: schema}) == triTrue
}

// Match reports whether inst satisfies the filter.
func (f *Filter) Match(inst *cim.Instance, schema Schema) bool {
	return f.where.eval(&evalEnv{inst: inst, schema: schema}) == triTrue
}

// Project returns inst reduced to the selected properties (inst itself for
// SELECT *). The Path is kept.
func (s *Select) Project(inst *cim.Instance) *cim.Instance {
	if s.Properties == nil {
		return inst
	}
	return cim.FilterInstance(inst, nil, cim.InstanceFilter{PropertyList: s.Properties})
}

func (x *andExpr) eval(e *evalEnv) tri {
	l := x.l.eval(e)
	if l == triFalse {
		return triFalse
	}
	r := x.r.eval(e)
	switch {
	case r == triFalse:
		return triFalse
	case l == triTrue && r == triTrue:
		return triTrue
	}
	return triUnknown
}

func (x *orExpr) eval(e *evalEnv) tri {
	l := x.l.eval(e)
	if l == triTrue {
		return triTrue
	}
	r := x.r.eval(e)
	switch {
	case r == triTrue:
		return triTrue
	case l == triFalse && r == triFalse:
		return triFalse
	}
	return triUnknown
}

func (x *notExpr) eval(e *evalEnv) tri {
	switch x.x.eval(e) {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triUnknown
}

func (x *nullExpr) eval(e *evalEnv) tri {
	v, ok := e.value(x.x)
	isNull := !ok || v.IsNull()
	return triOf(isNull != x.not)
}

func (x *isaExpr) eval(e *evalEnv) tri {
	name := e.inst.ClassName
	if !x.x.self {
		v, ok := e.value(x.x)
		if !ok || v.IsNull() || v.IsArray() {
			return triUnknown
		}
		switch {
		case v.Instance() != nil:
			name = v.Instance().ClassName
		case v.Class() != nil:
			name = v.Class().Name
		default:
			return triUnknown
		}
	}
	if cim.EqualNames(name, x.class) {
		return triTrue
	}
	if e.schema == nil {
		return triFalse
	}
	return triOf(e.schema.IsA(name, x.class))
}

func (x *likeExpr) eval(e *evalEnv) tri {
	v, ok := e.operandValue(x.x)
	if !ok {
		return triUnknown
	}
	return x.test(v)
}

// test matches one scalar value against the pattern.
func (x *likeExpr) test(v cim.Value) tri {
	if v.IsNull() || v.IsArray() || v.Embedded() != cim.EmbeddedNone || v.Type() != cim.TypeString && v.Type() != cim.TypeChar16 {
		return triUnknown
	}
	return triOf(x.match(v.Text()) != x.not)
}

func (x *compareExpr) eval(e *evalEnv) tri {
	l, lok := e.operandValue(x.l)
	r, rok := e.operandValue(x.r)
	if !lok || !rok {
		return triUnknown
	}
	return compareValues(x.op, l, r, isStringLiteral(x.l), isStringLiteral(x.r))
}

func (x *quantExpr) eval(e *evalEnv) tri {
	arr, ok := e.value(x.array)
	if !ok || arr.IsNull() || !arr.IsArray() {
		return triUnknown
	}
	var r cim.Value
	if x.r != nil {
		if r, ok = e.operandValue(x.r); !ok {
			return triUnknown
		}
	}
	rStr := x.r != nil && isStringLiteral(x.r)
	sawUnknown := false
	for i, n := 0, arr.Len(); i < n; i++ {
		var t tri
		if x.like != nil {
			t = x.like.test(arr.Index(i))
		} else {
			t = compareValues(x.op, arr.Index(i), r, false, rStr)
		}
		switch {
		case t == triTrue && !x.every:
			return triTrue
		case t == triFalse && x.every:
			return triFalse
		case t == triUnknown:
			sawUnknown = true
		}
	}
	if sawUnknown {
		return triUnknown
	}
	return triOf(x.every)
}

func isStringLiteral(o operand) bool {
	lit, ok := o.(*literal)
	return ok && lit.str
}

func (e *evalEnv) operandValue(o operand) (cim.Value, bool) {
	switch o := o.(type) {
	case *literal:
		return o.v, true
	case *propRef:
		return e.value(o)
	}
	return cim.Value{}, false
}

// value resolves a property reference on the instance; ok is false when a
// property on the way does not exist.
func (e *evalEnv) value(ref *propRef) (cim.Value, bool) {
	cur := e.inst
	var v cim.Value
	for i, name := range ref.path {
		if i == 0 && len(ref.path) == 1 && strings.EqualFold(name, "__CLASS") && !cur.Has(name) {
			v = cim.NewString(cur.ClassName)
			break
		}
		p := cur.Property(name)
		if p == nil {
			return cim.Value{}, false
		}
		v = p.Value
		if i == len(ref.path)-1 {
			break
		}
		if cur = v.Instance(); cur == nil || v.IsArray() {
			return cim.Value{}, false
		}
	}
	if ref.index >= 0 {
		if !v.IsArray() || v.IsNull() || ref.index >= v.Len() {
			return cim.Value{}, false
		}
		v = v.Index(ref.index)
	}
	return v, true
}

// compareValues applies op to two values. A string literal compared with a
// typed value is read as that type first (a datetime, a reference...).
func compareValues(op string, l, r cim.Value, lStr, rStr bool) tri {
	if l.IsNull() || r.IsNull() {
		return triUnknown
	}
	if l.IsArray() || r.IsArray() {
		if !l.IsArray() || !r.IsArray() || op != "=" && op != "<>" {
			return triUnknown
		}
		eq, ok := arraysEqual(l, r, lStr, rStr)
		if !ok {
			return triUnknown
		}
		return triOf(eq == (op == "="))
	}
	var ok bool
	if l, r, ok = coerce(l, r, lStr, rStr); !ok {
		return triUnknown
	}
	if l.Type() == cim.TypeReference && r.Type() == cim.TypeReference && (op == "=" || op == "<>") {
		return triOf(sameReference(l.Ref(), r.Ref()) == (op == "="))
	}
	c, err := cim.Compare(l, r)
	if err != nil {
		return triUnknown
	}
	switch op {
	case "=":
		return triOf(c == 0)
	case "<>":
		return triOf(c != 0)
	case "<":
		return triOf(c < 0)
	case "<=":
		return triOf(c <= 0)
	case ">":
		return triOf(c > 0)
	case ">=":
		return triOf(c >= 0)
	}
	return triUnknown
}

// coerce converts a string literal to the type of the other side when
// that type has a string form (datetime, reference, char16, numbers,
// boolean).
func coerce(l, r cim.Value, lStr, rStr bool) (cim.Value, cim.Value, bool) {
	var err error
	switch {
	case rStr && l.Type() != cim.TypeString:
		r, err = r.Convert(l.Type())
	case lStr && r.Type() != cim.TypeString:
		l, err = l.Convert(r.Type())
	}
	return l, r, err == nil
}

func arraysEqual(l, r cim.Value, lStr, rStr bool) (bool, bool) {
	if l.Len() != r.Len() {
		return false, true
	}
	for i, n := 0, l.Len(); i < n; i++ {
		t := compareValues("=", l.Index(i), r.Index(i), lStr, rStr)
		if t == triUnknown {
			if l.IsNullAt(i) && r.IsNullAt(i) {
				continue
			}
			return false, false
		}
		if t == triFalse {
			return false, true
		}
	}
	return true, true
}

// sameReference compares two paths, ignoring the host and, when either
// lacks one, the namespace (a client writes model paths in queries).
func sameReference(a, b *cim.ObjectPath) bool {
	if a.Namespace == "" || b.Namespace == "" {
		return a.CanonicalModel() == b.CanonicalModel()
	}
	return a.WithNamespace("", a.Namespace).Canonical() == b.WithNamespace("", b.Namespace).Canonical()
}
