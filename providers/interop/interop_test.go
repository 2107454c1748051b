package interop_test

import (
	"context"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/providers/interop"
	"github.com/hypercim/hypercim/schemas"
	"github.com/hypercim/hypercim/wbem"
)

type env struct {
	srv   *wbem.Server
	prov  *interop.Provider
	ctx   context.Context
	authz *switchAuthz
}

// switchAuthz is an Authorizer a test can change.
type switchAuthz struct {
	allow func(p wbem.Principal, ns string, write bool) bool
}

func (a *switchAuthz) Allowed(p wbem.Principal, ns string, write bool) bool {
	return a.allow != nil && a.allow(p, ns, write)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	repo, err := repository.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	w := repo.NewBulkWriter()
	if _, err := schemas.Install(w, schemas.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	authz := &switchAuthz{}
	srv, err := wbem.NewServer(wbem.Config{Repository: repo, Logger: log, Authorizer: authz})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	prov, err := interop.New(srv, interop.Config{
		Product:    "hypercim",
		Version:    "0.1.0",
		SystemName: "testhost",
		Listeners: []interop.Listener{
			{Protocol: interop.ProtocolCIMXML, URL: "http://127.0.0.1:5988/cimom", Authentication: []string{"Basic"}},
			{Protocol: interop.ProtocolCIMXML, URL: "https://testhost:5989/cimom", Authentication: []string{"Basic"}},
			{Protocol: interop.ProtocolWSMan, URL: "https://testhost:5986/wsman", Authentication: []string{"Basic", "Digest"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := prov.Register(srv.Registry()); err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, prov: prov, ctx: wbem.Internal(context.Background()), authz: authz}
}

func (e *env) enum(t *testing.T, ns, class string) []*cim.Instance {
	t.Helper()
	var out []*cim.Instance
	if err := e.srv.EnumerateInstances(e.ctx, ns, class, wbem.InstanceOptions{DeepInheritance: true}, func(inst *cim.Instance) error {
		out = append(out, inst)
		return nil
	}); err != nil {
		t.Fatalf("EnumerateInstances %s: %v", class, err)
	}
	return out
}

func (e *env) assocNames(t *testing.T, ns string, obj *cim.ObjectPath, f wbem.AssocFilter) []*cim.ObjectPath {
	t.Helper()
	var out []*cim.ObjectPath
	if err := e.srv.AssociatorNames(e.ctx, ns, obj, f, func(p *cim.ObjectPath) error {
		out = append(out, p)
		return nil
	}); err != nil {
		t.Fatalf("AssociatorNames %v: %v", obj, err)
	}
	return out
}

// What pywbem's WBEMServer does to find the interop namespace, brand,
// version and namespaces.
func TestWBEMServerDiscovery(t *testing.T) {
	e := newEnv(t)
	// Interop namespace: EnumerateInstanceNames of CIM_Namespace in "interop".
	if err := e.srv.EnumerateInstanceNames(e.ctx, "interop", "CIM_Namespace", func(*cim.ObjectPath) error { return nil }); err != nil {
		t.Fatalf("probing the interop namespace: %v", err)
	}
	// Exactly one object manager; brand and version as pywbem reads them.
	oms := e.enum(t, "interop", "CIM_ObjectManager")
	if len(oms) != 1 {
		t.Fatalf("%d object managers", len(oms))
	}
	om := oms[0]
	brand := om.Get("ElementName").Str()
	m := regexp.MustCompile(`(?i)^.* (?:version|release) *(.+)?$`).FindStringSubmatch(om.Get("Description").Str())
	if brand != "hypercim" || m == nil || m[1] != "0.1.0" {
		t.Errorf("brand %q, description %q", brand, om.Get("Description").Str())
	}
	if om.ClassName != "HC_ObjectManager" || om.Get("SystemName").Str() != "testhost" {
		t.Errorf("object manager %v", om)
	}
	got, err := e.srv.GetInstance(e.ctx, "root/interop", om.Path, wbem.InstanceOptions{})
	if err != nil || !got.Equal(om) {
		t.Errorf("GetInstance of the object manager: %v", err)
	}
	// Namespaces.
	var names []string
	for _, inst := range e.enum(t, "interop", "CIM_Namespace") {
		names = append(names, inst.Get("Name").Str())
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "root/interop,root/virt" {
		t.Errorf("namespaces %v", names)
	}
	inMgr := e.assocNames(t, "root/interop", om.Path, wbem.AssocFilter{AssocClass: "CIM_NamespaceInManager"})
	if len(inMgr) != 2 || inMgr[0].ClassName != "HC_Namespace" {
		t.Errorf("NamespaceInManager: %v", inMgr)
	}
	// Communication mechanisms.
	mechs := e.enum(t, "interop", "CIM_ObjectManagerCommunicationMechanism")
	if len(mechs) != 3 {
		t.Fatalf("%d mechanisms", len(mechs))
	}
	for _, mech := range mechs {
		switch mech.ClassName {
		case "HC_CIMXMLCommunicationMechanism":
			if mech.Get("CommunicationMechanism").Uint16() != 2 || mech.Get("PulledEnumerationMaximumOperationTimeout").Uint32() != 1800 {
				t.Errorf("CIM-XML mechanism %v", mech)
			}
		case "HC_WSManCommunicationMechanism":
			if mech.Get("CommunicationMechanism").Uint16() != 4 || mech.Get("AuthenticationMechanismsSupported").Len() != 2 {
				t.Errorf("WS-Man mechanism %v", mech)
			}
		default:
			t.Errorf("mechanism of class %s", mech.ClassName)
		}
	}
	if n := len(e.assocNames(t, "root/interop", om.Path, wbem.AssocFilter{AssocClass: "CIM_CommMechanismForManager"})); n != 3 {
		t.Errorf("CommMechanismForManager: %d", n)
	}
	// The profile of profile registration itself, and DSP1054 Indications
	// (indications.go).
	profiles := e.enum(t, "interop", "CIM_RegisteredProfile")
	if len(profiles) != 2 || profiles[1].Get("RegisteredName").Str() != "Indications" {
		t.Fatalf("registered profiles %v", profiles)
	}
	if profiles[0].Get("RegisteredName").Str() != "Profile Registration" ||
		profiles[0].Get("RegisteredOrganization").Uint16() != 2 || profiles[0].Get("RegisteredVersion").Str() != "1.1.0" {
		t.Fatalf("registered profiles %v", profiles)
	}
	central := e.assocNames(t, "root/interop", profiles[0].Path, wbem.AssocFilter{AssocClass: "CIM_ElementConformsToProfile", ResultRole: "ManagedElement"})
	if len(central) != 1 || !central[0].Equal(om.Path) {
		t.Errorf("central instances of Profile Registration: %v", central)
	}
}

func TestProfilesAcrossNamespaces(t *testing.T) {
	e := newEnv(t)
	// A host system in root/virt, as the virtualization provider has one.
	host := cim.NewInstance("HC_HostSystem")
	host.Set("CreationClassName", cim.NewString("HC_HostSystem"))
	host.Set("Name", cim.NewString("testhost"))
	hostPath, err := e.srv.CreateInstance(e.ctx, "root/virt", host)
	if err != nil {
		t.Fatal(err)
	}
	ra := interop.Profile{Name: "Resource Allocation", Version: "1.1.0"}
	raPath, err := e.prov.RegisterProfile(ra)
	if err != nil {
		t.Fatal(err)
	}
	svPath, err := e.prov.RegisterProfile(interop.Profile{
		Name: "System Virtualization", Version: "1.0.0",
		CentralNamespace: "root/virt", CentralClass: "CIM_ComputerSystem",
		References: []string{ra.ID()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.prov.RegisterProfile(interop.Profile{Name: "System Virtualization", Version: "1.0.0"}); err == nil {
		t.Error("registering a profile twice must fail")
	}
	if _, err := e.prov.RegisterProfile(interop.Profile{Organization: "Acme", Name: "Gadgets", Version: "2"}); err != nil {
		t.Fatal(err)
	}
	// pywbem's central class methodology, from the interop side...
	central := e.assocNames(t, "root/interop", svPath, wbem.AssocFilter{AssocClass: "CIM_ElementConformsToProfile", ResultRole: "ManagedElement"})
	if len(central) != 1 || !central[0].Equal(hostPath) {
		t.Fatalf("central instances: %v, want %v", central, hostPath)
	}
	// ... and back from the implementation namespace, across namespaces.
	var back []*cim.Instance
	if err := e.srv.Associators(e.ctx, "root/virt", hostPath, wbem.AssocFilter{AssocClass: "CIM_ElementConformsToProfile"}, wbem.InstanceOptions{}, func(r wbem.AssocResult) error {
		back = append(back, r.Instance)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || back[0].Get("RegisteredName").Str() != "System Virtualization" || back[0].Path.Namespace != "root/interop" {
		t.Fatalf("profiles of the host: %v", back)
	}
	// GetCentralInstances (DSP1033 1.1), which pywbem tries first.
	rv, out, err := e.srv.InvokeMethod(e.ctx, "root/interop", svPath, "GetCentralInstances", nil)
	if err != nil || rv.Uint8() != 0 || len(out) != 1 || out[0].Value.Len() != 1 || !out[0].Value.Index(0).Ref().Equal(hostPath) {
		t.Fatalf("GetCentralInstances: %v %v %v", rv, out, err)
	}
	// The scoping side: the component profile's referencing profile.
	up := e.assocNames(t, "root/interop", raPath, wbem.AssocFilter{AssocClass: "CIM_ReferencedProfile", ResultRole: "Dependent"})
	if len(up) != 1 || !up[0].Equal(svPath) {
		t.Errorf("referencing profile of Resource Allocation: %v", up)
	}
	for _, p := range e.enum(t, "root/interop", "CIM_RegisteredProfile") {
		if p.Get("RegisteredName").Str() == "Gadgets" && (p.Get("RegisteredOrganization").Uint16() != 1 || p.Get("OtherRegisteredOrganization").Str() != "Acme") {
			t.Errorf("profile of another organization: %v", p)
		}
	}
	// A user who may read root/virt only does not see the profile in
	// root/interop.
	virtOnly := wbem.WithPrincipal(context.Background(), wbem.Principal{User: "viewer"})
	e.authz.allow = func(p wbem.Principal, ns string, write bool) bool { return ns == "root/virt" && !write }
	n := 0
	if err := e.srv.Associators(virtOnly, "root/virt", hostPath, wbem.AssocFilter{AssocClass: "CIM_ElementConformsToProfile"}, wbem.InstanceOptions{}, func(wbem.AssocResult) error {
		n++
		return nil
	}); err != nil || n != 0 {
		t.Errorf("associators in a namespace the user may not read: %d, %v", n, err)
	}
	// HostedService appears once the host system is known.
	if n := len(e.enum(t, "root/interop", "CIM_HostedService")); n != 0 {
		t.Errorf("%d HostedService before SetHostSystem", n)
	}
	e.prov.SetHostSystem(hostPath)
	om := e.enum(t, "root/interop", "CIM_ObjectManager")[0]
	hosts := e.assocNames(t, "root/interop", om.Path, wbem.AssocFilter{AssocClass: "CIM_HostedService"})
	if len(hosts) != 1 || !hosts[0].Equal(hostPath) {
		t.Errorf("host of the object manager: %v", hosts)
	}
}

func TestNamespaceCreation(t *testing.T) {
	e := newEnv(t)
	inst := cim.NewInstance("CIM_Namespace")
	inst.Set("Name", cim.NewString("root/extra"))
	p, err := e.srv.CreateInstance(e.ctx, "interop", inst)
	if err != nil {
		t.Fatal(err)
	}
	if p.ClassName != "HC_Namespace" {
		t.Errorf("path of the new namespace: %v", p)
	}
	if err := e.srv.EnumerateQualifiers(e.ctx, "root/extra", func(*cim.QualifierType) error { return nil }); err != nil {
		t.Errorf("the new namespace is not usable: %v", err)
	}
	_, err = e.srv.CreateInstance(e.ctx, "interop", inst)
	if cim.StatusOf(err) != cim.ErrAlreadyExists {
		t.Errorf("creating it twice: %v", err)
	}
	// GetInstance through the DMTF class, as a client that knows only it.
	asCIM := p.Clone()
	asCIM.ClassName = "CIM_Namespace"
	if _, err := e.srv.GetInstance(e.ctx, "interop", asCIM, wbem.InstanceOptions{}); err != nil {
		t.Errorf("GetInstance through CIM_Namespace: %v", err)
	}
	if err := e.srv.DeleteInstance(e.ctx, "interop", p); err != nil {
		t.Fatal(err)
	}
	err = e.srv.EnumerateQualifiers(e.ctx, "root/extra", func(*cim.QualifierType) error { return nil })
	if cim.StatusOf(err) != cim.ErrInvalidNamespace {
		t.Errorf("after deleting: %v", err)
	}
	om := e.enum(t, "interop", "CIM_ObjectManager")[0]
	if err := e.srv.DeleteInstance(e.ctx, "interop", om.Path); cim.StatusOf(err) != cim.ErrNotSupported {
		t.Errorf("deleting the object manager: %v", err)
	}
}
