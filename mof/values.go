package mof

import (
	"math"
	"strconv"

	"github.com/hypercim/hypercim/cim"
)

// valueContext says what a value initialises, for conversions that depend
// on more than the type: references and embedded objects.
type valueContext struct {
	what     string           // "property Size", "qualifier MaxLen"..., for messages
	embedded cim.EmbeddedKind // the element holds embedded objects
	// lenientArray accepts a scalar for an array type as a one-element
	// array, as compilers do for qualifiers (Deprecated("X")).
	lenientArray bool
}

// typeName formats a type as MOF writes it.
func typeName(t cim.Type, isArray bool) string {
	if isArray {
		return t.String() + "[]"
	}
	return t.String()
}

// describeValue names a literal in a message: its kind and source text.
func describeValue(v *Value) string {
	switch v.Kind {
	case StringValue:
		return "string " + strconv.Quote(truncate(v.Str, 40))
	case NullValue:
		return "NULL"
	case ArrayValue:
		return "an array"
	case AliasValue:
		return "alias $" + v.Str
	case InstanceValue:
		return "an embedded instance"
	}
	return v.Kind.String() + " " + v.Raw
}

// value converts a literal to a CIM value of type t. It reports problems at
// the literal's position and returns ok=false; a literal the lexer already
// reported is skipped silently.
func (c *compiler) value(v *Value, t cim.Type, isArray bool, ctx valueContext) (cim.Value, bool) {
	if v.bad {
		return cim.Value{}, false
	}
	switch {
	case v.Kind == NullValue:
		if isArray {
			return cim.NullArray(t), true
		}
		return cim.Null(t), true
	case v.Kind == ArrayValue && !isArray:
		c.errorf(v.Pos, "%s: type mismatch: expected %s, found an array", ctx.what, typeName(t, false))
		return cim.Value{}, false
	case v.Kind != ArrayValue && isArray:
		if !ctx.lenientArray {
			c.errorf(v.Pos, "%s: type mismatch: expected %s, found a single %s (write arrays as {value, ...})", ctx.what, typeName(t, true), describeValue(v))
			return cim.Value{}, false
		}
		elem, ok := c.scalar(v, t, ctx)
		if !ok {
			return cim.Value{}, false
		}
		arr, err := cim.NewArray(t, []cim.Value{elem})
		if err != nil {
			c.errorf(v.Pos, "%s: %s", ctx.what, errText(err))
			return cim.Value{}, false
		}
		return arr, true
	case isArray:
		elems := make([]cim.Value, 0, len(v.Elems))
		ok := true
		for _, e := range v.Elems {
			if e.bad {
				ok = false
				continue
			}
			if e.Kind == NullValue {
				elems = append(elems, cim.Null(t))
				continue
			}
			ev, eok := c.scalar(e, t, ctx)
			ok = ok && eok
			elems = append(elems, ev)
		}
		if !ok {
			return cim.Value{}, false
		}
		arr, err := cim.NewArray(t, elems)
		if err != nil {
			c.errorf(v.Pos, "%s: %s", ctx.what, errText(err))
			return cim.Value{}, false
		}
		return arr, true
	}
	return c.scalar(v, t, ctx)
}

// scalar converts one non-NULL, non-array literal.
func (c *compiler) scalar(v *Value, t cim.Type, ctx valueContext) (cim.Value, bool) {
	mismatch := func(hint string) (cim.Value, bool) {
		c.errorf(v.Pos, "%s: type mismatch: expected %s, found %s%s", ctx.what, t, describeValue(v), hint)
		return cim.Value{}, false
	}
	switch v.Kind {
	case NullValue:
		return cim.Null(t), true
	case IntValue:
		switch {
		case t.IsInteger():
			return c.integer(v, t, ctx)
		case t.IsReal():
			f := float64(v.Int)
			if v.Neg {
				f = -f
			}
			if t == cim.TypeReal32 {
				return cim.NewReal32(float32(f)), true
			}
			return cim.NewReal64(f), true
		case t == cim.TypeChar16:
			return mismatch(" (write a char16 in single quotes: 'a' or '\\x41')")
		case t == cim.TypeString || t == cim.TypeDatetime || t == cim.TypeReference:
			return mismatch(" (write it in double quotes)")
		}
	case RealValue:
		switch t {
		case cim.TypeReal64:
			return cim.NewReal64(v.Real), true
		case cim.TypeReal32:
			// Parse the text in 32 bits: rounding the float64 would round
			// twice and could miss the nearest float32.
			f, err := strconv.ParseFloat(v.Raw, 32)
			if err != nil || math.IsInf(f, 0) {
				c.errorf(v.Pos, "%s: value %s is out of range for real32", ctx.what, v.Raw)
				return cim.Value{}, false
			}
			return cim.NewReal32(float32(f)), true
		}
		if t.IsInteger() {
			return mismatch(" (an integer type takes no fraction or exponent)")
		}
	case BoolValue:
		if t == cim.TypeBoolean {
			return cim.NewBoolean(v.Bool), true
		}
	case CharValue:
		if t == cim.TypeChar16 {
			r := []rune(v.Str)
			return cim.NewChar16(uint16(r[0])), true
		}
		if t == cim.TypeString {
			return mismatch(" (strings take double quotes)")
		}
	case StringValue:
		return c.stringValue(v, t, ctx, mismatch)
	case AliasValue:
		return c.aliasValue(v, t, ctx, mismatch)
	case InstanceValue:
		if t == cim.TypeString && ctx.embedded != cim.EmbeddedNone {
			inst, ok := c.embeddedInstance(v.Instance)
			if !ok {
				return cim.Value{}, false
			}
			return cim.NewEmbeddedInstance(inst), true
		}
		return mismatch(" (only an EmbeddedInstance or EmbeddedObject property takes an instance)")
	case ArrayValue:
		c.errorf(v.Pos, "%s: arrays cannot be nested", ctx.what)
		return cim.Value{}, false
	}
	return mismatch("")
}

// integer range-checks an integer literal for type t.
func (c *compiler) integer(v *Value, t cim.Type, ctx valueContext) (cim.Value, bool) {
	bits := uint(t.Bits())
	var val cim.Value
	if t.IsSigned() {
		limit := uint64(1) << (bits - 1) // |min|; max is limit-1
		if v.Neg && v.Int > limit || !v.Neg && v.Int >= limit {
			c.errorf(v.Pos, "%s: value %s is out of range for %s (%d..%d)", ctx.what, v.Raw, t, -int64(limit-1)-1, limit-1)
			return cim.Value{}, false
		}
		n := int64(v.Int)
		if v.Neg {
			n = -n // also right for the minimum, whose magnitude wraps to itself
		}
		switch t {
		case cim.TypeSint8:
			val = cim.NewSint8(int8(n))
		case cim.TypeSint16:
			val = cim.NewSint16(int16(n))
		case cim.TypeSint32:
			val = cim.NewSint32(int32(n))
		default:
			val = cim.NewSint64(n)
		}
		return val, true
	}
	max := uint64(math.MaxUint64)
	if bits < 64 {
		max = 1<<bits - 1
	}
	if v.Neg && v.Int != 0 || v.Int > max {
		c.errorf(v.Pos, "%s: value %s is out of range for %s (0..%d)", ctx.what, v.Raw, t, max)
		return cim.Value{}, false
	}
	switch t {
	case cim.TypeUint8:
		val = cim.NewUint8(uint8(v.Int))
	case cim.TypeUint16:
		val = cim.NewUint16(uint16(v.Int))
	case cim.TypeUint32:
		val = cim.NewUint32(uint32(v.Int))
	default:
		val = cim.NewUint64(v.Int)
	}
	return val, true
}

// stringValue converts a string literal: a string, a datetime, an object
// path for a reference, or the MOF text of an embedded object.
func (c *compiler) stringValue(v *Value, t cim.Type, ctx valueContext, mismatch func(string) (cim.Value, bool)) (cim.Value, bool) {
	switch t {
	case cim.TypeString:
		if ctx.embedded != cim.EmbeddedNone {
			return c.embeddedFromText(v, ctx)
		}
		return cim.NewString(v.Str), true
	case cim.TypeDatetime:
		d, err := cim.ParseDatetime(v.Str)
		if err != nil {
			c.errorf(v.Pos, "%s: %s", ctx.what, errText(err))
			return cim.Value{}, false
		}
		return cim.NewDatetime(d), true
	case cim.TypeReference:
		p, err := cim.ParseObjectPath(v.Str)
		if err != nil {
			c.errorf(v.Pos, "%s: %s", ctx.what, errText(err))
			return cim.Value{}, false
		}
		if p.Namespace == "" && p.Host == "" {
			// A path relative to the namespace being compiled: give its
			// keys their declared types when the class is known.
			if cls, _ := c.class(p.ClassName); cls != nil && p.IsInstancePath() {
				if np, err := cls.NormalizePath(p); err == nil {
					p = np
				}
			}
		}
		return cim.NewReference(p), true
	case cim.TypeChar16:
		return mismatch(" (a char16 is written in single quotes)")
	case cim.TypeBoolean:
		return mismatch(" (write TRUE or FALSE without quotes)")
	}
	if t.IsNumeric() {
		return mismatch(" (numbers are written without quotes)")
	}
	return mismatch("")
}

// errText returns an error's description without the CIM status prefix.
func errText(err error) string {
	if ce := cim.AsError(err); ce != nil && ce.Description != "" {
		return ce.Description
	}
	return err.Error()
}
