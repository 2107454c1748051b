package query

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// expr is a condition: it evaluates to true, false or unknown.
type expr interface {
	eval(e *evalEnv) tri
	// walk calls fn for every property reference in the condition.
	walk(fn func(*propRef))
}

// tri is a truth value of SQL's three-valued logic.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

type andExpr struct{ l, r expr }
type orExpr struct{ l, r expr }
type notExpr struct{ x expr }

// compareExpr is "l op r" between two operands.
type compareExpr struct {
	op   string // = <> < <= > >=
	l, r operand
}

// quantExpr is "ANY|EVERY arrayProp op r", or with like set,
// "ANY|EVERY arrayProp [NOT] LIKE pattern". A NOT before ANY or EVERY is
// a notExpr around it.
type quantExpr struct {
	every bool
	array *propRef
	op    string
	r     operand
	like  *likeExpr // r and op unused when set; like.x is nil
}

// likeExpr is "x [NOT] LIKE pattern".
type likeExpr struct {
	x       operand
	not     bool
	pattern string
	match   func(string) bool
}

// nullExpr is "x IS [NOT] NULL".
type nullExpr struct {
	x   *propRef
	not bool
}

// isaExpr is "x ISA Class"; x nil means the instance itself.
type isaExpr struct {
	x     *propRef
	class string
}

// operand is a property reference or a literal.
type operand interface{ isOperand() }

// propRef names a property, possibly through embedded instances
// (path[0].path[1]...), and possibly one element of an array (index >= 0).
type propRef struct {
	path  []string
	index int
	pos   int
	// self is set when the reference names the instance itself (the FROM
	// class or its alias), as the left side of ISA.
	self bool
}

// literal is a constant: a string, number, boolean, datetime, NULL or an
// array of those (FQL).
type literal struct {
	v cim.Value
	// str marks a string literal that may still be read as another type
	// (datetime, reference, char16) once compared with a property.
	str bool
	pos int
}

func (*propRef) isOperand() {}
func (*literal) isOperand() {}

func (p *propRef) String() string {
	s := strings.Join(p.path, ".")
	if p.index >= 0 {
		s += "[" + itoa(p.index) + "]"
	}
	return s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func (x *andExpr) walk(fn func(*propRef))     { x.l.walk(fn); x.r.walk(fn) }
func (x *orExpr) walk(fn func(*propRef))      { x.l.walk(fn); x.r.walk(fn) }
func (x *notExpr) walk(fn func(*propRef))     { x.x.walk(fn) }
func (x *compareExpr) walk(fn func(*propRef)) { walkOperand(x.l, fn); walkOperand(x.r, fn) }
func (x *likeExpr) walk(fn func(*propRef))    { walkOperand(x.x, fn) }
func (x *nullExpr) walk(fn func(*propRef))    { fn(x.x) }
func (x *isaExpr) walk(fn func(*propRef)) {
	if x.x != nil {
		fn(x.x)
	}
}
func (x *quantExpr) walk(fn func(*propRef)) {
	fn(x.array)
	if x.r != nil {
		walkOperand(x.r, fn)
	}
}

func walkOperand(o operand, fn func(*propRef)) {
	if p, ok := o.(*propRef); ok {
		fn(p)
	}
}
