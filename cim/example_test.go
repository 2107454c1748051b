package cim_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/hypercim/hypercim/cim"
)

func Example_values() {
	v := cim.NewUint16(2)
	fmt.Println(v.Type(), v.Uint16(), v)

	a := cim.NewStringArray([]string{"a", `say "hi"`})
	fmt.Println(a.Len(), a)

	p, err := cim.ParseValue(cim.TypeSint32, " -0x10 ")
	fmt.Println(p.Sint32(), err)

	_, err = cim.ParseValue(cim.TypeUint8, "300")
	fmt.Println(err)

	r, _ := cim.ValueOfType(cim.TypeReal32, false, 1.5)
	fmt.Println(r.Text(), cim.Null(cim.TypeBoolean))
	// Output:
	// uint16 2 2
	// 2 {"a", "say \"hi\""}
	// -16 <nil>
	// CIM_ERR_INVALID_PARAMETER: value 300 out of range for uint8 (0..255)
	// 1.5 NULL
}

func ExampleParseDatetime() {
	ts, _ := cim.ParseDatetime("20240131235959.123456-300")
	fmt.Println(ts.IsTimestamp(), ts.Time().UTC())

	iv, _ := cim.ParseDatetime("00000001120032.000000:000")
	d, _ := iv.Duration()
	fmt.Println(iv.IsInterval(), d)

	// Millisecond precision: the last three digits are not significant.
	ms, _ := cim.ParseDatetime("20240131235959.123***+060")
	fmt.Println(ms.Precision(), ms)

	_, err := cim.ParseDatetime("20240230000000.000000+000")
	fmt.Println(err)

	now, _ := cim.TimestampOf(time.Date(2024, 5, 10, 11, 30, 45, 0, time.FixedZone("PDT", -7*3600)))
	fmt.Println(now)
	// Output:
	// true 2024-02-01 04:59:59.123456 +0000 UTC
	// true 36h0m32s
	// 18 20240131235959.123***+060
	// CIM_ERR_INVALID_PARAMETER: invalid datetime "20240230000000.000000+000": day 30 out of range 1..29
	// 20240510113045.000000-420
}

func ExampleParseObjectPath() {
	p, _ := cim.ParseObjectPath(`http://srv:5988/root/cimv2:CIM_Foo.Name="a \"b\"",Id=5`)
	fmt.Println(p.Host, p.Namespace, p.ClassName, len(p.Keys))
	fmt.Println(p)
	fmt.Println(p.Canonical())

	q, _ := cim.ParseObjectPath(`/ROOT/CIMv2:cim_foo.ID=5,name="a \"b\""`)
	fmt.Println(q.Equal(p.WithNamespace("", "root/cimv2")))

	_, err := cim.ParseObjectPath(`CIM_Foo.Name="unterminated`)
	fmt.Println(err)
	// Output:
	// srv:5988 root/cimv2 CIM_Foo 2
	// //srv:5988/root/cimv2:CIM_Foo.Name="a \"b\"",Id=5
	// //srv:5988/root/cimv2:cim_foo.id=5,name="a \"b\""
	// true
	// CIM_ERR_INVALID_PARAMETER: invalid object path "CIM_Foo.Name=\"unterminated": unterminated quoted value at offset 13
}

func ExampleResolveClass() {
	quals := cim.QualifierTypes{}
	for _, qt := range []*cim.QualifierType{
		{Name: "Key", Type: cim.TypeBoolean, Default: cim.NewBoolean(false),
			Scopes: cim.ScopeProperty | cim.ScopeReference, Flavor: cim.FlavorDisableOverride | cim.FlavorToSubclass},
		{Name: "Override", Type: cim.TypeString, Scopes: cim.ScopeProperty | cim.ScopeReference | cim.ScopeMethod,
			Flavor: cim.FlavorRestricted},
		{Name: "Description", Type: cim.TypeString, Scopes: cim.ScopeAny, Flavor: cim.FlavorTranslatable},
	} {
		if err := quals.Add(qt); err != nil {
			fmt.Println(err)
		}
	}
	opts := cim.ResolveOptions{QualifierType: quals.Get}

	base := cim.NewClass("HC_Base", "")
	base.AddProperty(cim.Property{Name: "InstanceID", Type: cim.TypeString,
		Qualifiers: cim.Qualifiers{{Name: "Key", Value: cim.NewBoolean(true)}}})
	base.AddProperty(cim.Property{Name: "Caption", Type: cim.TypeString})
	rbase, err := cim.ResolveClass(base, nil, opts)
	fmt.Println(err)

	sub := cim.NewClass("HC_Sub", "HC_Base")
	sub.AddProperty(cim.Property{Name: "Caption", Type: cim.TypeString, Value: cim.NewString("sub"),
		Qualifiers: cim.Qualifiers{{Name: "Override", Value: cim.NewString("Caption")}}})
	rsub, err := cim.ResolveClass(sub, rbase, opts)
	fmt.Println(err)
	for _, p := range rsub.Properties() {
		fmt.Println(p.Name, p.ClassOrigin, p.Propagated, p.IsKey())
	}
	// Given the qualifier declarations, MOFFormat leaves out the flavors
	// that only repeat them (String, which has none, writes them all).
	text, _ := cim.MOFFormat{QualifierType: quals.Get}.AppendClass(nil, rsub)
	fmt.Print(string(text))

	// Keys cannot be dropped: Key has the DisableOverride flavor.
	bad := cim.NewClass("HC_Bad", "HC_Base")
	bad.AddProperty(cim.Property{Name: "InstanceID", Type: cim.TypeString, Qualifiers: cim.Qualifiers{
		{Name: "Override", Value: cim.NewString("InstanceID")}, {Name: "Key", Value: cim.NewBoolean(false)}}})
	_, err = cim.ResolveClass(bad, rbase, opts)
	fmt.Println(errors.Is(err, cim.ErrInvalidParameter), err)
	// Output:
	// <nil>
	// <nil>
	// InstanceID HC_Base true true
	// Caption HC_Sub false false
	// class HC_Sub : HC_Base {
	//     [Override("Caption")]
	//     string Caption = "sub";
	// };
	// true CIM_ERR_INVALID_PARAMETER: class HC_Bad: property InstanceID: qualifier Key has flavor DisableOverride and cannot be changed from true to false
}

func ExampleClass_NewInstance() {
	c := cim.NewClass("HC_VM", "")
	c.AddProperty(cim.Property{Name: "Name", Type: cim.TypeString,
		Qualifiers: cim.Qualifiers{{Name: "Key", Value: cim.NewBoolean(true)}}})
	c.AddProperty(cim.Property{Name: "EnabledState", Type: cim.TypeUint16, Value: cim.NewUint16(5)})
	class, _ := cim.ResolveClass(c, nil, cim.ResolveOptions{})

	inst := class.NewInstance()
	inst.Set("name", cim.NewString("vm1")) // names are case-insensitive
	if err := inst.Assign("EnabledState", 2); err != nil {
		fmt.Println(err)
	}
	fmt.Println(inst.Assign("EnabledState", -1))
	path, _ := class.InstancePath("root/virt", inst)
	fmt.Println(path)
	fmt.Print(inst)
	// Output:
	// CIM_ERR_TYPE_MISMATCH: property EnabledState: value -1 out of range for uint16 (0..65535)
	// /root/virt:HC_VM.Name="vm1"
	// instance of HC_VM {
	//     Name = "vm1";
	//     EnabledState = 2;
	// };
}

func ExampleValueMap() {
	vm, _ := cim.NewValueMap(cim.TypeUint16,
		[]string{"0", "2", "3", "4..32767", "0x8000..", ".."},
		[]string{"Unknown", "Enabled", "Disabled", "DMTF Reserved", "Vendor Reserved", "Other"})
	for _, n := range []uint16{2, 100, 40000, 1} {
		text, _ := vm.Lookup(cim.NewUint16(n))
		fmt.Println(n, text)
	}
	v, ok := vm.ValueOf("disabled")
	fmt.Println(v, ok)
	// Output:
	// 2 Enabled
	// 100 DMTF Reserved
	// 40000 Vendor Reserved
	// 1 Other
	// 3 true
}

func ExampleError() {
	err := fmt.Errorf("get instance: %w", cim.Errorf(cim.ErrNotFound, "no VM %q", "vm9"))
	fmt.Println(errors.Is(err, cim.ErrNotFound), cim.StatusOf(err), int(cim.StatusOf(err)))
	var ce *cim.Error
	if errors.As(err, &ce) {
		fmt.Println(ce.Description)
	}
	fmt.Println(cim.StatusOf(errors.New("disk on fire")))
	// Output:
	// true CIM_ERR_NOT_FOUND 6
	// no VM "vm9"
	// CIM_ERR_FAILED
}
