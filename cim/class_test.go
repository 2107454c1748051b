package cim

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func bigClass(n int) *Class {
	c := NewClass("HC_Big", "")
	for i := 0; i < n; i++ {
		p := Property{Name: fmt.Sprintf("Property%02d", i), Type: TypeUint32}
		if i == 0 {
			p.Qualifiers = Qualifiers{qKey}
		}
		c.AddProperty(p)
	}
	return c
}

func TestClassPropertyAccess(t *testing.T) {
	c := bigClass(40)
	if c.Property("PROPERTY17") == nil || c.Property("property17").Name != "Property17" || c.Property("Nope") != nil {
		t.Fatal("case-insensitive lookup")
	}
	if err := c.AddProperty(Property{Name: "property05", Type: TypeString}); err == nil {
		t.Error("duplicate property accepted")
	}
	c.SetProperty(Property{Name: "PROPERTY05", Type: TypeString})
	if c.Property("Property05").Type != TypeString || len(c.Properties()) != 40 {
		t.Error("SetProperty must replace")
	}
	if !c.RemoveProperty("property10") || c.RemoveProperty("property10") || c.HasProperty("Property10") {
		t.Error("RemoveProperty")
	}
	// The index must follow removals: every remaining property is found at
	// its new position.
	for i, p := range c.Properties() {
		if got := c.propIndex(strings.ToUpper(p.Name)); got != i {
			t.Errorf("%s at %d, lookup says %d", p.Name, i, got)
		}
	}
	c.AddProperty(Property{Name: "Late", Type: TypeBoolean})
	if c.Property("LATE") == nil {
		t.Error("property added after indexing not found")
	}
	if err := c.AddMethod(Method{Name: "Go", ReturnType: TypeUint32}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddMethod(Method{Name: "GO"}); err == nil {
		t.Error("duplicate method accepted")
	}
	if c.Method("go") == nil || !c.RemoveMethod("GO") || c.Method("go") != nil {
		t.Error("methods")
	}
	c.SetMethod(Method{Name: "M", ReturnType: TypeUint8})
	c.SetMethod(Method{Name: "m", ReturnType: TypeUint16})
	if len(c.Methods()) != 1 || c.Method("M").ReturnType != TypeUint16 {
		t.Error("SetMethod")
	}
}

func TestClassConcurrentReads(t *testing.T) {
	c := bigClass(64)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				name := fmt.Sprintf("property%02d", (i+g)%64)
				if c.Property(name) == nil {
					t.Errorf("%s not found", name)
					return
				}
				c.NewInstance().Set(name, NewUint32(1))
			}
		}(g)
	}
	wg.Wait()
}

func TestClassCloneAndEqual(t *testing.T) {
	c := class("T_A", "T_Base", Qualifiers{qDesc("d")},
		Property{Name: "A", Type: TypeUint8, Value: NewUint8(1), Qualifiers: Qualifiers{qKey}},
		Property{Name: "B", Type: TypeString, IsArray: true})
	c.AddMethod(Method{Name: "M", ReturnType: TypeUint32, Parameters: []Parameter{{Name: "P", Type: TypeString}}})
	d := c.Clone()
	if !c.Equal(d) {
		t.Fatal("clone not equal")
	}
	d.Property("A").Qualifiers[0].Value = NewBoolean(false)
	d.Method("M").Parameters[0].Type = TypeUint8
	if !c.Property("A").IsKey() || c.Method("M").Parameters[0].Type != TypeString {
		t.Error("Clone must be deep")
	}
	if c.Equal(d) {
		t.Error("changed clone still equal")
	}
	// Property order does not matter; names compare case-insensitively.
	e := class("t_a", "t_base", Qualifiers{qDesc("d")},
		Property{Name: "b", Type: TypeString, IsArray: true},
		Property{Name: "a", Type: TypeUint8, Value: NewUint8(1), Qualifiers: Qualifiers{qKey}})
	e.AddMethod(Method{Name: "m", ReturnType: TypeUint32, Parameters: []Parameter{{Name: "p", Type: TypeString}}})
	if !c.Equal(e) {
		t.Error("order or case made classes unequal")
	}
	if (*Class)(nil).Clone() != nil || !(*Class)(nil).Equal(nil) || c.Equal(nil) {
		t.Error("nil handling")
	}
}

func TestClassMOF(t *testing.T) {
	c := class("HC_Disk", "CIM_LogicalDevice", Qualifiers{qDesc("A \"disk\".")},
		Property{Name: "DeviceID", Type: TypeString, Qualifiers: Qualifiers{qKey, qOverride("DeviceID")}},
		Property{Name: "Sizes", Type: TypeUint64, IsArray: true, Value: NewUint64Array([]uint64{1, 2})},
		Property{Name: "Raw", Type: TypeUint8, IsArray: true, ArraySize: 16},
		Property{Name: "Inherited", Type: TypeString, Propagated: true},
		NewReferenceProperty("Owner", "CIM_System"),
		Property{Name: "Settings", Type: TypeString, Qualifiers: Qualifiers{q("EmbeddedInstance", NewString("CIM_SettingData"))}})
	c.Qualifiers = append(c.Qualifiers, Qualifier{Name: "Version", Value: NewString("1"), Propagated: true})
	c.AddMethod(Method{Name: "Resize", ReturnType: TypeUint32, Qualifiers: Qualifiers{q("ValueMap", NewStringArray([]string{"0", "1"}))},
		Parameters: []Parameter{
			{Name: "Size", Type: TypeUint64, Qualifiers: Qualifiers{q("In", NewBoolean(true))}},
			{Name: "Job", Type: TypeReference, ReferenceClass: "CIM_ConcreteJob", Qualifiers: Qualifiers{q("In", NewBoolean(false)), q("Out", NewBoolean(true))}},
			{Name: "Tags", Type: TypeString, IsArray: true},
		}})
	c.AddMethod(Method{Name: "Old", ReturnType: TypeUint8, Propagated: true})
	want := `[Description("A \"disk\".")]
class HC_Disk : CIM_LogicalDevice {
    [Key, Override("DeviceID")]
    string DeviceID;

    uint64 Sizes[] = {1, 2};

    uint8 Raw[16];

    CIM_System REF Owner;

    [EmbeddedInstance("CIM_SettingData")]
    string Settings;

    [ValueMap{"0", "1"}]
    uint32 Resize(
        [In] uint64 Size,
        [In(false), Out] CIM_ConcreteJob REF Job,
        string Tags[]);
};
`
	if got := c.String(); got != want {
		t.Errorf("MOF:\n%s\nwant:\n%s", got, want)
	}
	if got := c.GoString(); got != `&cim.Class{Name: "HC_Disk", SuperClass: "CIM_LogicalDevice", Properties: [DeviceID, Sizes, Raw, Inherited, Owner, Settings], Methods: [Resize, Old]}` {
		t.Errorf("GoString: %s", got)
	}
	if p := c.Property("Settings"); p.EmbeddedKind() != EmbeddedInstance || p.EmbeddedClassName() != "CIM_SettingData" {
		t.Error("EmbeddedInstance qualifier")
	}
	if got := c.Property("DeviceID").String(); got != "[Key, Override(\"DeviceID\")]\nstring DeviceID;" {
		t.Errorf("property MOF %q", got)
	}
}

func TestEmbeddedKindSources(t *testing.T) {
	p := Property{Name: "E", Type: TypeString, Qualifiers: Qualifiers{q("EmbeddedObject", NewBoolean(true))}}
	if p.EmbeddedKind() != EmbeddedObject {
		t.Error("EmbeddedObject qualifier")
	}
	p = Property{Name: "E", Type: TypeString, Embedded: EmbeddedInstance}
	if p.EmbeddedKind() != EmbeddedInstance {
		t.Error("CIM-XML attribute")
	}
	p = NewProperty("E", NewEmbeddedInstance(NewInstance("X")))
	if p.EmbeddedKind() != EmbeddedInstance || p.Type != TypeString {
		t.Error("value payload")
	}
	m := Method{Name: "M", ReturnType: TypeString, Qualifiers: Qualifiers{q("EmbeddedInstance", NewString("X"))}}
	if m.ReturnEmbeddedKind() != EmbeddedInstance {
		t.Error("method return")
	}
	par := Parameter{Name: "P", Type: TypeString, Qualifiers: Qualifiers{q("EmbeddedObject", NewBoolean(true))}}
	if par.EmbeddedKind() != EmbeddedObject {
		t.Error("parameter")
	}
}
