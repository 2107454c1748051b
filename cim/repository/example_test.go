package repository_test

import (
	"fmt"
	"log"
	"os"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/mof"
)

// The classes of the examples, compiled with the MOF compiler.
const exampleMOF = `
Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride);
Qualifier Association : boolean = false, Scope(association), Flavor(DisableOverride);

class EX_System { [Key] string Name; uint16 EnabledState = 5; };
class EX_Disk { [Key] string DeviceID; uint64 Size; };
[Association] class EX_SystemDevice {
	[Key] EX_System REF GroupComponent;
	[Key] EX_Disk REF PartComponent;
};
`

func Example() {
	dir, _ := os.MkdirTemp("", "repository-example")
	defer os.RemoveAll(dir)
	repo, err := repository.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()

	// Compile the classes into root/example, in one transaction.
	w := repo.NewBulkWriter()
	if _, err := (&mof.Compiler{Target: w, Namespace: "root/example"}).CompileSource("example.mof", []byte(exampleMOF)); err != nil {
		log.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		log.Fatal(err)
	}

	// Create instances: values are converted to the declared types, and
	// missing properties take the class defaults.
	sys := cim.NewInstance("EX_System")
	sys.Set("Name", cim.NewString("host1"))
	sysPath, _ := repo.CreateInstance("root/example", sys)
	for _, id := range []string{"sda", "sdb"} {
		d := cim.NewInstance("EX_Disk")
		d.Set("DeviceID", cim.NewString(id))
		d.Set("Size", cim.NewUint32(1<<30))
		diskPath, _ := repo.CreateInstance("root/example", d)
		link := cim.NewInstance("EX_SystemDevice")
		link.Set("GroupComponent", cim.NewReference(sysPath))
		link.Set("PartComponent", cim.NewReference(diskPath))
		if _, err := repo.CreateInstance("root/example", link); err != nil {
			log.Fatal(err)
		}
	}
	_, err = repo.CreateInstance("root/example", sys)
	fmt.Println(cim.StatusOf(err))

	// Enumerate, streamed.
	repo.EnumerateInstances("root/example", "EX_System", true, func(inst *cim.Instance) error {
		fmt.Println(inst.Path, inst.Get("EnabledState"))
		return nil
	})

	// Follow the association from the system to its disks.
	repo.Associators("root/example", sysPath, repository.AssociatorFilter{ResultClass: "EX_Disk"},
		func(p *cim.ObjectPath, inst *cim.Instance) error {
			fmt.Println(p.ModelPath(), inst.Get("Size"))
			return nil
		})

	fmt.Println(repo.Check())
	// Output:
	// CIM_ERR_ALREADY_EXISTS
	// /root/example:EX_System.Name="host1" 5
	// EX_Disk.DeviceID="sda" 1073741824
	// EX_Disk.DeviceID="sdb" 1073741824
	// <nil>
}

func ExampleRepository_GetClass() {
	dir, _ := os.MkdirTemp("", "repository-example")
	defer os.RemoveAll(dir)
	repo, _ := repository.Open(dir, nil)
	defer repo.Close()
	repo.CreateNamespace("root/example")
	repo.SetQualifier("root/example", &cim.QualifierType{Name: "Key", Type: cim.TypeBoolean,
		Scopes: cim.ScopeProperty | cim.ScopeReference, Flavor: cim.FlavorDisableOverride})

	base := cim.NewClass("EX_Base", "")
	base.AddProperty(cim.Property{Name: "ID", Type: cim.TypeString,
		Qualifiers: cim.Qualifiers{{Name: "Key", Value: cim.NewBoolean(true)}}})
	sub := cim.NewClass("EX_Sub", "EX_Base")
	sub.AddProperty(cim.Property{Name: "Extra", Type: cim.TypeUint8})
	fmt.Println(repo.CreateClass("root/example", base), repo.CreateClass("root/example", sub))
	fmt.Println(cim.StatusOf(repo.CreateClass("root/example", cim.NewClass("EX_Orphan", "EX_Nope"))))

	c, _ := repo.GetClass("root/example", "ex_sub")
	for _, p := range c.Properties() {
		fmt.Println(p.Name, p.ClassOrigin, p.IsKey())
	}
	fmt.Println(cim.StatusOf(repo.DeleteClass("root/example", "EX_Base", false)))
	// Output:
	// <nil> <nil>
	// CIM_ERR_INVALID_SUPERCLASS
	// ID EX_Base true
	// Extra EX_Sub false
	// CIM_ERR_CLASS_HAS_CHILDREN
}
