package wbem_test

import (
	"testing"

	"github.com/hypercim/hypercim/cim"
)

func TestInvokeMethod(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	d1 := path("T_Dynamic", "d1")
	// Parameters are converted to their declared types, results too.
	rv, out, err := e.srv.InvokeMethod(e.ctx, testNS, d1, "resize", []cim.ParamValue{
		{Name: "newsize", Value: cim.NewString("64")},
		{Name: "Note", Value: cim.NewString("grow")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rv.Type() != cim.TypeUint32 || rv.Uint32() != 0 {
		t.Errorf("return value %#v, want uint32 0", rv)
	}
	outs := map[string]cim.Value{}
	for _, pv := range out {
		outs[pv.Name] = pv.Value
	}
	if outs["OldSize"].Uint32() != 10 || outs["OldSize"].Type() != cim.TypeUint32 || outs["Note"].Str() != "grow!" {
		t.Errorf("output parameters %v", out)
	}
	if v, _ := e.srv.GetProperty(e.ctx, testNS, d1, "Size"); v.Uint32() != 64 {
		t.Errorf("Size after Resize: %v", v)
	}
	// A static method on the class path, and on an instance path.
	for _, obj := range []*cim.ObjectPath{cim.NewClassPath("", "T_Dynamic"), d1} {
		rv, _, err := e.srv.InvokeMethod(e.ctx, testNS, obj, "Hello", []cim.ParamValue{{Name: "Who", Value: cim.NewString("you")}})
		if err != nil || rv.Str() != "hello you" {
			t.Errorf("Hello on %v: %v %v", obj, rv, err)
		}
	}
	// Embedded instances and references.
	item := cim.NewInstance("T_Static")
	item.Set("Id", cim.NewString("e1"))
	item.Set("Name", cim.NewString("thing"))
	_, out, err = e.srv.InvokeMethod(e.ctx, testNS, d1, "Embed", []cim.ParamValue{{Name: "Item", Value: cim.NewEmbeddedInstance(item)}})
	if err != nil || len(out) != 1 || out[0].Value.Instance().Get("Name").Str() != "copy of thing" {
		t.Errorf("Embed: %v %v", out, err)
	}
	wrong := cim.NewInstance("T_Link")
	_, _, err = e.srv.InvokeMethod(e.ctx, testNS, d1, "Embed", []cim.ParamValue{{Name: "Item", Value: cim.NewEmbeddedInstance(wrong)}})
	wantStatus(t, "embedded instance of the wrong class", err, cim.ErrInvalidParameter)
	rv, out, err = e.srv.InvokeMethod(e.ctx, testNS, d1, "Point", []cim.ParamValue{
		{Name: "Target", Value: cim.NewString(`T_Static.Id="s1"`)},
		{Name: "Codes", Value: cim.NewSint64Array([]int64{1, 2, 3})},
	})
	if err != nil || rv.Uint32() != 3 || len(out) != 1 || out[0].Value.Type() != cim.TypeReference || out[0].Value.Ref().ClassName != "T_Static" {
		t.Errorf("Point: %v %v %v", rv, out, err)
	}

	for _, c := range []struct {
		what   string
		obj    *cim.ObjectPath
		method string
		in     []cim.ParamValue
		status cim.Status
	}{
		{"unknown method", d1, "Explode", nil, cim.ErrMethodNotFound},
		{"unknown class", path("T_Nope", "x"), "Hello", nil, cim.ErrInvalidClass},
		{"unknown parameter", d1, "Resize", []cim.ParamValue{{Name: "Bogus", Value: cim.NewUint32(1)}}, cim.ErrInvalidParameter},
		{"output parameter given as input", d1, "Resize", []cim.ParamValue{{Name: "OldSize", Value: cim.NewUint32(1)}}, cim.ErrInvalidParameter},
		{"duplicate parameter", d1, "Resize", []cim.ParamValue{{Name: "NewSize", Value: cim.NewUint32(1)}, {Name: "newsize", Value: cim.NewUint32(2)}}, cim.ErrInvalidParameter},
		{"unconvertible parameter", d1, "Resize", []cim.ParamValue{{Name: "NewSize", Value: cim.NewString("big")}}, cim.ErrInvalidParameter},
		{"out of range parameter", d1, "Resize", []cim.ParamValue{{Name: "NewSize", Value: cim.NewSint64(-1)}}, cim.ErrInvalidParameter},
		{"scalar for an array parameter", d1, "Point", []cim.ParamValue{{Name: "Codes", Value: cim.NewUint16(1)}}, cim.ErrInvalidParameter},
		{"instance method on a class path", cim.NewClassPath("", "T_Dynamic"), "Resize", nil, cim.ErrInvalidParameter},
		{"method without a provider", path("T_Static", "s1"), "Frob", nil, cim.ErrMethodNotAvailable},
		{"provider error", d1, "Fail", nil, cim.ErrFailed},
		{"provider panic", d1, "Panic", nil, cim.ErrFailed},
		{"missing instance", path("T_Dynamic", "nope"), "Resize", []cim.ParamValue{{Name: "NewSize", Value: cim.NewUint32(1)}}, cim.ErrNotFound},
		{"nil object", nil, "Hello", nil, cim.ErrInvalidParameter},
	} {
		_, _, err := e.srv.InvokeMethod(e.ctx, testNS, c.obj, c.method, c.in)
		wantStatus(t, c.what, err, c.status)
	}
}
