package virt

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// badParam is a rejected input: the method returns its Invalid Parameter
// code with this message.
func badParam(format string, args ...any) error {
	return &vmm.Error{Code: vmm.InvalidParameter, Msg: fmt.Sprintf(format, args...)}
}

func notSupported(format string, args ...any) error {
	return &vmm.Error{Code: vmm.NotSupported, Msg: fmt.Sprintf(format, args...)}
}

// params gives case-insensitive access to method parameters.
type params []cim.ParamValue

func (ps params) get(name string) (cim.Value, bool) {
	for _, p := range ps {
		if cim.EqualNames(p.Name, name) {
			return p.Value, !p.Value.IsNull()
		}
	}
	return cim.Value{}, false
}

// ref returns a reference parameter.
func (ps params) ref(name string) (*cim.ObjectPath, error) {
	v, ok := ps.get(name)
	if !ok {
		return nil, badParam("parameter %s is missing", name)
	}
	if v.Type() == cim.TypeReference && !v.IsArray() {
		return v.Ref(), nil
	}
	if v.Type() == cim.TypeString && !v.IsArray() {
		p, err := parsePath(v.Str())
		if err != nil {
			return nil, badParam("parameter %s: %v", name, err)
		}
		return p, nil
	}
	return nil, badParam("parameter %s must be a reference", name)
}

// refs returns a reference array parameter.
func (ps params) refs(name string) ([]*cim.ObjectPath, error) {
	v, ok := ps.get(name)
	if !ok {
		return nil, badParam("parameter %s is missing", name)
	}
	if !v.IsArray() {
		r, err := ps.ref(name)
		if err != nil {
			return nil, err
		}
		return []*cim.ObjectPath{r}, nil
	}
	var out []*cim.ObjectPath
	for i := range v.Len() {
		e := v.Index(i)
		switch {
		case e.IsNull():
			return nil, badParam("parameter %s: element %d is NULL", name, i)
		case e.Type() == cim.TypeReference:
			out = append(out, e.Ref())
		case e.Type() == cim.TypeString:
			p, err := parsePath(e.Str())
			if err != nil {
				return nil, badParam("parameter %s[%d]: %v", name, i, err)
			}
			out = append(out, p)
		default:
			return nil, badParam("parameter %s must hold references", name)
		}
	}
	return out, nil
}

// parsePath reads a path given as text: a WBEM URI or a model path.
func parsePath(s string) (*cim.ObjectPath, error) {
	if p, err := cim.ParseWBEMURI(s); err == nil {
		return p, nil
	}
	return cim.ParseObjectPath(s)
}

// instances returns an embedded-instance parameter (array or scalar).
func (ps params) instances(name string, required bool) ([]*cim.Instance, error) {
	v, ok := ps.get(name)
	if !ok {
		if required {
			return nil, badParam("parameter %s is missing", name)
		}
		return nil, nil
	}
	elems := []cim.Value{v}
	if v.IsArray() {
		elems = v.Elements()
	}
	var out []*cim.Instance
	for i, e := range elems {
		if e.IsNull() {
			return nil, badParam("parameter %s: element %d is NULL", name, i)
		}
		inst := e.Instance()
		if inst == nil {
			return nil, badParam("parameter %s: element %d is not an embedded instance (send it as EmbeddedObject=\"instance\", an INSTANCE element in the string)", name, i)
		}
		out = append(out, inst)
	}
	return out, nil
}

func (ps params) uint16(name string) (uint16, bool, error) {
	v, ok := ps.get(name)
	if !ok {
		return 0, false, nil
	}
	n, okN := v.Uint()
	if !okN || v.IsArray() || n > math.MaxUint16 {
		if i, okI := v.Int(); okI && i < 0 {
			return 0, true, badParam("parameter %s: %d is negative", name, i)
		}
		if v.Type() == cim.TypeString {
			u, err := strconv.ParseUint(strings.TrimSpace(v.Str()), 10, 16)
			if err == nil {
				return uint16(u), true, nil
			}
		}
		return 0, true, badParam("parameter %s: %s is not a uint16", name, v)
	}
	return uint16(n), true, nil
}

// ---------------------------------------------------------------------------
// Properties of embedded instances

func str(i *cim.Instance, name string) (string, bool) {
	v := i.Get(name)
	if v.IsNull() || v.IsArray() || v.Type() != cim.TypeString {
		return "", false
	}
	return v.Str(), true
}

func strs(i *cim.Instance, name string) []string {
	v := i.Get(name)
	if v.IsNull() {
		return nil
	}
	if !v.IsArray() {
		if s, ok := str(i, name); ok {
			return []string{s}
		}
		return nil
	}
	var out []string
	for _, e := range v.Elements() {
		if !e.IsNull() && e.Type() == cim.TypeString {
			out = append(out, e.Str())
		}
	}
	return out
}

// unsigned reads an unsigned property; present is false for NULL. A
// negative number (a client sending a signed value) is rejected.
func unsigned(i *cim.Instance, name string) (n uint64, present bool, err error) {
	v := i.Get(name)
	if v.IsNull() {
		return 0, false, nil
	}
	if v.IsArray() {
		return 0, true, badParam("%s.%s must not be an array", i.ClassName, name)
	}
	if u, ok := v.Uint(); ok {
		return u, true, nil
	}
	if s, ok := v.Int(); ok && s < 0 {
		return 0, true, badParam("%s.%s is %d: a quantity cannot be negative", i.ClassName, name, s)
	}
	if v.Type() == cim.TypeString {
		t := strings.TrimSpace(v.Str())
		if strings.HasPrefix(t, "-") {
			return 0, true, badParam("%s.%s is %s: a quantity cannot be negative", i.ClassName, name, t)
		}
		if u, err := strconv.ParseUint(t, 10, 64); err == nil {
			return u, true, nil
		}
	}
	return 0, true, badParam("%s.%s: %s is not an unsigned integer", i.ClassName, name, v)
}

// unitBytes returns how many bytes one unit of a DSP0004 programmatic
// unit is: "byte", "byte*2^20", "byte*10^3", and the common names
// (KB/KiB/MB/MiB/GB/GiB, KiloBytes, MegaBytes, GigaBytes).
func unitBytes(unit string) (uint64, bool) {
	u := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(unit), " ", ""))
	switch u {
	case "byte", "bytes", "b":
		return 1, true
	case "kb", "kib", "kilobytes", "kilobyte":
		return 1 << 10, true
	case "mb", "mib", "megabytes", "megabyte":
		return 1 << 20, true
	case "gb", "gib", "gigabytes", "gigabyte":
		return 1 << 30, true
	case "tb", "tib", "terabytes", "terabyte":
		return 1 << 40, true
	}
	rest, ok := strings.CutPrefix(u, "byte*")
	if !ok {
		return 0, false
	}
	base, exp, ok := strings.Cut(rest, "^")
	if !ok {
		return 0, false
	}
	e, err := strconv.Atoi(exp)
	if err != nil || e < 0 {
		return 0, false
	}
	var b uint64
	switch base {
	case "2":
		if e > 62 {
			return 0, false
		}
		b = 1 << e
	case "10":
		if e > 18 {
			return 0, false
		}
		b = 1
		for range e {
			b *= 10
		}
	default:
		return 0, false
	}
	return b, true
}

// quantityBytes reads VirtualQuantity in bytes, using the allocation's
// units (VirtualQuantityUnits, else AllocationUnits, else dflt).
func quantityBytes(i *cim.Instance, dflt uint64) (uint64, bool, error) {
	q, present, err := unsigned(i, "VirtualQuantity")
	if err != nil || !present {
		return 0, present, err
	}
	mult := dflt
	unit, ok := str(i, "VirtualQuantityUnits")
	if !ok || unit == "" {
		unit, ok = str(i, "AllocationUnits")
	}
	if ok && unit != "" {
		if mult, ok = unitBytes(unit); !ok {
			return 0, true, badParam("%s: allocation units %q are not a byte unit (byte, byte*2^20, MB...)", i.ClassName, unit)
		}
	}
	if mult != 0 && q > math.MaxUint64/mult {
		return 0, true, badParam("%s: VirtualQuantity %d %s is too large", i.ClassName, q, unit)
	}
	return q * mult, true, nil
}

// countQuantity reads VirtualQuantity of a counted resource. Its units
// are VirtualQuantityUnits, else AllocationUnits unless those are the
// "percent" of a processor allocation's Reservation and Limit.
func countQuantity(i *cim.Instance) (uint64, bool, error) {
	q, present, err := unsigned(i, "VirtualQuantity")
	if err != nil || !present {
		return q, present, err
	}
	name := "VirtualQuantityUnits"
	u, ok := str(i, name)
	if !ok || u == "" {
		name = "AllocationUnits"
		if u, _ = str(i, name); strings.EqualFold(u, unitsPercent) {
			u = ""
		}
	}
	if u != "" && !strings.EqualFold(u, unitsCount) {
		return 0, true, badParam("%s.%s is %q; processors are counted (\"count\")", i.ClassName, name, u)
	}
	return q, true, nil
}

// normalizeMAC accepts "52:54:00:12:34:56", "52-54-...", "525400123456".
func normalizeMAC(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) == 12 && !strings.ContainsAny(t, ":-") {
		var b strings.Builder
		for i := 0; i < 12; i += 2 {
			if i > 0 {
				b.WriteByte(':')
			}
			b.WriteString(t[i : i+2])
		}
		t = b.String()
	}
	hw, err := net.ParseMAC(t)
	if err != nil || len(hw) != 6 {
		return "", badParam("Address %q is not a MAC address (twelve hexadecimal digits)", s)
	}
	return hw.String(), nil
}

// resourceType reads and checks ResourceType.
func resourceType(i *cim.Instance) (uint16, error) {
	n, ok, err := unsigned(i, "ResourceType")
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, badParam("%s has no ResourceType", i.ClassName)
	case n > math.MaxUint16:
		return 0, badParam("%s.ResourceType %d is not a resource type", i.ClassName, n)
	}
	return uint16(n), nil
}

// typed converts the properties of an embedded instance to the types its
// class declares: WS-Management carries them as text, and CIM-XML clients
// may send numbers of another integer type. Properties the class does not
// declare are kept as they are.
func (p *Provider) typed(i *cim.Instance) (*cim.Instance, error) {
	cls, err := p.class(i.ClassName)
	if err != nil {
		return i, nil // the class checks that follow refuse it
	}
	out := i.Clone()
	for _, prop := range i.Properties() {
		decl := cls.Property(prop.Name)
		if decl == nil {
			continue
		}
		v := prop.Value
		if decl.IsArray && !v.IsArray() && !v.IsNull() {
			arr, err := cim.NewArray(v.Type(), []cim.Value{v})
			if err != nil {
				return nil, badParam("%s.%s: %v", i.ClassName, prop.Name, err)
			}
			v = arr
		}
		if v.Type() == decl.Type || decl.Type == cim.TypeReference {
			out.Set(prop.Name, v)
			continue
		}
		c, err := v.Convert(decl.Type)
		if err != nil {
			if s, ok := v.Int(); ok && s < 0 || v.Type() == cim.TypeString && strings.HasPrefix(strings.TrimSpace(v.Str()), "-") {
				return nil, badParam("%s.%s is %s: a quantity cannot be negative", i.ClassName, prop.Name, v)
			}
			return nil, badParam("%s.%s: %s is not a %s", i.ClassName, prop.Name, v, decl.Type)
		}
		out.Set(prop.Name, c)
	}
	return out, nil
}

// isA reports whether class name is (a subclass of) base in root/virt.
func (p *Provider) isA(name, base string) bool {
	return name != "" && p.classFits(base, name)
}

// checkRASDClass accepts a RASD of the DMTF class or any subclass.
func (p *Provider) checkRASDClass(i *cim.Instance) error {
	if !p.isA(i.ClassName, "CIM_ResourceAllocationSettingData") {
		return badParam("%s is not a CIM_ResourceAllocationSettingData (or subclass) known in %s", i.ClassName, Namespace)
	}
	return nil
}

// parentRef reads RASD.Parent as a reference to one of our allocations.
func parentRef(i *cim.Instance) (ref, string, bool) {
	s, ok := str(i, "Parent")
	if !ok || strings.TrimSpace(s) == "" {
		return ref{}, "", false
	}
	id := s
	if path, err := parsePath(s); err == nil {
		id = keyString(path, "InstanceID")
	}
	r, _ := parseInstanceID(id)
	return r, id, true
}

// resourceLabel names a resource type for messages.
func resourceLabel(rt uint16) string {
	switch rt {
	case rtProcessor:
		return "processor (3)"
	case rtMemory:
		return "memory (4)"
	case rtEthernet:
		return "Ethernet adapter (10)"
	case rtDiskDrive:
		return "disk drive (17)"
	case rtLogicalDisk:
		return "logical disk (31)"
	case rtConnection:
		return "Ethernet connection (33)"
	}
	return fmt.Sprintf("resource type %d", rt)
}

const supportedTypes = "processor (3), memory (4), Ethernet adapter (10), disk drive (17), logical disk (31) and Ethernet connection (33)"
