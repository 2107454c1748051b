package wsman

import (
	"fmt"
	"strings"
	"time"

	"github.com/hypercim/hypercim/cim"
)

// Decoding of DSP0230 XML (Put and Create bodies, method parameters) into
// CIM values typed as the class declares them.

// group is the elements of one property or parameter, in document order.
type group struct {
	name  string
	elems []*element
}

// groupChildren groups the children of e by local name (repeated elements
// are array entries, DSP0230 7.2.2); namespaces are not compared, as
// clients write the class namespace with any prefix or none.
func groupChildren(e *element) []group {
	var out []group
	index := map[string]int{}
	for _, c := range e.Children {
		k := cim.FoldName(c.Local)
		if i, ok := index[k]; ok {
			out[i].elems = append(out[i].elems, c)
			continue
		}
		index[k] = len(out)
		out = append(out, group{name: c.Local, elems: []*element{c}})
	}
	return out
}

// decodeValue converts the elements of one property or parameter to a
// value of type t.
func decodeValue(elems []*element, t cim.Type, isArray bool) (cim.Value, error) {
	if !isArray {
		if len(elems) != 1 {
			return cim.Value{}, fmt.Errorf("%d values given for a scalar", len(elems))
		}
		if isNil(elems[0]) {
			return cim.Null(t), nil
		}
		return decodeScalar(elems[0], t)
	}
	if len(elems) == 1 && isNil(elems[0]) {
		return cim.NullArray(t), nil
	}
	vals := make([]cim.Value, 0, len(elems))
	for _, e := range elems {
		if isNil(e) {
			vals = append(vals, cim.Null(t))
			continue
		}
		v, err := decodeScalar(e, t)
		if err != nil {
			return cim.Value{}, err
		}
		vals = append(vals, v)
	}
	return cim.NewArray(t, vals)
}

// decodeScalar converts one element to a scalar of type t.
func decodeScalar(e *element, t cim.Type) (cim.Value, error) {
	switch t {
	case cim.TypeReference:
		src := e
		if epr := e.ChildNS(nsWSA, "EndpointReference"); epr != nil {
			src = epr
		}
		p, f := parseEPR(src, 0)
		if f != nil {
			return cim.Value{}, f
		}
		return cim.NewReference(p), nil
	case cim.TypeDatetime:
		return decodeDatetime(e)
	case cim.TypeString:
		if len(e.Children) > 0 {
			inst, err := decodeEmbedded(e)
			if err != nil {
				return cim.Value{}, err
			}
			return cim.NewEmbeddedInstance(inst), nil
		}
		return cim.NewString(e.Text), nil
	case cim.TypeChar16:
		return cim.ParseValue(t, e.Text)
	}
	if len(e.Children) > 0 {
		return cim.Value{}, fmt.Errorf("element %s holds elements where a %s value is expected", e.Local, t)
	}
	return cim.ParseValue(t, e.TrimmedText())
}

// decodeDatetime reads the cim:cimDateTime choice (DSP0230 7.2.3) or a bare
// value in any of its forms.
func decodeDatetime(e *element) (cim.Value, error) {
	text, kind := e.TrimmedText(), ""
	if len(e.Children) == 1 {
		c := e.Children[0]
		text, kind = c.TrimmedText(), c.Local
	} else if len(e.Children) > 1 {
		return cim.Value{}, fmt.Errorf("element %s holds more than one datetime", e.Local)
	}
	d, err := parseDatetimeText(text, kind)
	if err != nil {
		return cim.Value{}, err
	}
	return cim.NewDatetime(d), nil
}

func parseDatetimeText(text, kind string) (cim.Datetime, error) {
	switch kind {
	case "CIM_DateTime":
		return cim.ParseDatetime(text)
	case "Interval":
		return intervalFromDuration(text)
	case "Datetime":
		return timestampFromXS(text)
	case "Date":
		return dateFromXS(text)
	case "":
		// A bare value: the 25-character CIM form, an xs:duration or an
		// xs:dateTime.
		switch {
		case len(text) == 25 && (text[21] == '+' || text[21] == '-' || text[21] == ':'):
			return cim.ParseDatetime(text)
		case strings.HasPrefix(text, "P") || strings.HasPrefix(text, "-P"):
			return intervalFromDuration(text)
		}
		return timestampFromXS(text)
	}
	return cim.Datetime{}, fmt.Errorf("unsupported datetime form cim:%s", kind)
}

func intervalFromDuration(s string) (cim.Datetime, error) {
	d, err := parseDuration(s)
	if err != nil || d < 0 {
		return cim.Datetime{}, fmt.Errorf("%q is not a non-negative xs:duration", s)
	}
	return cim.IntervalOf(d)
}

func timestampFromXS(s string) (cim.Datetime, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return cim.TimestampOf(t)
		}
	}
	return cim.Datetime{}, fmt.Errorf("%q is not an xs:dateTime", s)
}

func dateFromXS(s string) (cim.Datetime, error) {
	for _, layout := range []string{"2006-01-02Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			_, off := t.Zone()
			sign := '+'
			if off < 0 {
				sign, off = '-', -off
			}
			return cim.ParseDatetime(fmt.Sprintf("%04d%02d%02d******.******%c%03d", t.Year(), int(t.Month()), t.Day(), sign, off/60))
		}
	}
	return cim.Datetime{}, fmt.Errorf("%q is not an xs:date", s)
}

// decodeEmbedded reads an embedded instance: the property element typed
// with xsi:type="<Class>_Type" holding the properties, or holding the
// instance's own class element. Its properties are not typed here (the
// embedded class is not at hand): scalars stay strings, repeated elements
// string arrays, EPRs references; the provider converts as it needs.
func decodeEmbedded(e *element) (*cim.Instance, error) {
	className := ""
	holder := e
	if t, ok := e.AttrNS(nsXSI, "type"); ok {
		_, local := e.ResolveQName(t)
		className = strings.TrimSuffix(local, "_Type")
	} else if len(e.Children) == 1 && len(e.Children[0].Children) > 0 && e.Children[0].ChildNS(nsWSA, "Address") == nil {
		holder = e.Children[0]
		className = holder.Local
	}
	if className == "" || !cim.ValidName(className) {
		return nil, fmt.Errorf("the embedded instance in %s names no class (xsi:type)", e.Local)
	}
	inst := cim.NewInstance(className)
	for _, g := range groupChildren(holder) {
		var v cim.Value
		var err error
		first := g.elems[0]
		switch {
		case first.ChildNS(nsWSA, "Address") != nil || first.ChildNS(nsWSA, "ReferenceParameters") != nil:
			v, err = decodeValue(g.elems, cim.TypeReference, len(g.elems) > 1)
		case len(g.elems) == 1 && isNil(first):
			v = cim.Value{}
		case len(g.elems) == 1:
			v, err = decodeScalar(first, cim.TypeString)
		default:
			v, err = decodeValue(g.elems, cim.TypeString, true)
		}
		if err != nil {
			return nil, err
		}
		inst.Set(g.name, v)
	}
	return inst, nil
}

// decodeInstance reads a Put or Create body into an instance of cls. It
// returns the names of the properties given, for ModifyInstance's
// property list.
func decodeInstance(body *element, cls *cim.Class) (*cim.Instance, []string, *Fault) {
	inst := cim.NewInstance(cls.Name)
	var names []string
	for _, g := range groupChildren(body) {
		p := cls.Property(g.name)
		if p == nil {
			return nil, nil, senderFault(subInvalidRepresentation, detailInvalidValue, "the class %s has no property %s", cls.Name, g.name)
		}
		v, err := decodeValue(g.elems, p.Type, p.IsArray)
		if err != nil {
			if f, ok := err.(*Fault); ok {
				return nil, nil, f
			}
			return nil, nil, senderFault(subInvalidRepresentation, detailInvalidValue, "property %s: %v", p.Name, err)
		}
		inst.Set(p.Name, v)
		names = append(names, p.Name)
	}
	return inst, names, nil
}
