package wbem_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	. "github.com/hypercim/hypercim/wbem"
)

// ResolveSubscription decides what a subscription selects and says why it
// refuses one, so that a protocol adapter only maps its answer.
func TestResolveSubscription(t *testing.T) {
	e, done := newIndEnv(t, t.TempDir(), IndicationConfig{})
	defer done()
	x := e.srv.Indications()

	filter := cim.NewInstance(ClassIndicationFilter)
	for name, v := range map[string]cim.Value{
		"CreationClassName": cim.NewString(ClassIndicationFilter), "Name": cim.NewString("levels"),
		"SystemCreationClassName": cim.NewString("CIM_ComputerSystem"), "SystemName": cim.NewString("h"),
		"QueryLanguage": cim.NewString("WQL"), "Query": cim.NewString("SELECT * FROM T_Event WHERE Level > 2"),
		"SourceNamespaces": cim.NewStringArray([]string{indNS}),
	} {
		filter.Set(name, v)
	}
	fpath, err := e.srv.CreateInstance(e.ctx, InteropNamespace, filter)
	if err != nil {
		t.Fatal(err)
	}

	ok := []struct {
		name                   string
		t                      SubscriptionTarget
		lang, query, namespace string
	}{
		{"namespace with a query", SubscriptionTarget{Namespace: indNS, QueryLanguage: "WQL", Query: "SELECT * FROM T_Event"}, "WQL", "SELECT * FROM T_Event", indNS},
		{"default namespace", SubscriptionTarget{DefaultNamespace: indNS, QueryLanguage: "DMTF:CQL", Query: "SELECT * FROM CIM_InstCreation"}, "DMTF:CQL", "SELECT * FROM CIM_InstCreation", indNS},
		{"indication class", SubscriptionTarget{Namespace: indNS, Class: "CIM_ProcessIndication"}, "WQL", "SELECT * FROM CIM_ProcessIndication", indNS},
		{"class and a subclass query", SubscriptionTarget{Namespace: indNS, Class: "CIM_ProcessIndication", QueryLanguage: "WQL", Query: "SELECT * FROM T_Event WHERE Level = 1"}, "WQL", "SELECT * FROM T_Event WHERE Level = 1", indNS},
		{"filter instance, interop by default", SubscriptionTarget{DefaultNamespace: indNS, Class: ClassIndicationFilter, Keys: fpath.Keys}, "WQL", "SELECT * FROM T_Event WHERE Level > 2", indNS},
	}
	for _, c := range ok {
		req, err := x.ResolveSubscription(e.ctx, c.t)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if req.QueryLanguage != c.lang || req.Query != c.query || strings.Join(req.SourceNamespaces, ",") != c.namespace {
			t.Errorf("%s: %q %q %v", c.name, req.QueryLanguage, req.Query, req.SourceNamespaces)
		}
	}

	wql := func(t SubscriptionTarget, q string) SubscriptionTarget {
		t.QueryLanguage, t.Query = "WQL", q
		return t
	}
	key := []cim.KeyBinding{{Name: "Id", Value: cim.NewString("x")}}
	refused := []struct {
		name   string
		t      SubscriptionTarget
		why    error
		status cim.Status
	}{
		{"no query", SubscriptionTarget{Namespace: indNS}, ErrQueryRequired, cim.ErrInvalidParameter},
		{"keys on a namespace", wql(SubscriptionTarget{Namespace: indNS, Keys: key}, "SELECT * FROM T_Event"), ErrUnexpectedKeys, cim.ErrInvalidParameter},
		{"keys on an indication class", SubscriptionTarget{Namespace: indNS, Class: "T_Event", Keys: key}, ErrUnexpectedKeys, cim.ErrInvalidParameter},
		{"not an indication class", SubscriptionTarget{Namespace: indNS, Class: "T_Widget"}, ErrNotIndicationClass, cim.ErrInvalidParameter},
		{"query outside the class", wql(SubscriptionTarget{Namespace: indNS, Class: "T_Event"}, "SELECT * FROM CIM_InstCreation"), ErrQueryOutsideClass, cim.ErrInvalidParameter},
		{"filter without keys", SubscriptionTarget{Namespace: InteropNamespace, Class: ClassIndicationFilter}, ErrFilterKeys, cim.ErrInvalidParameter},
		{"filter with other keys", SubscriptionTarget{Namespace: InteropNamespace, Class: ClassIndicationFilter, Keys: key}, ErrFilterKeys, cim.ErrInvalidParameter},
		{"filter and a query", wql(SubscriptionTarget{Class: ClassIndicationFilter, Keys: fpath.Keys}, "SELECT * FROM T_Event"), ErrQueryWithFilter, cim.ErrInvalidParameter},
		{"unknown namespace", wql(SubscriptionTarget{Namespace: "root/nowhere"}, "SELECT * FROM CIM_InstCreation"), nil, cim.ErrInvalidNamespace},
		{"unknown class", SubscriptionTarget{Namespace: indNS, Class: "T_Nothing"}, nil, cim.ErrInvalidClass},
		{"bad query", wql(SubscriptionTarget{Namespace: indNS}, "SELECT FROM"), nil, cim.ErrInvalidParameter},
		{"query of no indication", wql(SubscriptionTarget{Namespace: indNS}, "SELECT * FROM T_Widget"), nil, cim.ErrInvalidParameter},
		{"language", SubscriptionTarget{Namespace: indNS, QueryLanguage: "XQL", Query: "x"}, nil, cim.ErrNotSupported},
	}
	for _, c := range refused {
		_, err := x.ResolveSubscription(e.ctx, c.t)
		wantStatus(t, c.name, err, c.status)
		if c.why != nil && !errors.Is(err, c.why) {
			t.Errorf("%s: %v is not %v", c.name, err, c.why)
		}
	}
	// A namespace without the indication classes.
	if err := e.srv.CreateNamespace("root/plain"); err != nil {
		t.Fatal(err)
	}
	_, err = x.ResolveSubscription(e.ctx, wql(SubscriptionTarget{Namespace: "root/plain"}, "SELECT * FROM CIM_InstCreation"))
	if !errors.Is(err, ErrNoIndicationClasses) {
		t.Errorf("namespace without indications: %v", err)
	}
	// The caller must be allowed to read the namespace.
	_, err = x.ResolveSubscription(WithPrincipal(e.ctx, Principal{User: "nobody"}), SubscriptionTarget{Namespace: indNS, Class: "T_Event"})
	wantStatus(t, "unauthorized", err, cim.ErrAccessDenied)
}
