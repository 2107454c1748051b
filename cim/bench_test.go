package cim

import (
	"fmt"
	"testing"
)

// Benchmarks of the hot paths: property lookup, instance building and
// filtering (done per instance when enumerating), path canonicalization and
// parsing (done per request and per association hop), value parsing and
// formatting (done per property by the protocol adapters).

func benchClass(b *testing.B, n int) *Class {
	c := NewClass("HC_Bench", "")
	for i := 0; i < n; i++ {
		p := Property{Name: fmt.Sprintf("SomeProperty%02d", i), Type: TypeUint32}
		if i < 2 {
			p.Qualifiers = Qualifiers{qKey}
		}
		c.AddProperty(p)
	}
	r, err := ResolveClass(c, nil, ResolveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkClassPropertyLookup(b *testing.B) {
	c := benchClass(b, 50)
	names := []string{"SomeProperty07", "someproperty31", "SOMEPROPERTY49"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if c.Property(names[i%3]) == nil {
			b.Fatal("missing")
		}
	}
}

func BenchmarkInstanceGetIndexed(b *testing.B) {
	inst := benchClass(b, 50).NewInstance()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = inst.Get("someproperty31")
	}
}

func BenchmarkInstanceGetLinear(b *testing.B) {
	inst := NewInstance("HC_Bench")
	for i := 0; i < 30; i++ {
		inst.Set(fmt.Sprintf("SomeProperty%02d", i), NewUint32(uint32(i)))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = inst.Get("someproperty15") // middle of 30: the average linear case
	}
}

func BenchmarkNewInstanceAndSet(b *testing.B) {
	c := benchClass(b, 30)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inst := c.NewInstance()
		inst.Set("SomeProperty00", NewUint32(1))
		inst.Set("SomeProperty01", NewUint32(2))
		inst.Set("SomeProperty20", NewUint32(3))
	}
}

func BenchmarkFilterInstanceDefault(b *testing.B) {
	c := benchClass(b, 30)
	inst := c.NewInstance()
	f := InstanceFilter{DeepInheritance: true, RequestedClass: c}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		FilterInstance(inst, c, f)
	}
}

func BenchmarkFilterInstancePropertyList(b *testing.B) {
	c := benchClass(b, 30)
	inst := c.NewInstance()
	f := InstanceFilter{DeepInheritance: true, RequestedClass: c, PropertyList: []string{"SomeProperty01", "SomeProperty10"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		FilterInstance(inst, c, f)
	}
}

func BenchmarkInstancePath(b *testing.B) {
	c := benchClass(b, 30)
	inst := c.NewInstance()
	inst.Set("SomeProperty00", NewUint32(1))
	inst.Set("SomeProperty01", NewUint32(2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.InstancePath("root/virt", inst); err != nil {
			b.Fatal(err)
		}
	}
}

var benchPath = &ObjectPath{Namespace: "root/virt", ClassName: "HC_ComputerSystem", Keys: []KeyBinding{
	{"Name", NewString("6f1c9d2e-8a4b-4c1d-9e2f-3a4b5c6d7e8f")},
	{"CreationClassName", NewString("HC_ComputerSystem")},
}}

func BenchmarkPathCanonical(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = benchPath.Canonical()
	}
}

func BenchmarkPathAppendCanonical(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = benchPath.AppendCanonical(buf[:0])
	}
}

func BenchmarkPathEqual(b *testing.B) {
	other := benchPath.Clone()
	other.Keys[0], other.Keys[1] = other.Keys[1], other.Keys[0]
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !benchPath.Equal(other) {
			b.Fatal("unequal")
		}
	}
}

func BenchmarkParseObjectPath(b *testing.B) {
	s := `//srv:5989/root/virt:HC_ComputerSystem.CreationClassName="HC_ComputerSystem",Name="6f1c9d2e-8a4b-4c1d-9e2f-3a4b5c6d7e8f"`
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseObjectPath(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseObjectPathReference(b *testing.B) {
	s := `HC_SystemDevice.GroupComponent="/root/virt:HC_ComputerSystem.CreationClassName=\"HC_ComputerSystem\",Name=\"vm1\"",PartComponent="/root/virt:HC_LogicalDisk.DeviceID=\"disk0\",SystemName=\"vm1\""`
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseObjectPath(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPathString(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = benchPath.String()
	}
}

func BenchmarkParseValue(b *testing.B) {
	cases := []struct {
		t Type
		s string
	}{
		{TypeUint32, "4294967295"},
		{TypeSint64, "-1234567890123"},
		{TypeBoolean, "TRUE"},
		{TypeReal64, "3.14159265358979"},
		{TypeDatetime, "20240131235959.123456-300"},
		{TypeString, "a string value"},
	}
	for _, c := range cases {
		b.Run(c.t.String(), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := ParseValue(c.t, c.s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendText(b *testing.B) {
	values := []Value{NewUint32(4294967295), NewReal64(3.14159265358979), NewBoolean(true),
		NewDatetime(mustDT("20240131235959.123456-300")), NewString("a string value")}
	buf := make([]byte, 0, 64)
	for _, v := range values {
		b.Run(v.Type().String(), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf = v.AppendText(buf[:0])
			}
		})
	}
}

func BenchmarkResolveClass(b *testing.B) {
	quals := dmtfQualifiers(b)
	opts := ResolveOptions{QualifierType: quals.Get}
	base := NewClass("T_Base", "")
	for i := 0; i < 20; i++ {
		base.AddProperty(Property{Name: fmt.Sprintf("P%d", i), Type: TypeString, Qualifiers: Qualifiers{qDesc("a property")}})
	}
	rbase, err := ResolveClass(base, nil, opts)
	if err != nil {
		b.Fatal(err)
	}
	sub := NewClass("T_Sub", "T_Base")
	for i := 0; i < 10; i++ {
		sub.AddProperty(Property{Name: fmt.Sprintf("S%d", i), Type: TypeUint16, Qualifiers: Qualifiers{qDesc("more")}})
	}
	sub.AddProperty(Property{Name: "P3", Type: TypeString, Qualifiers: Qualifiers{qOverride("P3")}})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ResolveClass(sub, rbase, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// Building a large class property by property (as decoders and the MOF
// compiler do) must stay linear.
func BenchmarkClassBuild100(b *testing.B) {
	props := make([]Property, 100)
	for i := range props {
		props[i] = Property{Name: fmt.Sprintf("SomeProperty%03d", i), Type: TypeString}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c := NewClass("HC_Big", "")
		for _, p := range props {
			if err := c.AddProperty(p); err != nil {
				b.Fatal(err)
			}
		}
	}
}
