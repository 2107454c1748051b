package wsman

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/query"
)

// memCore is a small in-memory wbem.Operations for the adapter's unit
// tests: resolved classes, instances in one namespace, associations and
// pull contexts, with the contract's semantics (streaming yields, CIM
// errors). The conformance tests run the real core instead.
type memCore struct {
	mu       sync.Mutex
	ns       string
	classes  map[string]*cim.Class
	order    []string
	insts    []*cim.Instance
	contexts map[string]*memEnum
	nextID   int
	// invoked records method calls for assertions.
	invoked []string
}

type memEnum struct {
	insts []*cim.Instance
	paths []*cim.ObjectPath
	pos   int
}

// keyQualifier marks a key property.
func keyQualifier() cim.Qualifier { return cim.Qualifier{Name: "Key", Value: cim.NewBoolean(true)} }

func newMemCore() *memCore {
	m := &memCore{ns: "root/virt", classes: map[string]*cim.Class{}, contexts: map[string]*memEnum{}}
	add := func(c *cim.Class) {
		var super *cim.Class
		if c.SuperClass != "" {
			super = m.classes[cim.FoldName(c.SuperClass)]
		}
		r, err := cim.ResolveClass(c, super, cim.ResolveOptions{})
		if err != nil {
			panic(err)
		}
		m.classes[cim.FoldName(c.Name)] = r
		m.order = append(m.order, r.Name)
	}
	kq := cim.Qualifiers{keyQualifier()}
	cs := cim.NewClass("CIM_ComputerSystem", "")
	must(cs.AddProperty(cim.Property{Name: "CreationClassName", Type: cim.TypeString, Qualifiers: kq}))
	must(cs.AddProperty(cim.Property{Name: "Name", Type: cim.TypeString, Qualifiers: kq}))
	must(cs.AddProperty(cim.Property{Name: "ElementName", Type: cim.TypeString}))
	must(cs.AddProperty(cim.Property{Name: "Description", Type: cim.TypeString}))
	must(cs.AddProperty(cim.Property{Name: "EnabledState", Type: cim.TypeUint16}))
	must(cs.AddProperty(cim.Property{Name: "Dedicated", Type: cim.TypeUint16, IsArray: true}))
	must(cs.AddProperty(cim.Property{Name: "InstallDate", Type: cim.TypeDatetime}))
	must(cs.AddProperty(cim.Property{Name: "Weight", Type: cim.TypeReal64}))
	must(cs.AddMethod(cim.Method{Name: "RequestStateChange", ReturnType: cim.TypeUint32, Parameters: []cim.Parameter{
		{Name: "RequestedState", Type: cim.TypeUint16, Qualifiers: cim.Qualifiers{{Name: "In", Value: cim.NewBoolean(true)}}},
		{Name: "TimeoutPeriod", Type: cim.TypeDatetime, Qualifiers: cim.Qualifiers{{Name: "In", Value: cim.NewBoolean(true)}}},
		{Name: "Job", Type: cim.TypeReference, ReferenceClass: "CIM_ComputerSystem", Qualifiers: cim.Qualifiers{{Name: "In", Value: cim.NewBoolean(false)}, {Name: "Out", Value: cim.NewBoolean(true)}}},
	}}))
	add(cs)
	hc := cim.NewClass("HC_ComputerSystem", "CIM_ComputerSystem")
	must(hc.AddProperty(cim.Property{Name: "VirtualCPUs", Type: cim.TypeUint32}))
	add(hc)
	dev := cim.NewClass("CIM_LogicalDevice", "")
	must(dev.AddProperty(cim.Property{Name: "DeviceID", Type: cim.TypeString, Qualifiers: kq}))
	must(dev.AddProperty(cim.Property{Name: "Size", Type: cim.TypeUint64}))
	add(dev)
	as := cim.NewClass("CIM_SystemDevice", "")
	as.Qualifiers = cim.Qualifiers{{Name: "Association", Value: cim.NewBoolean(true)}}
	must(as.AddProperty(cim.Property{Name: "GroupComponent", Type: cim.TypeReference, ReferenceClass: "CIM_ComputerSystem", Qualifiers: kq}))
	must(as.AddProperty(cim.Property{Name: "PartComponent", Type: cim.TypeReference, ReferenceClass: "CIM_LogicalDevice", Qualifiers: kq}))
	add(as)
	single := cim.NewClass("HC_Service", "")
	must(single.AddProperty(cim.Property{Name: "Status", Type: cim.TypeString}))
	add(single)

	mk := func(class, name string, state uint16) *cim.Instance {
		c := m.classes[cim.FoldName(class)]
		inst := c.NewInstance()
		inst.Set("CreationClassName", cim.NewString(class))
		inst.Set("Name", cim.NewString(name))
		inst.Set("ElementName", cim.NewString("system "+name))
		inst.Set("EnabledState", cim.NewUint16(state))
		inst.Set("Dedicated", cim.NewUint16Array([]uint16{0, 2}))
		d, _ := cim.NewTimestamp(2024, 1, 31, 23, 59, 58, 0, 60)
		inst.Set("InstallDate", cim.NewDatetime(d))
		inst.Set("Weight", cim.NewReal64(1.5))
		return inst
	}
	m.put(mk("CIM_ComputerSystem", "host1", 2))
	m.put(mk("HC_ComputerSystem", "vm1", 3))
	disk := m.classes["cim_logicaldevice"].NewInstance()
	disk.Set("DeviceID", cim.NewString("disk0"))
	disk.Set("Size", cim.NewUint64(1<<30))
	m.put(disk)
	link := m.classes["cim_systemdevice"].NewInstance()
	link.Set("GroupComponent", cim.NewReference(m.insts[0].Path))
	link.Set("PartComponent", cim.NewReference(disk.Path))
	m.put(link)
	svc := m.classes["hc_service"].NewInstance()
	svc.Set("Status", cim.NewString("OK"))
	m.put(svc)
	return m
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func (m *memCore) put(inst *cim.Instance) {
	c := m.classes[cim.FoldName(inst.ClassName)]
	p, err := c.InstancePath(m.ns, inst)
	must(err)
	inst.Path = p
	m.insts = append(m.insts, inst)
}

// addMany adds n HC_ComputerSystem instances named bulkNNNNNN.
func (m *memCore) addMany(n int) {
	c := m.classes["hc_computersystem"]
	for i := 0; i < n; i++ {
		inst := c.NewInstance()
		inst.Set("CreationClassName", cim.NewString("HC_ComputerSystem"))
		inst.Set("Name", cim.NewString(fmt.Sprintf("bulk%06d", i)))
		inst.Set("EnabledState", cim.NewUint16(2))
		m.put(inst)
	}
}

func (m *memCore) checkNS(ns string) error {
	if !cim.EqualNames(wbem.CanonicalNamespace(ns), m.ns) {
		return cim.Errorf(cim.ErrInvalidNamespace, "no namespace %s", ns)
	}
	return nil
}

func (m *memCore) class(ns, name string) (*cim.Class, error) {
	if err := m.checkNS(ns); err != nil {
		return nil, err
	}
	c := m.classes[cim.FoldName(name)]
	if c == nil {
		return nil, cim.Errorf(cim.ErrInvalidClass, "no class %s", name)
	}
	return c, nil
}

func (m *memCore) isA(class, super string) bool {
	for c := m.classes[cim.FoldName(class)]; c != nil; c = m.classes[cim.FoldName(c.SuperClass)] {
		if cim.EqualNames(c.Name, super) {
			return true
		}
		if c.SuperClass == "" {
			break
		}
	}
	return false
}

func (m *memCore) IsA(class, super string) bool { return m.isA(class, super) }

func (m *memCore) GetClass(ctx context.Context, ns, className string, f cim.ClassFilter) (*cim.Class, error) {
	c, err := m.class(ns, className)
	if err != nil {
		return nil, err
	}
	return cim.FilterClass(c, f), nil
}

func (m *memCore) EnumerateClasses(ctx context.Context, ns, className string, deep bool, f cim.ClassFilter, yield func(*cim.Class) error) error {
	return cim.ErrNotSupported
}

func (m *memCore) EnumerateClassNames(ctx context.Context, ns, className string, deep bool, yield func(string) error) error {
	if err := m.checkNS(ns); err != nil {
		return err
	}
	for _, n := range m.order {
		if className == "" || (m.isA(n, className) && !cim.EqualNames(n, className)) {
			if err := yield(n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memCore) CreateClass(context.Context, string, *cim.Class) error { return cim.ErrNotSupported }
func (m *memCore) ModifyClass(context.Context, string, *cim.Class) error { return cim.ErrNotSupported }
func (m *memCore) DeleteClass(context.Context, string, string) error     { return cim.ErrNotSupported }

// find returns the index of the instance a path names.
func (m *memCore) find(ns string, p *cim.ObjectPath) (int, error) {
	c, err := m.class(ns, p.ClassName)
	if err != nil {
		return -1, err
	}
	np, err := c.NormalizePath(p)
	if err != nil {
		return -1, err
	}
	want := np.CanonicalModel()
	for i, inst := range m.insts {
		if !m.isA(inst.ClassName, p.ClassName) {
			continue
		}
		q := inst.Path.Clone()
		q.ClassName = np.ClassName
		if q.CanonicalModel() == want {
			return i, nil
		}
	}
	return -1, cim.Errorf(cim.ErrNotFound, "no instance %s", p.ModelPath())
}

func (m *memCore) GetInstance(ctx context.Context, ns string, name *cim.ObjectPath, o wbem.InstanceOptions) (*cim.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, err := m.find(ns, name)
	if err != nil {
		return nil, err
	}
	return cim.FilterInstance(m.insts[i], nil, cim.InstanceFilter{PropertyList: o.PropertyList}), nil
}

func (m *memCore) EnumerateInstances(ctx context.Context, ns, className string, o wbem.InstanceOptions, yield func(*cim.Instance) error) error {
	return cim.ErrNotSupported
}
func (m *memCore) EnumerateInstanceNames(ctx context.Context, ns, className string, yield func(*cim.ObjectPath) error) error {
	return cim.ErrNotSupported
}

func (m *memCore) CreateInstance(ctx context.Context, ns string, inst *cim.Instance) (*cim.ObjectPath, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.class(ns, inst.ClassName)
	if err != nil {
		return nil, err
	}
	n, err := c.NormalizeInstance(inst)
	if err != nil {
		return nil, err
	}
	p, err := c.InstancePath(m.ns, n)
	if err != nil {
		return nil, err
	}
	if _, err := m.find(ns, p); err == nil {
		return nil, cim.Errorf(cim.ErrAlreadyExists, "%s exists", p.ModelPath())
	}
	n.Path = p
	m.insts = append(m.insts, n)
	return p, nil
}

func (m *memCore) ModifyInstance(ctx context.Context, ns string, inst *cim.Instance, includeQualifiers bool, propertyList []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, err := m.find(ns, inst.Path)
	if err != nil {
		return err
	}
	cur := m.insts[i]
	c := m.classes[cim.FoldName(cur.ClassName)]
	mod := inst.Clone()
	mod.ClassName = cur.ClassName
	n, err := c.ModifyInstance(cur, mod, propertyList)
	if err != nil {
		return err
	}
	n.Path = cur.Path
	m.insts[i] = n
	return nil
}

func (m *memCore) DeleteInstance(ctx context.Context, ns string, name *cim.ObjectPath) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, err := m.find(ns, name)
	if err != nil {
		return err
	}
	m.insts = append(m.insts[:i], m.insts[i+1:]...)
	return nil
}

// assoc returns the association instances referring to object.
func (m *memCore) assoc(ns string, object *cim.ObjectPath, f wbem.AssocFilter, references bool) ([]*cim.Instance, error) {
	i, err := m.find(ns, object)
	if err != nil {
		return nil, err
	}
	target := m.insts[i].Path
	var out []*cim.Instance
	for _, a := range m.insts {
		c := m.classes[cim.FoldName(a.ClassName)]
		if !c.IsAssociation() {
			continue
		}
		if f.AssocClass != "" && !m.isA(a.ClassName, f.AssocClass) {
			continue
		}
		if references && f.ResultClass != "" && !m.isA(a.ClassName, f.ResultClass) {
			continue
		}
		for _, role := range c.ReferenceNames() {
			r := a.Get(role).Ref()
			if r == nil || !r.Equal(target) || (f.Role != "" && !cim.EqualNames(f.Role, role)) {
				continue
			}
			if references {
				out = append(out, a)
				continue
			}
			for _, other := range c.ReferenceNames() {
				if cim.EqualNames(other, role) || (f.ResultRole != "" && !cim.EqualNames(f.ResultRole, other)) {
					continue
				}
				j, err := m.find(ns, a.Get(other).Ref())
				if err != nil {
					continue
				}
				if f.ResultClass != "" && !m.isA(m.insts[j].ClassName, f.ResultClass) {
					continue
				}
				out = append(out, m.insts[j])
			}
		}
	}
	return out, nil
}

func (m *memCore) Associators(context.Context, string, *cim.ObjectPath, wbem.AssocFilter, wbem.InstanceOptions, func(wbem.AssocResult) error) error {
	return cim.ErrNotSupported
}
func (m *memCore) AssociatorNames(context.Context, string, *cim.ObjectPath, wbem.AssocFilter, func(*cim.ObjectPath) error) error {
	return cim.ErrNotSupported
}
func (m *memCore) References(context.Context, string, *cim.ObjectPath, wbem.AssocFilter, wbem.InstanceOptions, func(wbem.AssocResult) error) error {
	return cim.ErrNotSupported
}
func (m *memCore) ReferenceNames(context.Context, string, *cim.ObjectPath, wbem.AssocFilter, func(*cim.ObjectPath) error) error {
	return cim.ErrNotSupported
}
func (m *memCore) GetProperty(context.Context, string, *cim.ObjectPath, string) (cim.Value, error) {
	return cim.Value{}, cim.ErrNotSupported
}
func (m *memCore) SetProperty(context.Context, string, *cim.ObjectPath, string, cim.Value) error {
	return cim.ErrNotSupported
}
func (m *memCore) GetQualifier(context.Context, string, string) (*cim.QualifierType, error) {
	return nil, cim.ErrNotSupported
}
func (m *memCore) SetQualifier(context.Context, string, *cim.QualifierType) error {
	return cim.ErrNotSupported
}
func (m *memCore) DeleteQualifier(context.Context, string, string) error { return cim.ErrNotSupported }
func (m *memCore) EnumerateQualifiers(context.Context, string, func(*cim.QualifierType) error) error {
	return cim.ErrNotSupported
}
func (m *memCore) ExecQuery(context.Context, string, string, string, func(*cim.Instance) error) error {
	return cim.ErrNotSupported
}

func (m *memCore) InvokeMethod(ctx context.Context, ns string, object *cim.ObjectPath, method string, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.class(ns, object.ClassName)
	if err != nil {
		return cim.Value{}, nil, err
	}
	if c.Method(method) == nil {
		return cim.Value{}, nil, cim.Errorf(cim.ErrMethodNotFound, "no method %s", method)
	}
	if !object.IsInstancePath() {
		return cim.Value{}, nil, cim.Errorf(cim.ErrInvalidParameter, "%s is not static", method)
	}
	i, err := m.find(ns, object)
	if err != nil {
		return cim.Value{}, nil, err
	}
	var state cim.Value
	for _, p := range in {
		m.invoked = append(m.invoked, p.String())
		if cim.EqualNames(p.Name, "RequestedState") {
			state = p.Value
		}
	}
	if state.Type() != cim.TypeUint16 {
		return cim.Value{}, nil, cim.Errorf(cim.ErrInvalidParameter, "RequestedState is required")
	}
	inst := m.insts[i].Clone()
	inst.Set("EnabledState", state)
	m.insts[i] = inst
	return cim.NewUint32(0), []cim.ParamValue{{Name: "Job", Value: cim.NewReference(inst.Path)}}, nil
}

func (m *memCore) open(insts []*cim.Instance, paths []*cim.ObjectPath, p wbem.OpenOptions) (wbem.PullState, error) {
	if p.MaxObjectCount != 0 {
		return wbem.PullState{}, fmt.Errorf("the adapter opens without results")
	}
	m.nextID++
	id := "ctx" + strconv.Itoa(m.nextID)
	if len(insts) == 0 && len(paths) == 0 {
		return wbem.PullState{EndOfSequence: true}, nil
	}
	m.contexts[id] = &memEnum{insts: insts, paths: paths}
	return wbem.PullState{Context: id}, nil
}

func (m *memCore) instancesOf(className string) []*cim.Instance {
	var out []*cim.Instance
	for _, inst := range m.insts {
		if m.isA(inst.ClassName, className) {
			out = append(out, inst)
		}
	}
	return out
}

func (m *memCore) OpenEnumerateInstances(ctx context.Context, ns, className string, o wbem.InstanceOptions, p wbem.OpenOptions, yield func(*cim.Instance) error) (wbem.PullState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.class(ns, className); err != nil {
		return wbem.PullState{}, err
	}
	return m.open(m.instancesOf(className), nil, p)
}

func (m *memCore) OpenEnumerateInstancePaths(ctx context.Context, ns, className string, p wbem.OpenOptions, yield func(*cim.ObjectPath) error) (wbem.PullState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.class(ns, className); err != nil {
		return wbem.PullState{}, err
	}
	var paths []*cim.ObjectPath
	for _, inst := range m.instancesOf(className) {
		paths = append(paths, inst.Path)
	}
	return m.open(nil, paths, p)
}

func (m *memCore) OpenAssociatorInstances(ctx context.Context, ns string, object *cim.ObjectPath, f wbem.AssocFilter, o wbem.InstanceOptions, p wbem.OpenOptions, yield func(*cim.Instance) error) (wbem.PullState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.assoc(ns, object, f, false)
	if err != nil {
		return wbem.PullState{}, err
	}
	return m.open(r, nil, p)
}

func pathsOf(insts []*cim.Instance) []*cim.ObjectPath {
	var out []*cim.ObjectPath
	for _, i := range insts {
		out = append(out, i.Path)
	}
	return out
}

func (m *memCore) OpenAssociatorInstancePaths(ctx context.Context, ns string, object *cim.ObjectPath, f wbem.AssocFilter, p wbem.OpenOptions, yield func(*cim.ObjectPath) error) (wbem.PullState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.assoc(ns, object, f, false)
	if err != nil {
		return wbem.PullState{}, err
	}
	return m.open(nil, pathsOf(r), p)
}

func (m *memCore) OpenReferenceInstances(ctx context.Context, ns string, object *cim.ObjectPath, f wbem.AssocFilter, o wbem.InstanceOptions, p wbem.OpenOptions, yield func(*cim.Instance) error) (wbem.PullState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.assoc(ns, object, f, true)
	if err != nil {
		return wbem.PullState{}, err
	}
	return m.open(r, nil, p)
}

func (m *memCore) OpenReferenceInstancePaths(ctx context.Context, ns string, object *cim.ObjectPath, f wbem.AssocFilter, p wbem.OpenOptions, yield func(*cim.ObjectPath) error) (wbem.PullState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.assoc(ns, object, f, true)
	if err != nil {
		return wbem.PullState{}, err
	}
	return m.open(nil, pathsOf(r), p)
}

func (m *memCore) OpenQueryInstances(ctx context.Context, ns, language, q string, rqrc bool, p wbem.OpenOptions, yield func(*cim.Instance) error) (*cim.Class, wbem.PullState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkNS(ns); err != nil {
		return nil, wbem.PullState{}, err
	}
	sel, err := query.ParseSelect(language, q)
	if err != nil {
		return nil, wbem.PullState{}, err
	}
	if m.classes[cim.FoldName(sel.ClassName)] == nil {
		return nil, wbem.PullState{}, cim.Errorf(cim.ErrInvalidQuery, "no class %s", sel.ClassName)
	}
	var out []*cim.Instance
	for _, inst := range m.instancesOf(sel.ClassName) {
		if sel.Match(inst, m) {
			r := sel.Project(inst)
			if sel.Properties != nil {
				r = r.Clone()
				r.Path = nil
			}
			out = append(out, r)
		}
	}
	st, err := m.open(out, nil, p)
	return nil, st, err
}

func (m *memCore) pull(enumContext string, max uint32, yieldI func(*cim.Instance) error, yieldP func(*cim.ObjectPath) error) (wbem.PullState, error) {
	m.mu.Lock()
	e := m.contexts[enumContext]
	m.mu.Unlock()
	if e == nil {
		return wbem.PullState{}, cim.Errorf(cim.ErrInvalidEnumerationContext, "no context %s", enumContext)
	}
	n := len(e.insts) + len(e.paths)
	for k := uint32(0); k < max && e.pos < n; k++ {
		var err error
		if yieldI != nil {
			err = yieldI(e.insts[e.pos])
		} else if e.paths != nil {
			err = yieldP(e.paths[e.pos])
		} else {
			err = yieldP(e.insts[e.pos].Path)
		}
		e.pos++
		if err != nil {
			return wbem.PullState{}, err
		}
	}
	if e.pos >= n {
		m.mu.Lock()
		delete(m.contexts, enumContext)
		m.mu.Unlock()
		return wbem.PullState{EndOfSequence: true}, nil
	}
	return wbem.PullState{Context: enumContext}, nil
}

func (m *memCore) PullInstancesWithPath(ctx context.Context, ns, enumContext string, max uint32, yield func(*cim.Instance) error) (wbem.PullState, error) {
	return m.pull(enumContext, max, yield, nil)
}
func (m *memCore) PullInstancePaths(ctx context.Context, ns, enumContext string, max uint32, yield func(*cim.ObjectPath) error) (wbem.PullState, error) {
	return m.pull(enumContext, max, nil, yield)
}
func (m *memCore) PullInstances(ctx context.Context, ns, enumContext string, max uint32, yield func(*cim.Instance) error) (wbem.PullState, error) {
	return m.pull(enumContext, max, yield, nil)
}
func (m *memCore) CloseEnumeration(ctx context.Context, ns, enumContext string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.contexts[enumContext] == nil {
		return cim.Errorf(cim.ErrInvalidEnumerationContext, "no context %s", enumContext)
	}
	delete(m.contexts, enumContext)
	return nil
}
func (m *memCore) EnumerationCount(ctx context.Context, ns, enumContext string) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.contexts[enumContext]
	if e == nil {
		return 0, false, cim.Errorf(cim.ErrInvalidEnumerationContext, "no context %s", enumContext)
	}
	return uint64(len(e.insts) + len(e.paths) - e.pos), true, nil
}

// openContexts reports how many core contexts are open.
func (m *memCore) openContexts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.contexts)
}

var _ wbem.Operations = (*memCore)(nil)
