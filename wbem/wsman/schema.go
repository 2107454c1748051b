package wsman

import (
	"context"

	"github.com/hypercim/hypercim/cim"
)

// getSchema answers a Get of <class resource URI>.xsd with the class's XML
// schema as DSP0230 clause 6 maps it: a global element of the class name,
// of the complex type <Class>_Type, whose sequence holds one element per
// property, typed with the cim:cim* types of the common schema, nillable,
// and unbounded for arrays.
func (h *Handler) getSchema(ctx context.Context, req *request, res resource) (*reply, error) {
	sels, f := parseSelectorSet(req.selectorSet)
	if f != nil {
		return nil, f
	}
	selNS, _ := namespaceOf(sels)
	ns := h.namespace(res, selNS)
	cls, err := h.resourceClass(ctx, ns, res.class)
	if err != nil {
		return nil, err
	}
	target := res.uris.classURI(cls.Name)
	b := []byte(`<xs:schema xmlns:xs="` + nsXS + `" xmlns:cim="` + nsCIM + `" xmlns:class="`)
	b = appendEscaped(b, target)
	b = append(b, `" targetNamespace="`...)
	b = appendEscaped(b, target)
	b = append(b, `" elementFormDefault="qualified">`...)
	b = append(b, `<xs:import namespace="`+nsCIM+`" schemaLocation="http://schemas.dmtf.org/wbem/wscim/1/common.xsd"/>`...)
	for _, p := range cls.Properties() {
		b = append(b, `<xs:element name="`...)
		b = appendEscaped(b, p.Name)
		b = append(b, `" nillable="true" type="`...)
		b = append(b, xsdType(p)...)
		b = append(b, `"/>`...)
	}
	b = append(b, `<xs:complexType name="`...)
	b = append(b, cls.Name...)
	b = append(b, `_Type"><xs:sequence>`...)
	for _, p := range cls.Properties() {
		b = append(b, `<xs:element ref="class:`...)
		b = appendEscaped(b, p.Name)
		b = append(b, `" minOccurs="0"`...)
		if p.IsArray {
			b = append(b, ` maxOccurs="unbounded"`...)
		}
		b = append(b, `/>`...)
	}
	b = append(b, `</xs:sequence><xs:anyAttribute namespace="##any" processContents="lax"/></xs:complexType>`...)
	b = append(b, `<xs:element name="`...)
	b = append(b, cls.Name...)
	b = append(b, `" type="class:`...)
	b = append(b, cls.Name...)
	b = append(b, `_Type"/></xs:schema>`...)
	return &reply{action: actionGet + "Response", body: [][]byte{b}}, nil
}

// xsdType is the DSP0230 type of a property.
func xsdType(p cim.Property) string {
	switch p.Type {
	case cim.TypeBoolean:
		return "cim:cimBoolean"
	case cim.TypeString:
		if p.EmbeddedKind() != cim.EmbeddedNone {
			// An embedded instance is rendered as element content typed
			// with xsi:type <Class>_Type (DSP0230 7.2.5.2): only the
			// ur-type admits every such type, a simple type none.
			return "xs:anyType"
		}
		return "cim:cimString"
	case cim.TypeChar16:
		return "cim:cimChar16"
	case cim.TypeUint8:
		return "cim:cimUnsignedByte"
	case cim.TypeSint8:
		return "cim:cimByte"
	case cim.TypeUint16:
		return "cim:cimUnsignedShort"
	case cim.TypeSint16:
		return "cim:cimShort"
	case cim.TypeUint32:
		return "cim:cimUnsignedInt"
	case cim.TypeSint32:
		return "cim:cimInt"
	case cim.TypeUint64:
		return "cim:cimUnsignedLong"
	case cim.TypeSint64:
		return "cim:cimLong"
	case cim.TypeReal32:
		return "cim:cimFloat"
	case cim.TypeReal64:
		return "cim:cimDouble"
	case cim.TypeDatetime:
		return "cim:cimDateTime"
	case cim.TypeReference:
		return "cim:cimReference"
	}
	return "cim:cimAnySimpleType"
}
