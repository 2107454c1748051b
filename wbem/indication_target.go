package wbem

import (
	"context"
	"errors"
	"fmt"

	"github.com/hypercim/hypercim/cim"
)

// SubscriptionTarget is what a subscription request names, in the terms
// of WS-Management's Subscribe (DSP0227 clause 10.2): a namespace with a
// query, an indication class (with or without a query), or an existing
// CIM_IndicationFilter instance. ResolveSubscription turns it into the
// query and source namespaces of a SubscribeRequest.
type SubscriptionTarget struct {
	// Namespace is the namespace the request names. When empty,
	// DefaultNamespace is used, except that a filter instance is looked
	// for in the interop namespace, where filters live.
	Namespace, DefaultNamespace string
	// Class, when set, is the class subscribed to: an indication class
	// (its indications and its subclasses', or those the query selects,
	// whose FROM class must be Class or a subclass of it), or
	// CIM_IndicationFilter or a subclass (the filter instance Keys name,
	// whose query and source namespaces are used). When empty, the
	// query says what is selected in Namespace.
	Class string
	// Keys name the filter instance; nothing else takes keys.
	Keys []cim.KeyBinding
	// QueryLanguage ("WQL" or "DMTF:CQL") and Query are the subscriber's
	// own filter, if any.
	QueryLanguage, Query string
}

// Why ResolveSubscription refuses a target, beside the errors of
// resolving namespaces and classes and of checking the query (a
// *cim.Error with CIM_ERR_INVALID_PARAMETER whose cause is one of these).
var (
	// ErrQueryRequired: a subscription to a namespace needs a query.
	ErrQueryRequired = errors.New("wbem: the subscription needs a query")
	// ErrNotIndicationClass: the class is neither an indication class
	// nor CIM_IndicationFilter.
	ErrNotIndicationClass = errors.New("wbem: not an indication class")
	// ErrQueryOutsideClass: the query's FROM class is not the subscribed
	// class or a subclass of it.
	ErrQueryOutsideClass = errors.New("wbem: the query selects another class")
	// ErrUnexpectedKeys: keys were given for something other than a
	// filter instance.
	ErrUnexpectedKeys = errors.New("wbem: keys name only a filter instance")
	// ErrFilterKeys: the keys do not name a filter instance (none given,
	// or not its keys).
	ErrFilterKeys = errors.New("wbem: the keys do not name a filter instance")
	// ErrQueryWithFilter: a query was given with a filter instance, which
	// has its own.
	ErrQueryWithFilter = errors.New("wbem: a filter instance has its own query")
	// ErrNoIndicationClasses: the namespace has no CIM_Indication class.
	ErrNoIndicationClasses = errors.New("wbem: the namespace has no indication classes")
)

// refuse returns a CIM_ERR_INVALID_PARAMETER caused by why.
func refuse(why error, format string, args ...any) error {
	return &cim.Error{Status: cim.ErrInvalidParameter, Description: fmt.Sprintf(format, args...), Err: why}
}

// ResolveSubscription checks a subscription target for the principal of
// ctx (who must be allowed to read its namespace) and returns the query
// language, query and source namespaces to subscribe with; the caller
// adds the rest of the SubscribeRequest. The query is checked as
// Subscribe checks it, so that a request is refused before anything is
// set up for it.
func (x *Indications) ResolveSubscription(ctx context.Context, t SubscriptionTarget) (SubscribeRequest, error) {
	ns := t.Namespace
	if ns == "" {
		ns = t.DefaultNamespace
		if t.Class != "" && x.s.IsA(InteropNamespace, t.Class, ClassIndicationFilter) {
			ns = InteropNamespace
		}
	}
	c, err := x.s.begin(ctx, "ResolveSubscription", ns, t.Class, false)
	if err != nil {
		return SubscribeRequest{}, err
	}
	req, err := x.resolve(ctx, c.ns, t)
	return req, c.end(err)
}

func (x *Indications) resolve(ctx context.Context, ns string, t SubscriptionTarget) (SubscribeRequest, error) {
	req := SubscribeRequest{QueryLanguage: t.QueryLanguage, Query: t.Query, SourceNamespaces: []string{ns}}
	if t.Class == "" {
		switch {
		case len(t.Keys) > 0:
			return req, refuse(ErrUnexpectedKeys, "a subscription to the indications of namespace %s takes no keys", ns)
		case t.Query == "":
			return req, refuse(ErrQueryRequired, "a subscription to the indications of namespace %s needs a query", ns)
		}
		if _, err := x.s.Class(ns, "CIM_Indication"); err != nil {
			return req, refuse(ErrNoIndicationClasses, "the namespace %s has no indication classes", ns)
		}
		_, err := x.compileFilter(t.QueryLanguage, t.Query, req.SourceNamespaces)
		return req, err
	}
	cls, err := x.s.Class(ns, t.Class)
	if err != nil {
		return req, err
	}
	if x.s.IsA(ns, cls.Name, ClassIndicationFilter) {
		return x.existingFilter(ctx, ns, cls, t)
	}
	switch {
	case !cls.IsIndication():
		return req, refuse(ErrNotIndicationClass, "%s is not an indication class", cls.Name)
	case len(t.Keys) > 0:
		return req, refuse(ErrUnexpectedKeys, "a subscription to the indication class %s takes no keys", cls.Name)
	case t.Query == "":
		req.QueryLanguage, req.Query = "WQL", "SELECT * FROM "+cls.Name
		return req, nil
	}
	f, err := x.compileFilter(t.QueryLanguage, t.Query, req.SourceNamespaces)
	if err != nil {
		return req, err
	}
	for _, sel := range f.selects {
		if !x.s.IsA(ns, sel.ClassName, cls.Name) {
			return req, refuse(ErrQueryOutsideClass, "the query selects %s, which is not %s or a subclass of it", sel.ClassName, cls.Name)
		}
	}
	return req, nil
}

// existingFilter reads the filter instance t names: its query and source
// namespaces (DSP0227 10.2.1.3, subscribing with an existing filter).
func (x *Indications) existingFilter(ctx context.Context, ns string, cls *cim.Class, t SubscriptionTarget) (SubscribeRequest, error) {
	switch {
	case t.Query != "":
		return SubscribeRequest{}, refuse(ErrQueryWithFilter, "a subscription to a %s takes the query of the filter instance; give none", cls.Name)
	case len(t.Keys) == 0:
		return SubscribeRequest{}, refuse(ErrFilterKeys, "name the %s instance by its keys (%v)", cls.Name, cls.KeyNames())
	}
	inst, err := x.s.GetInstance(ctx, ns, cim.NewInstancePath(ns, cls.Name, t.Keys...), InstanceOptions{})
	if err != nil {
		if cim.StatusOf(err) == cim.ErrInvalidParameter {
			return SubscribeRequest{}, refuse(ErrFilterKeys, "the keys do not name a %s instance: %s", cls.Name, errText(err))
		}
		return SubscribeRequest{}, err
	}
	return SubscribeRequest{
		QueryLanguage:    inst.Get("QueryLanguage").Str(),
		Query:            inst.Get("Query").Str(),
		SourceNamespaces: filterSources(inst, ns),
	}, nil
}
