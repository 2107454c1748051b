package export_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/wbem/cimxml/export"
)

// FuzzListener feeds arbitrary bodies to a Listener: it must answer every
// one with a status of DSP0200, never panic, and hand over only instances
// with a class name.
func FuzzListener(f *testing.F) {
	f.Add(alertRequest)
	f.Add(strings.ReplaceAll(alertRequest, `TYPE="uint16"`, `TYPE="datetime"`))
	f.Add(`<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEEXPREQ><EXPMETHODCALL NAME="ExportIndication">` +
		`<EXPPARAMVALUE NAME="NewIndication"><INSTANCE CLASSNAME="X"><PROPERTY NAME="E" TYPE="string" EmbeddedObject="instance">` +
		`<VALUE>&lt;INSTANCE CLASSNAME="Y"&gt;&lt;PROPERTY.REFERENCE NAME="R"&gt;&lt;VALUE.REFERENCE&gt;&lt;INSTANCENAME CLASSNAME="Z"&gt;` +
		`&lt;KEYBINDING NAME="K"&gt;&lt;KEYVALUE VALUETYPE="numeric"&gt;5&lt;/KEYVALUE&gt;&lt;/KEYBINDING&gt;&lt;/INSTANCENAME&gt;` +
		`&lt;/VALUE.REFERENCE&gt;&lt;/PROPERTY.REFERENCE&gt;&lt;/INSTANCE&gt;</VALUE></PROPERTY></INSTANCE></EXPPARAMVALUE></EXPMETHODCALL></SIMPLEEXPREQ></MESSAGE></CIM>`)
	f.Add(`<CIM><MESSAGE ID="1" PROTOCOLVERSION="1.0"><MULTIEXPREQ/></MESSAGE></CIM>`)
	l, err := export.NewListener(export.ListenerConfig{Handle: func(_ context.Context, ind export.Indication) error {
		if ind.Instance == nil || ind.Instance.ClassName == "" {
			panic("an indication without a class")
		}
		return nil
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/xml")
		req.Header.Set("CIMExport", "MethodRequest")
		req.Header.Set("CIMExportMethod", "ExportIndication")
		w := httptest.NewRecorder()
		l.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotImplemented:
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
	})
}
