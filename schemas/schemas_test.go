package schemas

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/mof"
)

// load parses one embedded file and everything it includes.
func load(t *testing.T, name string) *mof.File {
	t.Helper()
	l := embeddedLoader()
	parsed, errs := l.Load(name)
	for _, e := range errs {
		t.Errorf("%s", e)
	}
	if len(parsed) != 1 {
		t.Fatalf("%s: parsed %d files, want 1", name, len(parsed))
	}
	return parsed[0]
}

// flatten lists the productions of f with includes expanded in place, and
// the names of all files read.
func flatten(f *mof.File) (prods []mof.Production, files []string) {
	files = append(files, f.Name)
	for _, p := range f.Productions {
		if pr, ok := p.(*mof.Pragma); ok && pr.Included != nil {
			sub, subFiles := flatten(pr.Included)
			prods = append(prods, sub...)
			files = append(files, subFiles...)
			continue
		}
		prods = append(prods, p)
	}
	return prods, files
}

func qualifier(qs []*mof.Qualifier, name string) *mof.Qualifier {
	for _, q := range qs {
		if strings.EqualFold(q.Name, name) {
			return q
		}
	}
	return nil
}

// namespace is one namespace's declarations in compile order.
type namespace struct {
	qualifiers map[string]bool
	classes    []*mof.ClassDecl
	byName     map[string]*mof.ClassDecl
}

func loadNamespace(t *testing.T, root string) namespace {
	t.Helper()
	prods, _ := flatten(load(t, root))
	ns := namespace{qualifiers: map[string]bool{}, byName: map[string]*mof.ClassDecl{}}
	for _, p := range prods {
		switch p := p.(type) {
		case *mof.QualifierDecl:
			ns.qualifiers[strings.ToLower(p.Name)] = true
		case *mof.ClassDecl:
			key := strings.ToLower(p.Name)
			if ns.byName[key] != nil {
				t.Errorf("%s: class %s defined twice", p.Pos, p.Name)
			}
			ns.byName[key] = p
			ns.classes = append(ns.classes, p)
		case *mof.InstanceDecl:
			t.Errorf("%s: schema files must not create instances", p.Pos)
		}
	}
	return ns
}

func TestNamespaceFiles(t *testing.T) {
	files := Files()
	reached := map[string]bool{}
	for _, ns := range Namespaces() {
		for _, name := range append([]string{ns.Root}, ns.Overlay...) {
			if _, err := fs.Stat(files, name); err != nil {
				t.Errorf("%s: %v", ns.Name, err)
			}
		}
		_, read := flatten(load(t, ns.Root))
		inRoot := map[string]bool{}
		for _, name := range read {
			reached[name] = true
			inRoot[name] = true
		}
		for _, name := range ns.Overlay {
			if !inRoot[name] {
				t.Errorf("%s: overlay file %s is not part of root file %s", ns.Name, name, ns.Root)
			}
		}
	}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && path.Ext(name) == ".mof" && !reached[name] {
			t.Errorf("%s is embedded but no namespace includes it", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRequiredClasses(t *testing.T) {
	// The classes the issues and profiles name, per namespace.
	required := map[string][]string{
		InteropNamespace: {
			"CIM_ObjectManager", "CIM_Namespace", "CIM_NamespaceInManager",
			"CIM_ObjectManagerCommunicationMechanism", "CIM_CIMXMLCommunicationMechanism",
			"CIM_HostedService", "CIM_RegisteredProfile", "CIM_ReferencedProfile",
			"CIM_ElementConformsToProfile", "CIM_Error", "CIM_IndicationFilter",
			"CIM_ListenerDestinationCIMXML", "CIM_IndicationSubscription",
			"CIM_IndicationService", "CIM_IndicationServiceCapabilities",
			"CIM_InstCreation", "CIM_InstDeletion", "CIM_InstModification", "CIM_AlertIndication",
			"HC_ObjectManager", "HC_RegisteredProfile", "HC_ElementConformsToProfile",
		},
		VirtNamespace: {
			"CIM_ComputerSystem", "CIM_VirtualSystemManagementService", "CIM_ConcreteJob",
			"CIM_Error", "CIM_InstModification", "CIM_ElementConformsToProfile",
			"HC_HostSystem", "HC_ComputerSystem", "HC_VirtualSystemManagementService",
			"HC_VirtualSystemManagementCapabilities", "HC_VirtualSystemSettingData",
			"HC_ResourceAllocationSettingData", "HC_StorageAllocationSettingData",
			"HC_EthernetPortAllocationSettingData", "HC_ResourcePool", "HC_AllocationCapabilities",
			"HC_EnabledLogicalElementCapabilities", "HC_Processor", "HC_Memory", "HC_DiskDrive",
			"HC_LogicalDisk", "HC_EthernetPort", "HC_VirtualSystemSnapshotService",
			"HC_VirtualSystemSnapshotServiceCapabilities", "HC_VirtualSystemSnapshotCapabilities",
			"HC_ConcreteJob", "HC_HostedService", "HC_HostedDependency", "HC_ServiceAffectsElement",
			"HC_HostedResourcePool", "HC_ElementAllocatedFromPool", "HC_ResourceAllocationFromPool",
			"HC_ElementCapabilities", "HC_SettingsDefineCapabilities", "HC_SettingsDefineState",
			"HC_ElementSettingData", "HC_VirtualSystemSettingDataComponent", "HC_SystemDevice",
			"HC_SnapshotOfVirtualSystem", "HC_LastAppliedSnapshot", "HC_MostCurrentSnapshotInBranch",
			"HC_AffectedJobElement", "HC_OwningJobElement", "HC_ElementConformsToProfile",
		},
	}
	for _, ns := range Namespaces() {
		decls := loadNamespace(t, ns.Root)
		if len(decls.qualifiers) != 70 {
			t.Errorf("%s: %d qualifier declarations, want the 70 of DSP0004", ns.Name, len(decls.qualifiers))
		}
		want := required[ns.Name]
		if len(want) == 0 {
			t.Errorf("no required classes listed for %s", ns.Name)
		}
		for _, name := range want {
			if decls.byName[strings.ToLower(name)] == nil {
				t.Errorf("%s: class %s missing", ns.Name, name)
			}
		}
	}
}

// TestConventions checks what the compiler does not: every class says what
// it is, HC_ classes extend DMTF classes, and subclasses of associations
// repeat the Association qualifier, as DMTF's own MOF does and as some
// older compilers require.
func TestConventions(t *testing.T) {
	for _, ns := range Namespaces() {
		decls := loadNamespace(t, ns.Root)
		for _, c := range decls.classes {
			if qualifier(c.Qualifiers, "Description") == nil {
				t.Errorf("%s: class %s has no Description", c.Pos, c.Name)
			}
			if strings.HasPrefix(c.Name, "HC_") && !strings.HasPrefix(c.Super, "CIM_") {
				t.Errorf("%s: %s must subclass a DMTF class", c.Pos, c.Name)
			}
			super := decls.byName[strings.ToLower(c.Super)]
			if super != nil && qualifier(super.Qualifiers, "Association") != nil && qualifier(c.Qualifiers, "Association") == nil {
				t.Errorf("%s: %s subclasses association %s without the Association qualifier", c.Pos, c.Name, c.Super)
			}
		}
	}
}

// compile compiles the named embedded files, in order, into target.
func compile(t *testing.T, target *mof.MemTarget, ns string, names ...string) *mof.Result {
	t.Helper()
	c := mof.Compiler{Target: target, Namespace: ns, Loader: embeddedLoader()}
	res, err := c.CompileFiles(names...)
	if err != nil {
		t.Fatalf("%s: %v", ns, err)
	}
	for _, w := range res.Warnings {
		t.Errorf("%s: warning: %s", ns, w)
	}
	return res
}

// TestCompile compiles each namespace's root file with the MOF compiler
// into memory: every qualifier, class, reference and override resolves.
func TestCompile(t *testing.T) {
	for _, ns := range Namespaces() {
		res := compile(t, mof.NewMemTarget(nil), ns.Name, ns.Root)
		if want := len(loadNamespace(t, ns.Root).classes); res.Classes != want || res.QualifierTypes != 70 {
			t.Errorf("%s: compiled %d qualifier types and %d classes, want 70 and %d",
				ns.Name, res.QualifierTypes, res.Classes, want)
		}
	}
}

// TestOverlaysStandAlone compiles what --dmtf-schema does: first the DMTF
// part (the root file's includes that are not overlay files, all of them
// classes of the final DMTF 2.49 release), then the overlay files on top.
// The overlay must not lean on anything else.
func TestOverlaysStandAlone(t *testing.T) {
	for _, ns := range Namespaces() {
		overlay := map[string]bool{}
		for _, name := range ns.Overlay {
			overlay[name] = true
		}
		var base []string
		for _, p := range load(t, ns.Root).Productions {
			if pr, ok := p.(*mof.Pragma); ok && pr.Included != nil && !overlay[pr.Included.Name] {
				// A complete DMTF release has neither our HC_ classes nor
				// the experimental ones: those must come with the overlay.
				if name := pr.Included.Name; strings.HasPrefix(name, "hc/") || name == "cim/experimental.mof" {
					t.Errorf("%s: %s is not listed as an overlay file", ns.Name, name)
				}
				base = append(base, pr.Included.Name)
			}
		}
		target := mof.NewMemTarget(nil)
		compile(t, target, ns.Name, base...)
		compile(t, target, ns.Name, ns.Overlay...)
	}
}
