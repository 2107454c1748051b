package mof_test

import (
	"fmt"
	"os"

	"github.com/hypercim/hypercim/mof"
)

func ExampleCompiler() {
	src := `
Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);
Qualifier Description : string = null, Scope(any), Flavor(Translatable);

[Description("A virtual machine.")]
class HC_VM {
    [Key] string Name;
    uint16 State = 2;
};

instance of HC_VM { Name = "vm1"; };
`
	target := mof.NewMemTarget(nil)
	c := &mof.Compiler{Target: target, Namespace: "root/virt"}
	res, err := c.CompileSource("vm.mof", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.QualifierTypes, "qualifier types,", res.Classes, "class,", res.Instances, "instance")
	vm := target.Instances("root/virt")[0]
	fmt.Println(vm.Path, vm.Get("State"))
	// Output:
	// 2 qualifier types, 1 class, 1 instance
	// HC_VM.Name="vm1" 2
}

func ExampleErrorList() {
	src := `class HC_Broken : HC_Nowhere {
    uint8 Small = 300;
};`
	c := &mof.Compiler{Target: mof.NewMemTarget(nil)}
	_, err := c.CompileSource("broken.mof", []byte(src))
	for _, e := range err.(mof.ErrorList) {
		fmt.Println(e)
	}
	// Output:
	// broken.mof:1:19: class HC_Broken: unknown superclass HC_Nowhere
	// broken.mof:2:19: class HC_Broken: property Small: value 300 is out of range for uint8 (0..255)
}

func ExampleWriteTarget() {
	target := mof.NewMemTarget(nil)
	c := &mof.Compiler{Target: target}
	_, err := c.CompileSource("t.mof", []byte(`
Qualifier Key : boolean = false, Scope(property), Flavor(DisableOverride, ToSubclass);
class HC_T { [Key] string Id; string Tags[] = {"a", "b"}; };`))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := mof.WriteTarget(os.Stdout, target); err != nil {
		fmt.Println(err)
	}
	// Output:
	// Qualifier Key : boolean = false,
	//     Scope(property),
	//     Flavor(DisableOverride, ToSubclass);
	//
	// class HC_T {
	//     [Key]
	//     string Id;
	//
	//     string Tags[] = {"a", "b"};
	// };
}
