package repository

import (
	"encoding/binary"
	"math"

	"github.com/hypercim/hypercim/cim"
)

// The binary encoding of what the repository stores. It is compact (varints,
// no field names beyond CIM's own) and decodes with a single string copy per
// record: every string of a decoded object is a substring of that copy.
//
// Every record starts with formatVersion. A value is a tag byte followed by
// its payload:
//
//	tag      bits 0-3 cim.Type, bit 4 array, bit 5 non-NULL,
//	         bits 6-7 embedded object (1 class, 2 instance)
//	scalar   boolean 1 byte; string, datetime (its 25 characters) as
//	         uvarint length + bytes; char16 and unsigned integers uvarint;
//	         signed integers zig-zag varint; real32/real64 IEEE bits, 4 or 8
//	         bytes little-endian; reference an object path; embedded
//	         objects a class or instance
//	array    uvarint(n<<1 | hasNULLs), a NULL bitmap of (n+7)/8 bytes when
//	         hasNULLs, then n payloads (uint8 arrays as n raw bytes)
//
// Paths, qualifiers, properties, methods, classes and instances are
// sequences of those, as the encode functions below write them.

// formatVersion is the first byte of every stored record.
const formatVersion = 1

// maxDepth bounds the nesting of embedded objects and references in
// references, so that a corrupt record cannot exhaust the stack.
const maxDepth = 32

const (
	tagArray   = 1 << 4
	tagNonNull = 1 << 5
	tagClass   = 1 << 6
	tagInst    = 2 << 6
)

// Property header flags.
const (
	propArray = 1 << iota
	propPropagated
	propArraySize
	propRefClass
	propClassOrigin
	propQualifiers
)

type encoder struct{ buf []byte }

func (e *encoder) byte(b byte) { e.buf = append(e.buf, b) }

func (e *encoder) uvarint(x uint64) { e.buf = binary.AppendUvarint(e.buf, x) }

func (e *encoder) varint(x int64) { e.buf = binary.AppendVarint(e.buf, x) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) bool(b bool) {
	if b {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

func (e *encoder) value(v cim.Value) {
	tag := byte(v.Type()) & 0x0f
	if v.IsArray() {
		tag |= tagArray
	}
	if !v.IsNull() {
		tag |= tagNonNull
	}
	switch v.Embedded() {
	case cim.EmbeddedObject:
		tag |= tagClass
	case cim.EmbeddedInstance:
		tag |= tagInst
	}
	e.byte(tag)
	if v.IsNull() {
		return
	}
	if !v.IsArray() {
		e.scalar(v)
		return
	}
	n := v.Len()
	hasNulls := false
	for i := 0; i < n && !hasNulls; i++ {
		hasNulls = v.IsNullAt(i)
	}
	if hasNulls {
		e.uvarint(uint64(n)<<1 | 1)
		bitmap := make([]byte, (n+7)/8)
		for i := 0; i < n; i++ {
			if v.IsNullAt(i) {
				bitmap[i/8] |= 1 << (i % 8)
			}
		}
		e.buf = append(e.buf, bitmap...)
	} else {
		e.uvarint(uint64(n) << 1)
	}
	e.array(v, n)
}

// array writes the n element payloads of a non-NULL array; NULL elements
// are written as the zero value the array holds for them.
func (e *encoder) array(v cim.Value, n int) {
	switch v.Type() {
	case cim.TypeBoolean:
		for _, b := range v.BoolArray() {
			e.bool(b)
		}
	case cim.TypeString:
		switch v.Embedded() {
		case cim.EmbeddedInstance:
			for _, inst := range v.InstanceArray() {
				e.instanceOrNil(inst)
			}
		case cim.EmbeddedObject:
			for _, c := range v.ClassArray() {
				e.classOrNil(c)
			}
		default:
			for _, s := range v.StrArray() {
				e.str(s)
			}
		}
	case cim.TypeChar16:
		for _, c := range v.Char16Array() {
			e.uvarint(uint64(c))
		}
	case cim.TypeUint8:
		e.buf = append(e.buf, v.Uint8Array()...)
	case cim.TypeSint8:
		for _, x := range v.Sint8Array() {
			e.varint(int64(x))
		}
	case cim.TypeUint16:
		for _, x := range v.Uint16Array() {
			e.uvarint(uint64(x))
		}
	case cim.TypeSint16:
		for _, x := range v.Sint16Array() {
			e.varint(int64(x))
		}
	case cim.TypeUint32:
		for _, x := range v.Uint32Array() {
			e.uvarint(uint64(x))
		}
	case cim.TypeSint32:
		for _, x := range v.Sint32Array() {
			e.varint(int64(x))
		}
	case cim.TypeUint64:
		for _, x := range v.Uint64Array() {
			e.uvarint(x)
		}
	case cim.TypeSint64:
		for _, x := range v.Sint64Array() {
			e.varint(x)
		}
	case cim.TypeReal32:
		for _, x := range v.Real32Array() {
			e.buf = binary.LittleEndian.AppendUint32(e.buf, math.Float32bits(x))
		}
	case cim.TypeReal64:
		for _, x := range v.Real64Array() {
			e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(x))
		}
	case cim.TypeDatetime:
		for _, d := range v.DatetimeArray() {
			e.datetime(d)
		}
	case cim.TypeReference:
		for _, p := range v.RefArray() {
			e.pathOrNil(p)
		}
	default:
		for i := 0; i < n; i++ {
			e.scalar(v.Index(i))
		}
	}
}

func (e *encoder) scalar(v cim.Value) {
	switch v.Type() {
	case cim.TypeBoolean:
		e.bool(v.Bool())
	case cim.TypeString:
		switch {
		case v.Instance() != nil:
			e.instance(v.Instance())
		case v.Class() != nil:
			e.class(v.Class())
		default:
			e.str(v.Str())
		}
	case cim.TypeChar16:
		e.uvarint(uint64(v.Char16()))
	case cim.TypeReal32:
		e.buf = binary.LittleEndian.AppendUint32(e.buf, math.Float32bits(v.Real32()))
	case cim.TypeReal64:
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v.Real64()))
	case cim.TypeDatetime:
		e.datetime(v.Datetime())
	case cim.TypeReference:
		e.path(v.Ref())
	default:
		if v.Type().IsSigned() {
			n, _ := v.Int()
			e.varint(n)
		} else {
			n, _ := v.Uint()
			e.uvarint(n)
		}
	}
}

func (e *encoder) datetime(d cim.Datetime) {
	e.byte(25)
	e.buf = d.AppendText(e.buf)
}

// pathOrNil, instanceOrNil and classOrNil write a presence byte first, for
// the elements of arrays that may hold NULLs as nil pointers.
func (e *encoder) pathOrNil(p *cim.ObjectPath) {
	e.bool(p != nil)
	if p != nil {
		e.path(p)
	}
}

func (e *encoder) instanceOrNil(inst *cim.Instance) {
	e.bool(inst != nil)
	if inst != nil {
		e.instance(inst)
	}
}

func (e *encoder) classOrNil(c *cim.Class) {
	e.bool(c != nil)
	if c != nil {
		e.class(c)
	}
}

// path writes host, namespace, class name and keybindings; the key count
// is written plus one so that 0 stands for a class path (nil Keys).
func (e *encoder) path(p *cim.ObjectPath) {
	e.str(p.Host)
	e.str(p.Namespace)
	e.str(p.ClassName)
	if p.Keys == nil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(p.Keys)) + 1)
	for _, k := range p.Keys {
		e.str(k.Name)
		e.value(k.Value)
	}
}

func (e *encoder) qualifiers(qs cim.Qualifiers, localOnly bool) {
	n := 0
	for i := range qs {
		if !localOnly || !qs[i].Propagated {
			n++
		}
	}
	e.uvarint(uint64(n))
	for i := range qs {
		q := &qs[i]
		if localOnly && q.Propagated {
			continue
		}
		e.str(q.Name)
		b := byte(q.Flavor) & 0x7f
		if q.Propagated {
			b |= 0x80
		}
		e.byte(b)
		e.value(q.Value)
	}
}

func (e *encoder) property(p *cim.Property, declared bool) {
	e.str(p.Name)
	e.byte(byte(p.Type) | byte(p.Embedded)<<4)
	var f byte
	if p.IsArray {
		f |= propArray
	}
	if p.Propagated && !declared {
		f |= propPropagated
	}
	if p.ArraySize != 0 {
		f |= propArraySize
	}
	if p.ReferenceClass != "" {
		f |= propRefClass
	}
	if p.ClassOrigin != "" && !declared {
		f |= propClassOrigin
	}
	if countQualifiers(p.Qualifiers, declared) > 0 {
		f |= propQualifiers
	}
	e.byte(f)
	if f&propArraySize != 0 {
		e.uvarint(uint64(p.ArraySize))
	}
	if f&propRefClass != 0 {
		e.str(p.ReferenceClass)
	}
	if f&propClassOrigin != 0 {
		e.str(p.ClassOrigin)
	}
	if f&propQualifiers != 0 {
		e.qualifiers(p.Qualifiers, declared)
	}
	e.value(p.Value)
}

func countQualifiers(qs cim.Qualifiers, localOnly bool) int {
	if !localOnly {
		return len(qs)
	}
	n := 0
	for i := range qs {
		if !qs[i].Propagated {
			n++
		}
	}
	return n
}

func (e *encoder) parameter(p *cim.Parameter, declared bool) {
	e.str(p.Name)
	e.byte(byte(p.Type) | byte(p.Embedded)<<4)
	var f byte
	if p.IsArray {
		f |= propArray
	}
	if p.ArraySize != 0 {
		f |= propArraySize
	}
	if p.ReferenceClass != "" {
		f |= propRefClass
	}
	e.byte(f)
	if f&propArraySize != 0 {
		e.uvarint(uint64(p.ArraySize))
	}
	if f&propRefClass != 0 {
		e.str(p.ReferenceClass)
	}
	e.qualifiers(p.Qualifiers, declared)
}

func (e *encoder) method(m *cim.Method, declared bool) {
	e.str(m.Name)
	e.byte(byte(m.ReturnType))
	e.bool(m.Propagated && !declared)
	if declared {
		e.str("")
	} else {
		e.str(m.ClassOrigin)
	}
	e.qualifiers(m.Qualifiers, declared)
	e.uvarint(uint64(len(m.Parameters)))
	for i := range m.Parameters {
		e.parameter(&m.Parameters[i], declared)
	}
}

// class writes every detail of a class.
func (e *encoder) class(c *cim.Class) { e.classWith(c, false, nil) }

// classWith writes a class. With declared set it writes the class as
// declared: only the qualifiers it does not inherit and the elements that
// are not inherited from super (its resolved superclass, or nil), without
// ClassOrigin, which resolution recomputes.
func (e *encoder) classWith(c *cim.Class, declared bool, super *cim.Class) {
	e.str(c.Name)
	e.str(c.SuperClass)
	e.qualifiers(c.Qualifiers, declared)
	props := c.Properties()
	keepProp := func(p *cim.Property) bool {
		return !declared || !p.Propagated || super == nil || !super.HasProperty(p.Name)
	}
	n := 0
	for i := range props {
		if keepProp(&props[i]) {
			n++
		}
	}
	e.uvarint(uint64(n))
	for i := range props {
		if keepProp(&props[i]) {
			e.property(&props[i], declared)
		}
	}
	methods := c.Methods()
	keepMethod := func(m *cim.Method) bool {
		return !declared || !m.Propagated || super == nil || super.Method(m.Name) == nil
	}
	n = 0
	for i := range methods {
		if keepMethod(&methods[i]) {
			n++
		}
	}
	e.uvarint(uint64(n))
	for i := range methods {
		if keepMethod(&methods[i]) {
			e.method(&methods[i], declared)
		}
	}
}

// instance writes an instance: class name, path, qualifiers, properties.
func (e *encoder) instance(inst *cim.Instance) {
	e.str(inst.ClassName)
	e.pathOrNil(inst.Path)
	e.instanceBody(inst)
}

// instanceBody writes what a stored instance record holds: the class name
// and path come from the key and the class.
func (e *encoder) instanceBody(inst *cim.Instance) {
	e.qualifiers(inst.Qualifiers, false)
	props := inst.Properties()
	e.uvarint(uint64(len(props)))
	for i := range props {
		e.property(&props[i], false)
	}
}

func (e *encoder) qualifierType(qt *cim.QualifierType) {
	e.str(qt.Name)
	e.byte(byte(qt.Type))
	e.bool(qt.IsArray)
	e.uvarint(uint64(qt.ArraySize))
	e.byte(byte(qt.Scopes))
	e.byte(byte(qt.Flavor))
	e.value(qt.Default)
}

// Record encoders: each returns a fresh record starting with the format
// version.

func encodeQualifierType(qt *cim.QualifierType) []byte {
	e := encoder{buf: make([]byte, 0, 64)}
	e.byte(formatVersion)
	e.qualifierType(qt)
	return e.buf
}

// encodeDeclaredClass writes the declaration of c: its own elements only
// (an element marked Propagated that super defines is left out, as
// cim.ResolveClass ignores it). super is c's resolved superclass or nil.
func encodeDeclaredClass(c, super *cim.Class) []byte {
	e := encoder{buf: make([]byte, 0, 1024)}
	e.byte(formatVersion)
	e.classWith(c, true, super)
	return e.buf
}

// encodeClass writes every detail of c, resolved or not; tests compare
// classes through it.
func encodeClass(c *cim.Class) []byte {
	e := encoder{buf: make([]byte, 0, 1024)}
	e.byte(formatVersion)
	e.class(c)
	return e.buf
}

func encodeInstanceRecord(inst *cim.Instance) []byte {
	e := encoder{buf: make([]byte, 0, 1024)}
	e.byte(formatVersion)
	e.instanceBody(inst)
	return e.buf
}

// decoder reads a record from a string holding a copy of it; decoded
// strings are substrings of s and cost no allocation. The first problem
// found is kept in err and stops the decoding.
type decoder struct {
	s     string
	pos   int
	err   error
	depth int
}

func newDecoder(data []byte) *decoder {
	return &decoder{s: string(data)}
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corrupt(format, args...)
	}
	d.pos = len(d.s)
}

func (d *decoder) version() {
	if b := d.byte(); b != formatVersion && d.err == nil {
		d.fail("record format %d, want %d", b, formatVersion)
	}
}

func (d *decoder) done() error {
	if d.err == nil && d.pos != len(d.s) {
		d.fail("%d bytes left over", len(d.s)-d.pos)
	}
	return d.err
}

func (d *decoder) byte() byte {
	if d.pos >= len(d.s) {
		d.fail("truncated record")
		return 0
	}
	b := d.s[d.pos]
	d.pos++
	return b
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; ; i++ {
		if d.pos >= len(d.s) || i == binary.MaxVarintLen64 {
			d.fail("bad varint")
			return 0
		}
		b := d.s[d.pos]
		d.pos++
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				d.fail("varint overflows")
				return 0
			}
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
}

func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// count reads an element count. Every element takes at least one byte,
// so a count beyond the bytes left is corrupt; checking it keeps a damaged
// record from making us allocate gigabytes.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.pos)+1 {
		d.fail("count %d exceeds the record", n)
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.pos) {
		d.fail("string of %d bytes exceeds the record", n)
		return ""
	}
	s := d.s[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s
}

func (d *decoder) bool() bool { return d.byte() != 0 }

func (d *decoder) fixed(n int) string {
	if len(d.s)-d.pos < n {
		d.fail("truncated record")
		return ""
	}
	s := d.s[d.pos : d.pos+n]
	d.pos += n
	return s
}

func (d *decoder) uint32le() uint32 {
	s := d.fixed(4)
	if len(s) < 4 {
		return 0
	}
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func (d *decoder) uint64le() uint64 {
	lo := d.uint32le()
	return uint64(lo) | uint64(d.uint32le())<<32
}

func (d *decoder) enter() bool {
	d.depth++
	if d.depth > maxDepth {
		d.fail("objects nested more than %d deep", maxDepth)
		return false
	}
	return true
}

func (d *decoder) leave() { d.depth-- }

func (d *decoder) typ() cim.Type {
	t := cim.Type(d.byte() & 0x0f)
	if !t.Valid() && d.err == nil {
		d.fail("invalid type %d", t)
	}
	return t
}

func (d *decoder) value() cim.Value {
	tag := d.byte()
	if d.err != nil {
		return cim.Value{}
	}
	t := cim.Type(tag & 0x0f)
	isArray := tag&tagArray != 0
	if t == cim.TypeInvalid {
		if tag != 0 {
			d.fail("bad value tag %#x", tag)
		}
		return cim.Value{}
	}
	if !t.Valid() {
		d.fail("invalid type %d", t)
		return cim.Value{}
	}
	if tag&tagNonNull == 0 {
		if isArray {
			return cim.NullArray(t)
		}
		return cim.Null(t)
	}
	embedded := tag >> 6
	if embedded != 0 && t != cim.TypeString || embedded == 3 {
		d.fail("bad value tag %#x", tag)
		return cim.Value{}
	}
	if !isArray {
		return d.scalar(t, embedded)
	}
	return d.array(t, embedded)
}

func (d *decoder) scalar(t cim.Type, embedded byte) cim.Value {
	switch t {
	case cim.TypeBoolean:
		return cim.NewBoolean(d.bool())
	case cim.TypeString:
		switch embedded {
		case tagInst >> 6:
			return cim.NewEmbeddedInstance(d.instance())
		case tagClass >> 6:
			return cim.NewEmbeddedClass(d.class())
		}
		return cim.NewString(d.str())
	case cim.TypeChar16:
		return cim.NewChar16(uint16(d.uvarint()))
	case cim.TypeUint8:
		return cim.NewUint8(uint8(d.uvarint()))
	case cim.TypeSint8:
		return cim.NewSint8(int8(d.varint()))
	case cim.TypeUint16:
		return cim.NewUint16(uint16(d.uvarint()))
	case cim.TypeSint16:
		return cim.NewSint16(int16(d.varint()))
	case cim.TypeUint32:
		return cim.NewUint32(uint32(d.uvarint()))
	case cim.TypeSint32:
		return cim.NewSint32(int32(d.varint()))
	case cim.TypeUint64:
		return cim.NewUint64(d.uvarint())
	case cim.TypeSint64:
		return cim.NewSint64(d.varint())
	case cim.TypeReal32:
		return cim.NewReal32(math.Float32frombits(d.uint32le()))
	case cim.TypeReal64:
		return cim.NewReal64(math.Float64frombits(d.uint64le()))
	case cim.TypeDatetime:
		return cim.NewDatetime(d.datetime())
	case cim.TypeReference:
		return cim.NewReference(d.path())
	}
	d.fail("invalid type %d", t)
	return cim.Value{}
}

func (d *decoder) datetime() cim.Datetime {
	s := d.str()
	if d.err != nil {
		return cim.Datetime{}
	}
	dt, err := cim.ParseDatetime(s)
	if err != nil {
		d.fail("bad datetime %q", s)
	}
	return dt
}

func (d *decoder) array(t cim.Type, embedded byte) cim.Value {
	hdr := d.uvarint()
	n := hdr >> 1
	// Every element takes at least one byte.
	if n > uint64(len(d.s)-d.pos) {
		d.fail("array of %d elements exceeds the record", n)
		return cim.Value{}
	}
	var nulls string
	if hdr&1 != 0 {
		nulls = d.fixed(int(n+7) / 8)
	}
	v := d.arrayData(t, embedded, int(n))
	if nulls == "" || d.err != nil {
		return v
	}
	elems := v.Elements()
	for i := range elems {
		if nulls[i/8]&(1<<(i%8)) != 0 {
			elems[i] = cim.Null(t)
		}
	}
	out, err := cim.NewArray(t, elems)
	if err != nil {
		d.fail("bad array: %v", err)
	}
	return out
}

func decodeSlice[T any](d *decoder, n int, get func() T) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = get()
	}
	return s
}

func (d *decoder) arrayData(t cim.Type, embedded byte, n int) cim.Value {
	switch t {
	case cim.TypeBoolean:
		return cim.NewBooleanArray(decodeSlice(d, n, d.bool))
	case cim.TypeString:
		switch embedded {
		case tagInst >> 6:
			return cim.NewEmbeddedInstanceArray(decodeSlice(d, n, func() *cim.Instance {
				if !d.bool() {
					return nil
				}
				return d.instance()
			}))
		case tagClass >> 6:
			return cim.NewEmbeddedClassArray(decodeSlice(d, n, func() *cim.Class {
				if !d.bool() {
					return nil
				}
				return d.class()
			}))
		}
		return cim.NewStringArray(decodeSlice(d, n, d.str))
	case cim.TypeChar16:
		return cim.NewChar16Array(decodeSlice(d, n, func() uint16 { return uint16(d.uvarint()) }))
	case cim.TypeUint8:
		return cim.NewUint8Array([]byte(d.fixed(n)))
	case cim.TypeSint8:
		return cim.NewSint8Array(decodeSlice(d, n, func() int8 { return int8(d.varint()) }))
	case cim.TypeUint16:
		return cim.NewUint16Array(decodeSlice(d, n, func() uint16 { return uint16(d.uvarint()) }))
	case cim.TypeSint16:
		return cim.NewSint16Array(decodeSlice(d, n, func() int16 { return int16(d.varint()) }))
	case cim.TypeUint32:
		return cim.NewUint32Array(decodeSlice(d, n, func() uint32 { return uint32(d.uvarint()) }))
	case cim.TypeSint32:
		return cim.NewSint32Array(decodeSlice(d, n, func() int32 { return int32(d.varint()) }))
	case cim.TypeUint64:
		return cim.NewUint64Array(decodeSlice(d, n, d.uvarint))
	case cim.TypeSint64:
		return cim.NewSint64Array(decodeSlice(d, n, d.varint))
	case cim.TypeReal32:
		return cim.NewReal32Array(decodeSlice(d, n, func() float32 { return math.Float32frombits(d.uint32le()) }))
	case cim.TypeReal64:
		return cim.NewReal64Array(decodeSlice(d, n, func() float64 { return math.Float64frombits(d.uint64le()) }))
	case cim.TypeDatetime:
		return cim.NewDatetimeArray(decodeSlice(d, n, d.datetime))
	case cim.TypeReference:
		return cim.NewReferenceArray(decodeSlice(d, n, func() *cim.ObjectPath {
			if !d.bool() {
				return nil
			}
			return d.path()
		}))
	}
	d.fail("invalid array type %d", t)
	return cim.Value{}
}

func (d *decoder) path() *cim.ObjectPath {
	if !d.enter() {
		return nil
	}
	defer d.leave()
	p := &cim.ObjectPath{}
	p.Host = d.str()
	p.Namespace = d.str()
	p.ClassName = d.str()
	n := d.count()
	if n == 0 {
		return p
	}
	p.Keys = make([]cim.KeyBinding, n-1)
	for i := range p.Keys {
		p.Keys[i].Name = d.str()
		p.Keys[i].Value = d.value()
	}
	return p
}

func (d *decoder) qualifiers() cim.Qualifiers {
	n := d.count()
	if n == 0 {
		return nil
	}
	qs := make(cim.Qualifiers, n)
	for i := range qs {
		qs[i].Name = d.str()
		b := d.byte()
		qs[i].Flavor = cim.Flavor(b & 0x7f)
		qs[i].Propagated = b&0x80 != 0
		qs[i].Value = d.value()
	}
	return qs
}

func (d *decoder) property() cim.Property {
	var p cim.Property
	p.Name = d.str()
	d.propertyBody(&p)
	return p
}

// propertyBody reads what follows a property's name into p, setting every
// field but Name.
func (d *decoder) propertyBody(p *cim.Property) {
	h := d.byte()
	p.Type = cim.Type(h & 0x0f)
	p.Embedded = cim.EmbeddedKind(h >> 4)
	f := d.byte()
	p.IsArray = f&propArray != 0
	p.Propagated = f&propPropagated != 0
	p.ArraySize = 0
	if f&propArraySize != 0 {
		p.ArraySize = int(d.uvarint())
	}
	if f&propRefClass != 0 {
		p.ReferenceClass = d.str()
	} else if p.ReferenceClass != "" {
		p.ReferenceClass = ""
	}
	if f&propClassOrigin != 0 {
		p.ClassOrigin = d.str()
	} else if p.ClassOrigin != "" {
		p.ClassOrigin = ""
	}
	if f&propQualifiers != 0 {
		p.Qualifiers = d.qualifiers()
	} else if p.Qualifiers != nil {
		p.Qualifiers = nil
	}
	p.Value = d.value()
	if d.err == nil && (!p.Type.Valid() || p.Embedded > cim.EmbeddedInstance) {
		d.fail("property %s: bad header %#x", p.Name, h)
	}
}

func (d *decoder) parameter() cim.Parameter {
	var p cim.Parameter
	p.Name = d.str()
	h := d.byte()
	p.Type = cim.Type(h & 0x0f)
	p.Embedded = cim.EmbeddedKind(h >> 4)
	f := d.byte()
	p.IsArray = f&propArray != 0
	if f&propArraySize != 0 {
		p.ArraySize = int(d.uvarint())
	}
	if f&propRefClass != 0 {
		p.ReferenceClass = d.str()
	}
	p.Qualifiers = d.qualifiers()
	if d.err == nil && (!p.Type.Valid() || p.Embedded > cim.EmbeddedInstance) {
		d.fail("parameter %s: bad header %#x", p.Name, h)
	}
	return p
}

func (d *decoder) method() cim.Method {
	var m cim.Method
	m.Name = d.str()
	m.ReturnType = d.typ()
	m.Propagated = d.bool()
	m.ClassOrigin = d.str()
	m.Qualifiers = d.qualifiers()
	if n := d.count(); n > 0 {
		m.Parameters = make([]cim.Parameter, n)
		for i := range m.Parameters {
			m.Parameters[i] = d.parameter()
		}
	}
	return m
}

func (d *decoder) class() *cim.Class {
	if !d.enter() {
		return nil
	}
	defer d.leave()
	name := d.str()
	c := cim.NewClass(name, d.str())
	c.Qualifiers = d.qualifiers()
	for i, n := 0, d.count(); i < n && d.err == nil; i++ {
		if p := d.property(); d.err == nil && c.AddProperty(p) != nil {
			d.fail("class %s: duplicate property %s", c.Name, p.Name)
		}
	}
	for i, n := 0, d.count(); i < n && d.err == nil; i++ {
		if m := d.method(); d.err == nil && c.AddMethod(m) != nil {
			d.fail("class %s: duplicate method %s", c.Name, m.Name)
		}
	}
	return c
}

func (d *decoder) instance() *cim.Instance {
	if !d.enter() {
		return nil
	}
	defer d.leave()
	inst := cim.NewInstance(d.str())
	if d.bool() {
		inst.Path = d.path()
	}
	inst.Qualifiers = d.qualifiers()
	for i, n := 0, d.count(); i < n && d.err == nil; i++ {
		p := d.property()
		if d.err == nil && inst.AddProperty(p) != nil {
			d.fail("instance of %s: duplicate property %s", inst.ClassName, p.Name)
		}
	}
	return inst
}

func (d *decoder) qualifierType() *cim.QualifierType {
	qt := &cim.QualifierType{Name: d.str(), Type: d.typ()}
	qt.IsArray = d.bool()
	qt.ArraySize = int(d.uvarint())
	qt.Scopes = cim.Scope(d.byte())
	qt.Flavor = cim.Flavor(d.byte())
	qt.Default = d.value()
	return qt
}

// Record decoders.

func decodeQualifierType(data []byte) (*cim.QualifierType, error) {
	d := newDecoder(data)
	d.version()
	qt := d.qualifierType()
	return qt, d.done()
}

func decodeClass(data []byte) (*cim.Class, error) {
	d := newDecoder(data)
	d.version()
	c := d.class()
	return c, d.done()
}

// decodeClassHeader returns the name and superclass of a class record
// without decoding the rest.
func decodeClassHeader(data []byte) (name, super string, err error) {
	if len(data) == 0 || data[0] != formatVersion {
		return "", "", corrupt("bad class record")
	}
	d := &decoder{s: string(data[:min(len(data), 512)])}
	d.pos = 1
	name, super = d.str(), d.str()
	if d.err != nil {
		// The header may straddle the 512-byte cut; decode it in full.
		d = newDecoder(data)
		d.pos = 1
		name, super = d.str(), d.str()
	}
	return name, super, d.err
}

// decodeInstanceRecord decodes a stored instance against its resolved
// class: the instance starts as cls.NewInstance (every property at its
// default, sharing the class's name index) and takes the stored values.
// Stored properties come in class order, so each is matched by position
// first and by name only when the class changed since.
func decodeInstanceRecord(data []byte, cls *cim.Class) (*cim.Instance, error) {
	d := newDecoder(data)
	d.version()
	inst := cls.NewInstance()
	inst.Qualifiers = d.qualifiers()
	props := inst.Properties()
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		name := d.str()
		var dst *cim.Property
		if i < len(props) && props[i].Name == name {
			dst = &props[i] // the usual case: same class, same order
		} else {
			dst = inst.Property(name)
		}
		if dst != nil {
			d.propertyBody(dst)
			continue
		}
		// The class no longer has it (only a damaged store gets here:
		// class changes that drop properties are refused while instances
		// exist). Keep the value rather than lose it.
		p := cim.Property{Name: name}
		d.propertyBody(&p)
		if d.err == nil && inst.AddProperty(p) != nil {
			d.fail("duplicate property %s", p.Name)
		}
		props = inst.Properties()
	}
	return inst, d.done()
}
