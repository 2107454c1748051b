package repository

import (
	"bytes"
	"math"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

func mustDatetime(t testing.TB, s string) cim.Datetime {
	t.Helper()
	d, err := cim.ParseDatetime(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sampleValues covers every type, scalar and array, NULLs, NULL elements,
// references and embedded objects.
func sampleValues(t testing.TB) []cim.Value {
	ts := mustDatetime(t, "20240131235959.123456-300")
	iv := mustDatetime(t, "00000001120032.000***:000")
	ref := cim.NewInstancePath("root/virt", "T_System", cim.KeyBinding{Name: "Name", Value: cim.NewString("vm1")})
	nested := cim.NewInstancePath("", "T_Contains",
		cim.KeyBinding{Name: "Parent", Value: cim.NewReference(ref)},
		cim.KeyBinding{Name: "Child", Value: cim.NewReference(&cim.ObjectPath{Host: "h:5989", Namespace: "root/x", ClassName: "T_Disk", Keys: []cim.KeyBinding{}})})
	embedded := cim.NewInstance("T_Disk")
	embedded.Set("Id", cim.NewString("d0"))
	embedded.Set("Unit", cim.NewUint32(7))
	embedded.Set("Tags", cim.NewStringArray([]string{"a", "b"}))
	embeddedClass := cim.NewClass("T_Embedded", "")
	embeddedClass.Qualifiers = cim.Qualifiers{{Name: "Description", Value: cim.NewString("x"), Flavor: cim.FlavorTranslatable}}
	if err := embeddedClass.AddProperty(cim.NewProperty("P", cim.NewSint16(-3))); err != nil {
		t.Fatal(err)
	}
	withNulls, err := cim.NewArray(cim.TypeUint16, []cim.Value{cim.NewUint16(1), cim.Null(cim.TypeUint16), cim.NewUint16(65535)})
	if err != nil {
		t.Fatal(err)
	}
	return []cim.Value{
		{}, cim.Null(cim.TypeString), cim.NullArray(cim.TypeDatetime),
		cim.NewBoolean(true), cim.NewBoolean(false),
		cim.NewString(""), cim.NewString("héllo \x01 wörld"),
		cim.NewChar16(0x263a),
		cim.NewUint8(255), cim.NewSint8(-128), cim.NewUint16(65535), cim.NewSint16(-32768),
		cim.NewUint32(math.MaxUint32), cim.NewSint32(math.MinInt32),
		cim.NewUint64(math.MaxUint64), cim.NewSint64(math.MinInt64),
		cim.NewReal32(-1.5e-7), cim.NewReal64(math.Pi), cim.NewReal64(math.Inf(-1)), cim.NewReal64(math.NaN()),
		cim.NewDatetime(ts), cim.NewDatetime(iv),
		cim.NewReference(ref), cim.NewReference(nested), cim.NewReference(cim.NewClassPath("", "T_Class")),
		cim.NewEmbeddedInstance(embedded), cim.NewEmbeddedClass(embeddedClass),
		cim.NewBooleanArray([]bool{true, false}), cim.NewStringArray([]string{}), cim.NewStringArray([]string{"x", ""}),
		cim.NewChar16Array([]uint16{'a', 0}), cim.NewUint8Array([]uint8{0, 1, 255}), cim.NewSint8Array([]int8{-1, 1}),
		cim.NewUint16Array([]uint16{1}), cim.NewSint16Array([]int16{-1}), cim.NewUint32Array([]uint32{1 << 31}),
		cim.NewSint32Array([]int32{-1 << 31}), cim.NewUint64Array([]uint64{1 << 63}), cim.NewSint64Array([]int64{-1 << 63}),
		cim.NewReal32Array([]float32{1.25, -0}), cim.NewReal64Array([]float64{1e300}),
		cim.NewDatetimeArray([]cim.Datetime{ts, iv}), withNulls,
		cim.NewReferenceArray([]*cim.ObjectPath{ref, nil}),
		cim.NewEmbeddedInstanceArray([]*cim.Instance{embedded, nil}),
		cim.NewEmbeddedClassArray([]*cim.Class{embeddedClass}),
	}
}

func TestValueRoundTrip(t *testing.T) {
	for _, v := range sampleValues(t) {
		var e encoder
		e.value(v)
		d := newDecoder(e.buf)
		got := d.value()
		if err := d.done(); err != nil {
			t.Errorf("%#v: %v", v, err)
			continue
		}
		if !got.Equal(v) || got.Embedded() != v.Embedded() || got.Type() != v.Type() {
			t.Errorf("value %#v came back as %#v", v, got)
		}
		// The encoding is deterministic: it is how the store compares.
		var again encoder
		again.value(got)
		if !bytes.Equal(again.buf, e.buf) {
			t.Errorf("%#v: re-encoding differs", v)
		}
	}
}

func sampleClass(t testing.TB) *cim.Class {
	c := cim.NewClass("T_Sample", "T_Base")
	c.Qualifiers = cim.Qualifiers{
		{Name: "Description", Value: cim.NewString("a class"), Flavor: cim.FlavorTranslatable | cim.FlavorEnableOverride},
		{Name: "Version", Value: cim.NewString("1"), Propagated: true, Flavor: cim.FlavorRestricted},
	}
	props := []cim.Property{
		{Name: "Name", Type: cim.TypeString, Value: cim.Null(cim.TypeString), ClassOrigin: "T_Base", Propagated: true,
			Qualifiers: cim.Qualifiers{{Name: "Key", Value: cim.NewBoolean(true), Flavor: cim.FlavorDisableOverride}}},
		{Name: "Data", Type: cim.TypeUint8, IsArray: true, ArraySize: 16, Value: cim.NewUint8Array([]uint8{1, 2})},
		{Name: "Owner", Type: cim.TypeReference, ReferenceClass: "T_Base", Value: cim.Null(cim.TypeReference)},
		{Name: "Settings", Type: cim.TypeString, Embedded: cim.EmbeddedInstance, Value: cim.Null(cim.TypeString),
			Qualifiers: cim.Qualifiers{{Name: "EmbeddedInstance", Value: cim.NewString("T_Setting")}}},
	}
	for _, p := range props {
		if err := c.AddProperty(p); err != nil {
			t.Fatal(err)
		}
	}
	m := cim.Method{Name: "Start", ReturnType: cim.TypeUint32, ClassOrigin: "T_Sample",
		Qualifiers: cim.Qualifiers{{Name: "ValueMap", Value: cim.NewStringArray([]string{"0", "1"})}},
		Parameters: []cim.Parameter{
			{Name: "Timeout", Type: cim.TypeDatetime, Qualifiers: cim.Qualifiers{{Name: "In", Value: cim.NewBoolean(true)}}},
			{Name: "Job", Type: cim.TypeReference, ReferenceClass: "T_Job", Qualifiers: cim.Qualifiers{{Name: "Out", Value: cim.NewBoolean(true)}}},
			{Name: "Blobs", Type: cim.TypeString, IsArray: true, ArraySize: 2, Embedded: cim.EmbeddedObject},
		}}
	if err := c.AddMethod(m); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClassRoundTrip(t *testing.T) {
	c := sampleClass(t)
	rec := encodeClass(c)
	got, err := decodeClass(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encodeClass(got), rec) || !got.Equal(c) {
		t.Fatalf("class came back different:\n%s\n---\n%s", c, got)
	}
	p := got.Property("Name")
	if p.ClassOrigin != "T_Base" || !p.Propagated || got.Qualifiers[1].Flavor != cim.FlavorRestricted || !got.Qualifiers[1].Propagated {
		t.Errorf("details lost: %#v %#v", p, got.Qualifiers)
	}
	name, super, err := decodeClassHeader(rec)
	if err != nil || name != "T_Sample" || super != "T_Base" {
		t.Errorf("header: %q %q %v", name, super, err)
	}

	// The declared form drops what resolution recomputes: propagated
	// qualifiers, inherited elements, ClassOrigin.
	base := cim.NewClass("T_Base", "")
	base.AddProperty(cim.Property{Name: "Name", Type: cim.TypeString})
	decl, err := decodeClass(encodeDeclaredClass(c, base))
	if err != nil {
		t.Fatal(err)
	}
	if decl.Property("Name") != nil || len(decl.Qualifiers) != 1 || decl.Property("Data").ClassOrigin != "" || decl.Method("Start").ClassOrigin != "" {
		t.Errorf("declared form keeps inherited details:\n%#v", decl)
	}
}

func TestQualifierTypeRoundTrip(t *testing.T) {
	for _, qt := range []*cim.QualifierType{
		{Name: "Key", Type: cim.TypeBoolean, Default: cim.NewBoolean(false), Scopes: cim.ScopeProperty | cim.ScopeReference, Flavor: cim.FlavorDisableOverride | cim.FlavorToSubclass},
		{Name: "ValueMap", Type: cim.TypeString, IsArray: true, Default: cim.NullArray(cim.TypeString), Scopes: cim.ScopeAny},
		{Name: "MaxLen", Type: cim.TypeUint32, Scopes: cim.ScopeProperty, Flavor: cim.FlavorTranslatable},
		{Name: "Fixed", Type: cim.TypeSint8, IsArray: true, ArraySize: 3, Default: cim.NewSint8Array([]int8{1, 2, 3}), Scopes: cim.ScopeClass},
	} {
		got, err := decodeQualifierType(encodeQualifierType(qt))
		if err != nil || !got.Equal(qt) || got.Flavor != qt.Flavor {
			t.Errorf("%v came back as %v (%v)", qt, got, err)
		}
	}
}

func TestInstanceRecordRoundTrip(t *testing.T) {
	cls := cim.NewClass("T_All", "")
	values := sampleValues(t)
	inst := cim.NewInstance("T_All")
	for i, v := range values {
		name := "P" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		typ := v.Type()
		if typ == cim.TypeInvalid {
			typ = cim.TypeString
		}
		cls.AddProperty(cim.Property{Name: name, Type: typ, IsArray: v.IsArray(), Embedded: v.Embedded()})
		inst.AddProperty(cim.Property{Name: name, Type: typ, IsArray: v.IsArray(), Value: v, Embedded: v.Embedded()})
	}
	inst.Qualifiers = cim.Qualifiers{{Name: "Description", Value: cim.NewString("deprecated, kept")}}
	rec := encodeInstanceRecord(inst)
	got, err := decodeInstanceRecord(rec, cls)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(inst) {
		t.Fatalf("instance came back different:\n%s\n---\n%s", inst, got)
	}
	// Decoding against a class that gained a property (in the middle)
	// matches the others by name and leaves the new one at its default.
	grown := cim.NewClass("T_All", "")
	for i, p := range cls.Properties() {
		if i == 3 {
			grown.AddProperty(cim.Property{Name: "Added", Type: cim.TypeUint16, Value: cim.NewUint16(9)})
		}
		grown.AddProperty(p)
	}
	got, err = decodeInstanceRecord(rec, grown)
	if err != nil {
		t.Fatal(err)
	}
	if got.Get("Added").Uint16() != 9 || !got.Get("Pab").Equal(inst.Get("Pab")) {
		t.Errorf("decoding against a changed class: %s", got)
	}
}

// FuzzDecode feeds damaged records to every decoder: they must fail
// cleanly, never panic or allocate without bound.
func FuzzDecode(f *testing.F) {
	f.Add(encodeClass(sampleClass(f)))
	f.Add(encodeQualifierType(&cim.QualifierType{Name: "Key", Type: cim.TypeBoolean, Scopes: cim.ScopeProperty}))
	inst := cim.NewInstance("T")
	for _, v := range sampleValues(f) {
		inst.Set("P"+v.Type().String(), v)
	}
	f.Add(encodeInstanceRecord(inst))
	f.Add([]byte{formatVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	cls := cim.NewClass("T", "")
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeClass(data)
		decodeClassHeader(data)
		decodeQualifierType(data)
		decodeInstanceRecord(data, cls)
	})
}
