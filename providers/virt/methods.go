package virt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
	"github.com/hypercim/hypercim/wbem"
)

// Method return codes shared by the DMTF methods.
const (
	rcOK              uint32 = 0
	rcNotSupported    uint32 = 1
	rcFailed          uint32 = 2
	rcTimeout         uint32 = 3
	rcInvalidParam    uint32 = 4
	rcInvalidState    uint32 = 5
	rcIncompatible    uint32 = 6 // ModifyResourceSettings, ModifySystemSettings
	rcInvalidType     uint32 = 6 // snapshot methods
	rcJobStarted      uint32 = 4096
	rscUnknown        uint32 = 2
	rscTimeout        uint32 = 3
	rscFailed         uint32 = 4
	rscInvalidParam   uint32 = 5
	rscInUse          uint32 = 6
	rscInvalidTransit uint32 = 4097
	rscBusy           uint32 = 4099
)

// codeTables maps the manager's failure codes to each method's return
// codes (only values the method's ValueMap defines; the rest report
// Failed, with the CIM_Error telling what happened).
var codeTables = map[string]map[vmm.Code]uint32{
	"DefineSystem": {vmm.NotSupported: rcNotSupported, vmm.Timeout: rcTimeout, vmm.InvalidParameter: rcInvalidParam,
		vmm.NotFound: rcInvalidParam, vmm.InUse: rcInvalidParam, vmm.Incompatible: rcInvalidParam},
	"DestroySystem": {vmm.NotSupported: rcNotSupported, vmm.Timeout: rcTimeout, vmm.InvalidParameter: rcInvalidParam,
		vmm.NotFound: rcInvalidParam, vmm.InvalidState: rcInvalidState, vmm.Busy: rcInvalidState},
	"ModifyResourceSettings": {vmm.NotSupported: rcNotSupported, vmm.Timeout: rcTimeout, vmm.InvalidParameter: rcInvalidParam,
		vmm.NotFound: rcInvalidParam, vmm.InUse: rcInvalidParam, vmm.InvalidState: rcInvalidState, vmm.Busy: rcInvalidState,
		vmm.Incompatible: rcIncompatible},
	"CreateSnapshot": {vmm.NotSupported: rcNotSupported, vmm.Timeout: rcTimeout, vmm.InvalidParameter: rcInvalidParam,
		vmm.NotFound: rcInvalidParam, vmm.InvalidState: rcInvalidState, vmm.Busy: rcInvalidState, vmm.Incompatible: rcInvalidParam},
	"RequestStateChange": {vmm.NotSupported: rcNotSupported, vmm.Timeout: rscTimeout, vmm.Failed: rscFailed,
		vmm.InvalidParameter: rscInvalidParam, vmm.NotFound: rscInvalidParam, vmm.InUse: rscInUse,
		vmm.InvalidState: rscInvalidTransit, vmm.Busy: rscBusy, vmm.InsufficientResources: rscFailed, vmm.Incompatible: rscInvalidParam},
}

func init() {
	codeTables["AddResourceSettings"] = codeTables["DefineSystem"]
	codeTables["RemoveResourceSettings"] = codeTables["DestroySystem"]
	codeTables["ModifySystemSettings"] = codeTables["ModifyResourceSettings"]
	codeTables["ApplySnapshot"] = codeTables["CreateSnapshot"]
	codeTables["DestroySnapshot"] = codeTables["CreateSnapshot"]
}

// methodCode is the return code of method for a failure of code c.
func methodCode(method string, c vmm.Code) uint32 {
	t := codeTables[method]
	if rc, ok := t[c]; ok {
		return rc
	}
	if method == "RequestStateChange" {
		return rscFailed
	}
	return rcFailed
}

// invoke runs an extrinsic method on one of the provider's objects:
// the management service's six methods, the snapshot service's three,
// RequestStateChange of a virtual system, and the job methods. A request
// the method refuses returns the method's DMTF return code and, in the
// output parameter Error, a CIM_Error saying why.
func (p *Provider) invoke(ctx context.Context, path *cim.ObjectPath, method string, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error) {
	r, ok := p.parseRef(path)
	if !ok {
		return cim.Value{}, nil, notFound(path)
	}
	user := ""
	if pr, ok := wbem.PrincipalFrom(ctx); ok {
		user = pr.User
	}
	c := &call{p: p, ctx: ctx, in: params(in), path: path, user: user, start: time.Now()}
	var m func() (vmm.Outcome, error)
	switch r.kind {
	case kindVSMS:
		m = map[string]func() (vmm.Outcome, error){
			"definesystem": c.defineSystem, "destroysystem": c.destroySystem,
			"modifysystemsettings": c.modifySystemSettings, "addresourcesettings": c.addResourceSettings,
			"modifyresourcesettings": c.modifyResourceSettings, "removeresourcesettings": c.removeResourceSettings,
		}[strings.ToLower(method)]
	case kindSnapService:
		m = map[string]func() (vmm.Outcome, error){
			"createsnapshot": c.createSnapshot, "applysnapshot": c.applySnapshot, "destroysnapshot": c.destroySnapshot,
		}[strings.ToLower(method)]
	case kindSystem:
		if strings.EqualFold(method, "RequestStateChange") {
			if _, err := p.m.System(r.id); err != nil {
				return cim.Value{}, nil, notFound(path)
			}
			m = func() (vmm.Outcome, error) { return c.requestStateChange(r.id) }
		}
	case kindJob:
		if _, err := p.m.Job(r.id); err != nil {
			return cim.Value{}, nil, notFound(path)
		}
		return c.jobMethod(r.id, method)
	}
	if m == nil {
		if _, err := p.get(path); err != nil {
			return cim.Value{}, nil, err
		}
		return cim.Value{}, nil, cim.Errorf(cim.ErrMethodNotAvailable, "%s.%s is not available from the virtualization provider", path.ClassName, method)
	}
	c.method = canonicalMethod(method)
	o, err := m()
	return c.finish(o, err)
}

func canonicalMethod(m string) string {
	for name := range codeTables {
		if strings.EqualFold(name, m) {
			return name
		}
	}
	return m
}

// call is one method invocation.
type call struct {
	p      *Provider
	ctx    context.Context
	in     params
	path   *cim.ObjectPath
	method string
	user   string
	start  time.Time
	// out holds the method's result parameters when it completes.
	out []cim.ParamValue
}

// instances reads embedded instances, typed as their classes declare.
func (c *call) instances(name string, required bool) ([]*cim.Instance, error) {
	is, err := c.in.instances(name, required)
	if err != nil {
		return nil, err
	}
	for k, i := range is {
		if is[k], err = c.p.typed(i); err != nil {
			return nil, err
		}
	}
	return is, nil
}

func (c *call) instance(name string, required bool) (*cim.Instance, error) {
	is, err := c.instances(name, required)
	if err != nil || len(is) == 0 {
		return nil, err
	}
	if len(is) > 1 {
		return nil, badParam("parameter %s takes one instance, not %d", name, len(is))
	}
	return is[0], nil
}

// options reads TimeoutPeriod: NULL or 0 runs long work as a job, a
// positive interval waits for it.
func (c *call) options() (vmm.CallOptions, error) {
	co := vmm.CallOptions{User: c.user}
	v, ok := c.in.get("TimeoutPeriod")
	if !ok {
		return co, nil
	}
	var d cim.Datetime
	switch {
	case v.Type() == cim.TypeDatetime && !v.IsArray():
		d = v.Datetime()
	case v.Type() == cim.TypeString && !v.IsArray():
		var err error
		if d, err = cim.ParseDatetime(v.Str()); err != nil {
			return co, badParam("TimeoutPeriod %q is not a CIM interval (ddddddddhhmmss.mmmmmm:000)", v.Str())
		}
	default:
		return co, badParam("TimeoutPeriod must be a datetime interval")
	}
	dur, ok := d.Duration()
	if !ok || d.IsTimestamp() {
		return co, badParam("TimeoutPeriod %s is a timestamp; give an interval such as 00000000000100.000000:000 (one minute)", d)
	}
	co.Wait = dur
	return co, nil
}

// finish turns an outcome into the return code and output parameters.
func (c *call) finish(o vmm.Outcome, err error) (cim.Value, []cim.ParamValue, error) {
	log := c.p.log.WithFields(map[string]any{"op": "InvokeMethod", "method": c.method, "user": c.user,
		"duration": time.Since(c.start).Round(time.Microsecond)})
	var internal *cim.Error
	if errors.As(err, &internal) {
		log.WithError(err).Warn("method failed")
		return cim.Value{}, nil, err
	}
	if err != nil {
		rc := methodCode(c.method, vmm.CodeOf(err))
		if c.method == "CreateSnapshot" && errors.Is(err, errInvalidType) {
			rc = rcInvalidType
		}
		log.WithField("rc", rc).Info("method refused: ", err)
		out := []cim.ParamValue{{Name: "Error", Value: cim.NewEmbeddedInstance(c.p.errorInstance(err, c.method, c.path))}}
		if o.Job != nil {
			out = append(out, cim.ParamValue{Name: "Job", Value: cim.NewReference(idPath(classJob, jobID(o.Job.ID)))})
		}
		return cim.NewUint32(rc), out, nil
	}
	if o.Job != nil {
		log.WithFields(map[string]any{"rc": rcJobStarted, "job": o.Job.ID}).Info("method started a job")
		return cim.NewUint32(rcJobStarted), []cim.ParamValue{{Name: "Job", Value: cim.NewReference(idPath(classJob, jobID(o.Job.ID)))}}, nil
	}
	log.WithField("rc", rcOK).Info("method completed")
	return cim.NewUint32(rcOK), c.out, nil
}

var errInvalidType = errors.New("invalid snapshot type")

// ---------------------------------------------------------------------------
// Virtual system management service

// defaults is the definition DefineSystem starts from: the default
// templates' quantities and the server's default boot source.
func (p *Provider) defaults() vmm.Definition {
	lim := p.m.Limits()
	return vmm.Definition{VCPUs: 1, MemoryMiB: min(256, lim.MaxMemoryMiB), Kernel: p.bootKernel, Initrd: p.bootInitrd, Cmdline: p.bootCmdline}
}

func (c *call) defineSystem() (vmm.Outcome, error) {
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	ss, err := c.instance("SystemSettings", false)
	if err != nil {
		return vmm.Outcome{}, err
	}
	rs, err := c.instances("ResourceSettings", false)
	if err != nil {
		return vmm.Outcome{}, err
	}
	def := c.p.defaults()
	if v, ok := c.in.get("ReferenceConfiguration"); ok && !v.IsNull() {
		rc, err := c.in.ref("ReferenceConfiguration")
		if err != nil {
			return vmm.Outcome{}, err
		}
		if def, err = c.p.referenceDefinition(rc); err != nil {
			return vmm.Outcome{}, err
		}
	}
	uuid := ""
	if ss != nil {
		if !c.p.isA(ss.ClassName, "CIM_VirtualSystemSettingData") {
			return vmm.Outcome{}, badParam("SystemSettings is a %s, not a CIM_VirtualSystemSettingData", ss.ClassName)
		}
		if err := applyVSSD(&def, ss); err != nil {
			return vmm.Outcome{}, err
		}
		uuid, _ = str(ss, "VirtualSystemIdentifier")
	}
	e := c.p.newEditor("", &def, true)
	for _, i := range rs {
		if _, err := e.add(i); err != nil {
			return vmm.Outcome{}, err
		}
	}
	o, err := c.p.m.Define(c.ctx, uuid, def, co)
	if err == nil && o.Job == nil {
		c.out = []cim.ParamValue{{Name: "ResultingSystem", Value: cim.NewReference(systemPath(o.System))}}
	}
	return o, err
}

// referenceDefinition copies the settings of an existing system or
// snapshot for DefineSystem: processors, memory, boot source, actions,
// adapters (with new addresses) and empty drives of the same sizes.
func (p *Provider) referenceDefinition(path *cim.ObjectPath) (vmm.Definition, error) {
	r, ok := p.parseRef(path)
	if !ok || r.kind != kindVSSD {
		return vmm.Definition{}, badParam("ReferenceConfiguration %s is not a virtual system setting data of this server", path)
	}
	var src vmm.Definition
	if v, err := p.m.System(r.id); err == nil {
		src = v.Def
	} else if s, err := p.m.Snapshot(r.id); err == nil {
		src = s.Def
	} else {
		return vmm.Definition{}, badParam("ReferenceConfiguration %s does not exist", path)
	}
	def := src.Clone()
	def.Name, def.Description, def.Notes = "", "", nil
	for i := range def.NICs {
		def.NICs[i].MAC = ""
	}
	for i, d := range def.Disks {
		def.Disks[i] = vmm.Disk{ID: d.ID, Name: d.Name}
		if d.Image != "" {
			def.Disks[i] = vmm.Disk{ID: d.ID, Name: d.Name, Media: true, SizeBytes: d.SizeBytes, Format: d.Format, Subformat: d.Subformat}
			if d.Format == "vmdk" && d.Subformat == "" {
				def.Disks[i].Subformat = "monolithicSparse"
			}
		}
	}
	return def, nil
}

// applyVSSD copies the settings a client gave onto def; NULL leaves a
// value unchanged.
func applyVSSD(def *vmm.Definition, i *cim.Instance) error {
	if t, ok := str(i, "VirtualSystemType"); ok && t != "" && t != vsType {
		return badParam("VirtualSystemType %q: this server defines %s systems (see VirtualSystemTypesSupported)", t, vsType)
	}
	if s, ok := str(i, "ElementName"); ok {
		def.Name = s
	}
	if s, ok := str(i, "Description"); ok {
		def.Description = s
	}
	if v := i.Get("Notes"); !v.IsNull() {
		def.Notes = strs(i, "Notes")
	}
	for _, a := range []struct {
		name string
		set  func(uint16)
	}{
		{"AutomaticStartupAction", func(v uint16) { def.Startup = vmm.StartupAction(v) }},
		{"AutomaticShutdownAction", func(v uint16) { def.Shutdown = vmm.ShutdownAction(v) }},
		{"AutomaticRecoveryAction", func(v uint16) { def.Recovery = vmm.RecoveryAction(v) }},
	} {
		n, ok, err := unsigned(i, a.name)
		if err != nil {
			return err
		}
		if ok {
			if n > 0xffff {
				return badParam("%s %d is out of range", a.name, n)
			}
			a.set(uint16(n))
		}
	}
	if v := i.Get("AutomaticStartupActionDelay"); !v.IsNull() && v.Type() == cim.TypeDatetime {
		if d, ok := v.Datetime().Duration(); ok && d != 0 {
			return notSupported("AutomaticStartupActionDelay: systems start without delay")
		}
	}
	if s, ok := str(i, "KernelPath"); ok {
		def.Kernel = s
		if s == "" {
			// An empty KernelPath asks for firmware boot from the first
			// disk: the server's default initrd and command line belong
			// to its default kernel.
			def.Initrd, def.Cmdline = "", ""
		}
	}
	if s, ok := str(i, "InitrdPath"); ok {
		def.Initrd = s
	}
	if s, ok := str(i, "KernelCommandLine"); ok {
		def.Cmdline = s
	}
	return nil
}

// systemOfVSSD reads a reference to a system's own settings.
func (p *Provider) systemOfVSSD(path *cim.ObjectPath, param string) (string, error) {
	r, ok := p.parseRef(path)
	if !ok || r.kind != kindVSSD {
		return "", badParam("%s %s is not a virtual system setting data of this server", param, path)
	}
	if _, err := p.m.System(r.id); err != nil {
		if _, serr := p.m.Snapshot(r.id); serr == nil {
			return "", badParam("%s %s is a snapshot; snapshots cannot change (apply it, then change the system)", param, path)
		}
		return "", badParam("%s %s does not exist", param, path)
	}
	return r.id, nil
}

func (c *call) modifySystemSettings() (vmm.Outcome, error) {
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	ss, err := c.instance("SystemSettings", true)
	if err != nil {
		return vmm.Outcome{}, err
	}
	if !c.p.isA(ss.ClassName, "CIM_VirtualSystemSettingData") {
		return vmm.Outcome{}, badParam("SystemSettings is a %s, not a CIM_VirtualSystemSettingData", ss.ClassName)
	}
	id, _ := str(ss, "InstanceID")
	if id == "" {
		return vmm.Outcome{}, badParam("SystemSettings has no InstanceID; send back the virtual system setting data you fetched, changed")
	}
	id2, err := c.p.systemOfVSSD(idPath(classVSSD, id), "SystemSettings.InstanceID")
	if err != nil {
		return vmm.Outcome{}, err
	}
	if vsi, ok := str(ss, "VirtualSystemIdentifier"); ok && vsi != "" && !strings.EqualFold(vsi, id2) {
		return vmm.Outcome{}, badParam("VirtualSystemIdentifier %s does not match InstanceID %s; the identifier cannot change", vsi, id)
	}
	return c.p.m.Modify(c.ctx, id2, func(def *vmm.Definition) error { return applyVSSD(def, ss) }, co)
}

func (c *call) addResourceSettings() (vmm.Outcome, error) {
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	ac, err := c.in.ref("AffectedConfiguration")
	if err != nil {
		return vmm.Outcome{}, err
	}
	id, err := c.p.systemOfVSSD(ac, "AffectedConfiguration")
	if err != nil {
		return vmm.Outcome{}, err
	}
	rs, err := c.instances("ResourceSettings", true)
	if err != nil {
		return vmm.Outcome{}, err
	}
	if len(rs) == 0 {
		return vmm.Outcome{}, badParam("ResourceSettings is empty")
	}
	var made []ref
	o, err := c.p.m.Modify(c.ctx, id, func(def *vmm.Definition) error {
		made = made[:0]
		e := c.p.newEditor(id, def, false)
		for _, i := range rs {
			r, err := e.add(i)
			if err != nil {
				return err
			}
			made = append(made, r)
		}
		return nil
	}, co)
	if err == nil && o.Job == nil {
		c.out = []cim.ParamValue{{Name: "ResultingResourceSettings", Value: refArray(id, made)}}
	}
	return o, err
}

func refArray(owner string, rs []ref) cim.Value {
	paths := make([]*cim.ObjectPath, len(rs))
	for i, r := range rs {
		paths[i] = rasdPath(owner, r.dev, r.part)
	}
	return cim.NewReferenceArray(paths)
}

// allocationsOf reads allocation InstanceIDs and checks they belong to one
// virtual system (each call changes one system atomically).
func (p *Provider) allocationsOf(ids []string, param string) (string, []ref, error) {
	var owner string
	var out []ref
	for _, id := range ids {
		r, ok := parseInstanceID(id)
		switch {
		case ok && r.kind == kindTemplate:
			return "", nil, badParam("%s: %s is a template; pass it to DefineSystem or AddResourceSettings to allocate a resource", param, id)
		case !ok || r.kind != kindRASD:
			return "", nil, badParam("%s: %q is not a resource allocation of this server", param, id)
		}
		if _, err := p.m.System(r.id); err != nil {
			if _, serr := p.m.Snapshot(r.id); serr == nil {
				return "", nil, badParam("%s: %s belongs to a snapshot; snapshots cannot change", param, id)
			}
			return "", nil, badParam("%s: %s belongs to no virtual system", param, id)
		}
		if owner != "" && owner != r.id {
			return "", nil, badParam("%s: allocations of two virtual systems (%s, %s); change one system per call", param, owner, r.id)
		}
		owner = r.id
		out = append(out, r)
	}
	return owner, out, nil
}

func (c *call) modifyResourceSettings() (vmm.Outcome, error) {
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	rs, err := c.instances("ResourceSettings", true)
	if err != nil {
		return vmm.Outcome{}, err
	}
	if len(rs) == 0 {
		return vmm.Outcome{}, badParam("ResourceSettings is empty")
	}
	ids := make([]string, len(rs))
	for k, i := range rs {
		if ids[k], _ = str(i, "InstanceID"); ids[k] == "" {
			return vmm.Outcome{}, badParam("ResourceSettings[%d] has no InstanceID; send back the allocation you fetched, changed", k)
		}
	}
	owner, refs, err := c.p.allocationsOf(ids, "ResourceSettings")
	if err != nil {
		return vmm.Outcome{}, err
	}
	o, err := c.p.m.Modify(c.ctx, owner, func(def *vmm.Definition) error {
		e := c.p.newEditor(owner, def, false)
		for k, i := range rs {
			if err := e.modify(i, refs[k]); err != nil {
				return err
			}
		}
		return nil
	}, co)
	if err == nil && o.Job == nil {
		c.out = []cim.ParamValue{{Name: "ResultingResourceSettings", Value: refArray(owner, refs)}}
	}
	return o, err
}

func (c *call) removeResourceSettings() (vmm.Outcome, error) {
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	paths, err := c.in.refs("ResourceSettings")
	if err != nil {
		return vmm.Outcome{}, err
	}
	if len(paths) == 0 {
		return vmm.Outcome{}, badParam("ResourceSettings is empty")
	}
	ids := make([]string, len(paths))
	for k, p := range paths {
		if !c.p.isA(p.ClassName, "CIM_ResourceAllocationSettingData") {
			return vmm.Outcome{}, badParam("ResourceSettings[%d] %s is a %s, not a CIM_ResourceAllocationSettingData", k, p, p.ClassName)
		}
		ids[k] = keyString(p, "InstanceID")
	}
	owner, refs, err := c.p.allocationsOf(ids, "ResourceSettings")
	if err != nil {
		return vmm.Outcome{}, err
	}
	return c.p.m.Modify(c.ctx, owner, func(def *vmm.Definition) error {
		e := c.p.newEditor(owner, def, false)
		for _, r := range refs {
			if err := e.remove(r); err != nil {
				return err
			}
		}
		return nil
	}, co)
}

func (c *call) destroySystem() (vmm.Outcome, error) {
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	id, err := c.systemParam("AffectedSystem")
	if err != nil {
		return vmm.Outcome{}, err
	}
	return c.p.m.Destroy(c.ctx, id, co)
}

// systemParam reads a reference to one of the virtual systems.
func (c *call) systemParam(name string) (string, error) {
	path, err := c.in.ref(name)
	if err != nil {
		return "", err
	}
	r, ok := c.p.parseRef(path)
	if !ok || r.kind != kindSystem {
		return "", badParam("%s %s is not a virtual system of this server", name, path)
	}
	if _, err := c.p.m.System(r.id); err != nil {
		return "", badParam("%s %s does not exist", name, path)
	}
	return r.id, nil
}

// ---------------------------------------------------------------------------
// Virtual system state

func (c *call) requestStateChange(id string) (vmm.Outcome, error) {
	c.method = "RequestStateChange"
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	rs, ok, err := c.in.uint16("RequestedState")
	switch {
	case err != nil:
		return vmm.Outcome{}, err
	case !ok:
		return vmm.Outcome{}, badParam("RequestedState is missing")
	case rs == 7 || rs == 8:
		return vmm.Outcome{}, notSupported("RequestedState %d (%s) is not supported for virtual systems", rs, map[uint16]string{7: "Test", 8: "Defer"}[rs])
	}
	return c.p.m.RequestState(c.ctx, id, vmm.Transition(rs), co)
}

// ---------------------------------------------------------------------------
// Snapshot service

func (c *call) createSnapshot() (vmm.Outcome, error) {
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	id, err := c.systemParam("AffectedSystem")
	if err != nil {
		return vmm.Outcome{}, err
	}
	req := vmm.SnapshotRequest{Kind: vmm.SnapshotFull}
	if t, ok, err := c.in.uint16("SnapshotType"); err != nil {
		return vmm.Outcome{}, err
	} else if ok {
		if t != 2 && t != 3 {
			return vmm.Outcome{}, fmt.Errorf("%w: %w", &vmm.Error{Code: vmm.InvalidParameter,
				Msg: fmt.Sprintf("SnapshotType %d: this server takes full (2) and disk (3) snapshots", t)}, errInvalidType)
		}
		req.Kind = vmm.SnapshotKind(t)
	}
	settings, err := c.instance("SnapshotSettings", false)
	if err != nil {
		return vmm.Outcome{}, err
	}
	if settings != nil {
		req.Name, _ = str(settings, "ElementName")
		req.Description, _ = str(settings, "Description")
	}
	o, err := c.p.m.CreateSnapshot(c.ctx, id, req, co)
	if err == nil && o.Job == nil {
		c.out = []cim.ParamValue{{Name: "ResultingSnapshot", Value: cim.NewReference(idPath(classVSSD, vssdID(o.Snapshot)))}}
	}
	return o, err
}

// snapshotParam reads a reference to a snapshot.
func (c *call) snapshotParam(name string) (string, error) {
	path, err := c.in.ref(name)
	if err != nil {
		return "", err
	}
	r, ok := c.p.parseRef(path)
	if !ok || r.kind != kindVSSD {
		return "", badParam("%s %s is not a snapshot of this server", name, path)
	}
	if _, err := c.p.m.Snapshot(r.id); err != nil {
		if _, serr := c.p.m.System(r.id); serr == nil {
			return "", badParam("%s %s is the settings of a virtual system, not a snapshot", name, path)
		}
		return "", badParam("%s %s does not exist", name, path)
	}
	return r.id, nil
}

func (c *call) applySnapshot() (vmm.Outcome, error) {
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	id, err := c.snapshotParam("Snapshot")
	if err != nil {
		return vmm.Outcome{}, err
	}
	return c.p.m.ApplySnapshot(c.ctx, id, co)
}

func (c *call) destroySnapshot() (vmm.Outcome, error) {
	co, err := c.options()
	if err != nil {
		return vmm.Outcome{}, err
	}
	id, err := c.snapshotParam("AffectedSnapshot")
	if err != nil {
		return vmm.Outcome{}, err
	}
	return c.p.m.DestroySnapshot(c.ctx, id, co)
}

// ---------------------------------------------------------------------------
// Jobs

func (c *call) jobMethod(id, method string) (cim.Value, []cim.ParamValue, error) {
	j, _ := c.p.m.Job(id)
	errOut := func() []cim.Value {
		if err := j.Err(); err != nil {
			return []cim.Value{cim.NewEmbeddedInstance(c.p.errorInstance(err, j.Method, c.path))}
		}
		return nil
	}
	switch strings.ToLower(method) {
	case "geterror":
		out := []cim.ParamValue{{Name: "Error", Value: cim.Null(cim.TypeString)}}
		if e := errOut(); e != nil {
			out[0].Value = e[0]
		}
		return cim.NewUint32(0), out, nil
	case "geterrors":
		var is []*cim.Instance
		for _, e := range errOut() {
			is = append(is, e.Instance())
		}
		return cim.NewUint32(0), []cim.ParamValue{{Name: "Errors", Value: cim.NewEmbeddedInstanceArray(is)}}, nil
	case "requeststatechange", "killjob":
		kill := strings.EqualFold(method, "KillJob")
		rs := uint16(4)
		if !kill {
			v, ok, err := c.in.uint16("RequestedState")
			if err != nil || !ok {
				return cim.NewUint32(rscInvalidParam), nil, nil
			}
			rs = v
		}
		switch {
		case rs == 2 && !j.State.Finished():
			return cim.NewUint32(0), nil, nil
		case rs == 3 || rs == 6 || rs == 2:
			return cim.NewUint32(map[bool]uint32{true: rscInvalidTransit, false: rcNotSupported}[j.State.Finished()]), nil, nil
		case rs != 4 && rs != 5:
			return cim.NewUint32(rscInvalidParam), nil, nil
		}
		if err := c.p.m.TerminateJob(id); err != nil {
			rc := methodCode("RequestStateChange", vmm.CodeOf(err))
			if kill {
				rc = map[vmm.Code]uint32{vmm.NotSupported: 1, vmm.NotFound: 7}[vmm.CodeOf(err)]
				if rc == 0 {
					rc = 4
				}
			}
			return cim.NewUint32(rc), nil, nil
		}
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		defer cancel()
		c.p.m.WaitJob(ctx, id)
		if kill {
			if v, ok := c.in.get("DeleteOnKill"); ok && v.Bool() {
				c.p.m.DeleteJob(id)
			}
		}
		return cim.NewUint32(0), nil, nil
	}
	return cim.Value{}, nil, cim.Errorf(cim.ErrMethodNotFound, "%s has no method %s", classJob, method)
}

// ---------------------------------------------------------------------------
// CIM_Error

var errorDetails = map[vmm.Code]struct {
	errorType uint16 // CIM_Error.ErrorType
	cause     string // CIM_Error.ProbableCause, by its Values text
	severity  uint16
	status    cim.Status
}{
	vmm.Failed:                {4, "Software Error", 5, cim.ErrFailed},
	vmm.InvalidParameter:      {4, "Configuration/Customization Error", 4, cim.ErrInvalidParameter},
	vmm.InvalidState:          {4, "Procedural Error", 4, cim.ErrFailed},
	vmm.Busy:                  {9, "Element Unavailable", 3, cim.ErrFailed},
	vmm.NotFound:              {4, "Element Missing", 4, cim.ErrNotFound},
	vmm.NotSupported:          {10, "Unexpected Information", 4, cim.ErrNotSupported},
	vmm.Incompatible:          {4, "Configuration/Customization Error", 4, cim.ErrInvalidParameter},
	vmm.Timeout:               {4, "Timeout", 4, cim.ErrFailed},
	vmm.InUse:                 {9, "Identifier Duplication", 4, cim.ErrAlreadyExists},
	vmm.InsufficientResources: {8, "Storage Capacity Problem", 5, cim.ErrFailed},
}

// errorInstance describes a failure as a CIM_Error.
func (p *Provider) errorInstance(err error, method string, source *cim.ObjectPath) *cim.Instance {
	code := vmm.CodeOf(err)
	d, ok := errorDetails[code]
	if !ok {
		d = errorDetails[vmm.Failed]
	}
	b := p.newInst("CIM_Error").
		set("ErrorType", d.errorType).
		set("OwningEntity", "HC").
		set("MessageID", fmt.Sprintf("HCV%04d", int(code))).
		set("Message", err.Error()).
		set("PerceivedSeverity", d.severity).
		set("CIMStatusCode", uint32(d.status)).
		set("CIMStatusCodeDescription", d.status.Name()).
		set("ProbableCauseDescription", code.String())
	if source != nil {
		b.set("ErrorSource", source.String()).set("ErrorSourceFormat", uint16(2))
	}
	if method != "" {
		b.set("MessageArguments", []string{method})
	}
	if c, e := p.class("CIM_Error"); e == nil {
		if prop := c.Property("ProbableCause"); prop != nil {
			if vm, e := prop.ValueMap(); e == nil {
				if v, ok := vm.ValueOf(d.cause); ok {
					b.set("ProbableCause", v)
				}
			}
		}
	}
	if b.err != nil {
		p.log.WithError(b.err).Error("building CIM_Error")
		return cim.NewInstance("CIM_Error")
	}
	return b.i
}
