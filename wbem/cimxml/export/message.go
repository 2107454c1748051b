package export

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

// The export messages are written and read with the CIM-XML codec the
// operation adapter uses. Listeners (pywbem, OpenPegasus, SFCB) decode
// character references and know DTD 2.4, so tabs and line ends are sent
// as references (they survive the receiver's normalization) and NULL
// array elements as VALUE.NULL.

const xmlDecl = `<?xml version="1.0" encoding="utf-8" ?>` + "\n"

func newEncoder(size int) *xmlcodec.Encoder {
	return &xmlcodec.Encoder{B: make([]byte, 0, size), NullInArrays: true, EscapeWhitespace: true}
}

// exportRequest returns the body of an ExportIndication request.
func exportRequest(id string, ind *cim.Instance) []byte {
	e := newEncoder(2048)
	e.Str(xmlDecl)
	e.Str(`<CIM CIMVERSION="2.0" DTDVERSION="2.4"><MESSAGE`)
	e.Attr("ID", id)
	e.Str(` PROTOCOLVERSION="1.0"><SIMPLEEXPREQ><EXPMETHODCALL NAME="ExportIndication"><EXPPARAMVALUE NAME="NewIndication">`)
	e.Instance(ind)
	e.Str(`</EXPPARAMVALUE></EXPMETHODCALL></SIMPLEEXPREQ></MESSAGE></CIM>` + "\n")
	return e.B
}

// exportResponse returns the body of an ExportIndication response: empty
// on success, else an ERROR.
func exportResponse(id, method string, cerr *cim.Error) []byte {
	e := newEncoder(512)
	e.Str(xmlDecl)
	e.Str(`<CIM CIMVERSION="2.0" DTDVERSION="2.4"><MESSAGE`)
	e.Attr("ID", id)
	e.Str(` PROTOCOLVERSION="1.0"><SIMPLEEXPRSP><EXPMETHODRESPONSE`)
	e.Attr("NAME", method)
	e.Str(`>`)
	if cerr != nil {
		e.Error(cerr, false)
	}
	e.Str(`</EXPMETHODRESPONSE></SIMPLEEXPRSP></MESSAGE></CIM>` + "\n")
	return e.B
}

// invalid reports content that does not follow DSP0201.
func invalid(format string, args ...any) error {
	return cim.Errorf(cim.ErrInvalidParameter, format, args...)
}

// nameOf returns the NAME attribute of an element.
func nameOf(n *xmlcodec.Node) string {
	v, _ := n.Attr("NAME")
	return v
}

// messageOf returns the MESSAGE of a CIM document and its ID.
func messageOf(root *xmlcodec.Node) (*xmlcodec.Node, string, error) {
	if root.Name != "CIM" {
		return nil, "", invalid("the root element is %s, not CIM", root.Name)
	}
	msg := root.Child("MESSAGE")
	if msg == nil {
		return nil, "", invalid("CIM has no MESSAGE")
	}
	id, ok := msg.Attr("ID")
	if !ok {
		return nil, "", invalid("MESSAGE has no ID")
	}
	if v, ok := msg.Attr("PROTOCOLVERSION"); !ok || !strings.HasPrefix(v, "1.") {
		return nil, "", invalid("MESSAGE PROTOCOLVERSION %q is not 1.x", v)
	}
	return msg, id, nil
}

// decodeIndication reads the INSTANCE of NewIndication, with its embedded
// instances and references. Without the sender's schema, an instance name
// holding a single unnamed key keeps it unnamed.
func decodeIndication(n *xmlcodec.Node) (*cim.Instance, error) {
	var d xmlcodec.Decoder
	inst, err := d.DecodeInstance(n)
	if err != nil {
		var nv *xmlcodec.NotValidError
		if errors.As(err, &nv) {
			return nil, invalid("%s", nv.Detail)
		}
		return nil, err
	}
	return inst, nil
}

// decodeResponse reads an ExportIndication response: refused is the
// listener's ERROR, if any; err says the response is not one.
func decodeResponse(body []byte, wantID string) (refused *cim.Error, err error) {
	root, err := xmlcodec.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("the answer is not XML: %w", err)
	}
	msg, id, err := messageOf(root)
	if err != nil {
		return nil, err
	}
	if id != wantID {
		return nil, invalid("the response's MESSAGE ID %q does not match the request's %q", id, wantID)
	}
	rsp := msg.Child("SIMPLEEXPRSP")
	if rsp == nil {
		return nil, invalid("MESSAGE has no SIMPLEEXPRSP")
	}
	mr := rsp.Child("EXPMETHODRESPONSE")
	if mr == nil {
		return nil, invalid("SIMPLEEXPRSP has no EXPMETHODRESPONSE")
	}
	if e := mr.Child("ERROR"); e != nil {
		code, _ := e.Attr("CODE")
		n, err := strconv.Atoi(code)
		if err != nil || n <= 0 {
			return nil, invalid("ERROR CODE %q is not a status code", code)
		}
		desc, _ := e.Attr("DESCRIPTION")
		return cim.NewError(cim.Status(n), desc), nil
	}
	return nil, nil
}
