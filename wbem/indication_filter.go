package wbem

import (
	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/query"
)

// Lifecycle kinds, as bits of indFilter.lifecycle.
const (
	lifecycleCreation uint8 = 1 << iota
	lifecycleModification
	lifecycleDeletion
)

// Lifecycle indication classes (DSP1054 / CIM_InstIndication).
const (
	classInstCreation     = "CIM_InstCreation"
	classInstModification = "CIM_InstModification"
	classInstDeletion     = "CIM_InstDeletion"
)

// lifecycleClass pairs a lifecycle kind with its indication class.
type lifecycleClass struct {
	kind  uint8
	class string
}

// lifecycleClasses returns the lifecycle indication classes.
func lifecycleClasses() [3]lifecycleClass {
	return [...]lifecycleClass{
		{lifecycleCreation, classInstCreation},
		{lifecycleModification, classInstModification},
		{lifecycleDeletion, classInstDeletion},
	}
}

// indFilter is a compiled indication filter: a query checked in each of
// its source namespaces.
type indFilter struct {
	key  string
	path *cim.ObjectPath // nil for the filter of a Go subscription
	inst *cim.Instance   // as created (nil for Go subscriptions)
	name string          // for IndicationFilterName
	// selects holds the query checked against each source namespace
	// (folded name); lifecycle the lifecycle kinds it may select there.
	selects   map[string]*query.Select
	sources   []string // resolved source namespaces
	lifecycle map[string]uint8
	// err is why a stored filter no longer compiles (a class deleted
	// since): it then selects nothing.
	err  error
	refs int // subscriptions using it; guarded by Indications.mu
}

// compileFilter parses and checks a query in every source namespace.
// Errors are CIM_ERR_INVALID_PARAMETER (bad query, unknown or non
// indication class, unknown namespace) and CIM_ERR_NOT_SUPPORTED (query
// language), the statuses DSP0200 allows CreateInstance.
func (x *Indications) compileFilter(language, text string, sources []string) (*indFilter, error) {
	lang, err := query.CanonicalLanguage(language)
	if err != nil || lang == query.FQL {
		return nil, errorf(cim.ErrNotSupported, "QueryLanguage %q is not supported for indication filters: use WQL or DMTF:CQL", language)
	}
	f := &indFilter{selects: map[string]*query.Select{}, lifecycle: map[string]uint8{}}
	for _, ns := range sources {
		name, err := x.s.resolveNamespace(ns)
		if err != nil {
			return nil, errorf(cim.ErrInvalidParameter, "source namespace %s does not exist", ns)
		}
		key := cim.FoldName(name)
		if f.selects[key] != nil {
			continue
		}
		// Check changes the parsed query (literals typed for the class),
		// so each namespace gets its own.
		sel, err := query.ParseSelect(lang, text)
		if err != nil {
			return nil, errorf(cim.ErrInvalidParameter, "invalid indication filter query: %s", errText(err))
		}
		cls, err := x.s.Class(name, sel.ClassName)
		if err != nil {
			return nil, errorf(cim.ErrInvalidParameter, "the class %s of the query's FROM clause does not exist in source namespace %s", sel.ClassName, name)
		}
		if !cls.IsIndication() {
			return nil, errorf(cim.ErrInvalidParameter, "the class %s of the query's FROM clause is not an indication class", cls.Name)
		}
		if err := sel.Check(cls, schemaOf{s: x.s, ns: name}.lookup); err != nil {
			return nil, errorf(cim.ErrInvalidParameter, "invalid indication filter query: %s", errText(err))
		}
		var mask uint8
		for _, lc := range lifecycleClasses() {
			if x.s.IsA(name, lc.class, cls.Name) {
				mask |= lc.kind
			}
		}
		f.selects[key] = sel
		f.lifecycle[key] = mask
		f.sources = append(f.sources, name)
	}
	return f, nil
}

// filterSources returns the source namespaces of a CIM_IndicationFilter
// instance: SourceNamespaces, else the deprecated SourceNamespace, else
// the filter's own namespace, as the class describes.
func filterSources(inst *cim.Instance, own string) []string {
	if v := inst.Get("SourceNamespaces"); v.IsArray() && !v.IsNull() && v.Len() > 0 {
		var out []string
		for i, n := 0, v.Len(); i < n; i++ {
			if !v.IsNullAt(i) && CanonicalNamespace(v.Index(i).Str()) != "" {
				out = append(out, v.Index(i).Str())
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	if v := inst.Get("SourceNamespace"); !v.IsNull() && CanonicalNamespace(v.Str()) != "" {
		return []string{v.Str()}
	}
	return []string{own}
}
