package interop_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/providers/interop"
	"github.com/hypercim/hypercim/schemas"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/cimxml/export"
)

// indEnv is a server with the interop provider and a CIM-XML exporter,
// over a repository in a directory that outlives it (for restarts).
type indEnv struct {
	srv  *wbem.Server
	prov *interop.Provider
	ctx  context.Context
	stop func()
}

func openIndEnv(t *testing.T, dir string) *indEnv {
	t.Helper()
	repo, err := repository.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := repo.NewBulkWriter()
	if _, err := schemas.Install(w, schemas.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, err := wbem.NewServer(wbem.Config{Repository: repo, Logger: log, Indications: wbem.IndicationConfig{
		DeliveryRetryAttempts: 3, DeliveryRetryInterval: 20 * time.Millisecond, DeliveryTimeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := export.NewClient(export.Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Indications().SetExporter(wbem.ProtocolCIMXML, client)
	prov, err := interop.New(srv, interop.Config{Product: "hypercim", Version: "0.1.0", SystemName: "testhost"})
	if err != nil {
		t.Fatal(err)
	}
	if err := prov.Register(srv.Registry()); err != nil {
		t.Fatal(err)
	}
	e := &indEnv{srv: srv, prov: prov, ctx: wbem.Internal(context.Background())}
	stopped := false
	e.stop = func() {
		if !stopped {
			stopped = true
			srv.Close()
			client.Close()
			repo.Close()
		}
	}
	t.Cleanup(e.stop)
	return e
}

// cimListener is a CIM-XML listener on a local port.
type cimListener struct {
	*httptest.Server
	mu   sync.Mutex
	got  []*cim.Instance
	more chan struct{}
	// refuse, when set, answers an export instead of accepting it.
	refuse func(n int) error
	calls  int
}

func newCIMListener(t *testing.T) *cimListener {
	t.Helper()
	l := &cimListener{more: make(chan struct{}, 1)}
	h, err := export.NewListener(export.ListenerConfig{Handle: func(_ context.Context, ind export.Indication) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.calls++
		if l.refuse != nil {
			if err := l.refuse(l.calls); err != nil {
				return err
			}
		}
		l.got = append(l.got, ind.Instance)
		select {
		case l.more <- struct{}{}:
		default:
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	l.Server = httptest.NewServer(h)
	t.Cleanup(l.Close)
	return l
}

func (l *cimListener) wait(t *testing.T, n int) []*cim.Instance {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		if len(l.got) >= n {
			out := append([]*cim.Instance(nil), l.got...)
			l.mu.Unlock()
			return out
		}
		l.mu.Unlock()
		select {
		case <-l.more:
		case <-deadline:
			t.Fatalf("the listener received %d indications, want %d", l.count(), n)
		}
	}
}

func (l *cimListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

func (e *indEnv) create(t *testing.T, inst *cim.Instance) *cim.ObjectPath {
	t.Helper()
	p, err := e.srv.CreateInstance(e.ctx, "root/interop", inst)
	if err != nil {
		t.Fatalf("creating %s: %v", inst.ClassName, err)
	}
	return p
}

func filterInstance(name, query string, sources ...string) *cim.Instance {
	f := cim.NewInstance("CIM_IndicationFilter")
	f.Set("Name", cim.NewString(name))
	f.Set("Query", cim.NewString(query))
	f.Set("QueryLanguage", cim.NewString("WQL"))
	if len(sources) > 0 {
		f.Set("SourceNamespaces", cim.NewStringArray(sources))
	}
	return f
}

func destinationInstance(class, name, url string) *cim.Instance {
	d := cim.NewInstance(class)
	d.Set("Name", cim.NewString(name))
	d.Set("Destination", cim.NewString(url))
	return d
}

func subscriptionInstance(filter, handler *cim.ObjectPath) *cim.Instance {
	s := cim.NewInstance("CIM_IndicationSubscription")
	s.Set("Filter", cim.NewReference(filter))
	s.Set("Handler", cim.NewReference(handler))
	return s
}

// subscribe creates a filter, a destination and a subscription.
func (e *indEnv) subscribe(t *testing.T, name, query string, l *cimListener, sources ...string) (filter, dest, sub *cim.ObjectPath) {
	t.Helper()
	filter = e.create(t, filterInstance(name, query, sources...))
	dest = e.create(t, destinationInstance("CIM_ListenerDestinationCIMXML", name, l.URL+"/cimlistener"))
	sub = e.create(t, subscriptionInstance(filter, dest))
	return filter, dest, sub
}

func hostSystem(name string) *cim.Instance {
	h := cim.NewInstance("HC_HostSystem")
	h.Set("CreationClassName", cim.NewString("HC_HostSystem"))
	h.Set("Name", cim.NewString(name))
	return h
}

func TestIndicationSubscriptionDelivers(t *testing.T) {
	e := openIndEnv(t, t.TempDir())
	l := newCIMListener(t)
	filter, dest, sub := e.subscribe(t, "systems", "SELECT * FROM CIM_InstIndication WHERE SourceInstance ISA CIM_ComputerSystem", l, "root/virt")

	// The keys the provider filled in, and what reads give back.
	if v, _ := filter.Key("SystemName"); v.Str() != "testhost" || filter.Namespace != "root/interop" || filter.ClassName != "CIM_IndicationFilter" {
		t.Errorf("filter path %v", filter)
	}
	if v, _ := dest.Key("CreationClassName"); v.Str() != "CIM_ListenerDestinationCIMXML" {
		t.Errorf("destination path %v", dest)
	}
	s, err := e.srv.GetInstance(e.ctx, "root/interop", sub, wbem.InstanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Get("SubscriptionState").Uint16() != 2 || s.Get("SubscriptionStartTime").IsNull() || !s.Get("Filter").Ref().Equal(filter) {
		t.Errorf("subscription %v", s)
	}
	d, err := e.srv.GetInstance(e.ctx, "root/interop", dest, wbem.InstanceOptions{})
	if err != nil || d.Get("Protocol").Uint16() != 2 || d.Get("PersistenceType").Uint16() != 2 {
		t.Errorf("destination %v %v", d, err)
	}
	refs := collectPaths(t, func(yield func(*cim.ObjectPath) error) error {
		return e.srv.ReferenceNames(e.ctx, "root/interop", filter, wbem.AssocFilter{}, yield)
	})
	if len(refs) != 1 || !refs[0].Equal(sub) {
		t.Errorf("references of the filter: %v", refs)
	}

	// Static instances of root/virt change: lifecycle indications arrive.
	hp, err := e.srv.CreateInstance(e.ctx, "root/virt", hostSystem("h1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetProperty(e.ctx, "root/virt", hp, "ElementName", cim.NewString("first host")); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.DeleteInstance(e.ctx, "root/virt", hp); err != nil {
		t.Fatal(err)
	}
	got := l.wait(t, 3)
	for i, want := range []string{"CIM_InstCreation", "CIM_InstModification", "CIM_InstDeletion"} {
		ind := got[i]
		src := ind.Get("SourceInstance").Instance()
		mp, err := cim.ParseObjectPath(ind.Get("SourceInstanceModelPath").Str())
		if ind.ClassName != want || src == nil || src.Get("Name").Str() != "h1" || ind.Get("IndicationFilterName").Str() != "systems" ||
			err != nil || !mp.Equal(hp.WithNamespace("", "")) {
			t.Errorf("indication %d: %v", i, ind)
		}
	}
	if prev := got[1].Get("PreviousInstance").Instance(); prev == nil || !prev.Get("ElementName").IsNull() ||
		got[1].Get("SourceInstance").Instance().Get("ElementName").Str() != "first host" {
		t.Errorf("modification %v", got[1])
	}
	s, _ = e.srv.GetInstance(e.ctx, "root/interop", sub, wbem.InstanceOptions{})
	if s.Get("LastIndicationIdentifier").Str() != got[2].Get("IndicationIdentifier").Str() || s.Get("LastIndicationProductionDateTime").IsNull() {
		t.Errorf("last indication of the subscription: %v", s)
	}

	// Provider-published indications of root/virt go through the same
	// filters: an alert is not an InstIndication.
	alert := cim.NewInstance("CIM_AlertIndication")
	alert.Set("AlertType", cim.NewUint16(5))
	alert.Set("PerceivedSeverity", cim.NewUint16(6))
	alert.Set("ProbableCause", cim.NewUint16(0))
	if err := e.srv.PublishIndication(context.Background(), "root/virt", alert); err != nil {
		t.Fatal(err)
	}
	_, _, _ = e.subscribe(t, "alerts", "SELECT * FROM CIM_AlertIndication WHERE PerceivedSeverity >= 6", l, "root/virt")
	if err := e.srv.PublishIndication(context.Background(), "root/virt", alert); err != nil {
		t.Fatal(err)
	}
	got = l.wait(t, 4)
	if got[3].ClassName != "CIM_AlertIndication" || got[3].Get("IndicationFilterName").Str() != "alerts" {
		t.Errorf("alert %v", got[3])
	}

	// Deleting the subscription stops delivery at once.
	if err := e.srv.DeleteInstance(e.ctx, "root/interop", sub); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.CreateInstance(e.ctx, "root/virt", hostSystem("h2")); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.PublishIndication(context.Background(), "root/virt", alert); err != nil {
		t.Fatal(err)
	}
	got = l.wait(t, 5)
	time.Sleep(50 * time.Millisecond)
	if n := l.count(); n != 5 || got[4].ClassName != "CIM_AlertIndication" {
		t.Errorf("after deleting the subscription: %d indications, last %v", n, got[len(got)-1])
	}
	// Filter and destination can go once unused.
	if err := e.srv.DeleteInstance(e.ctx, "root/interop", filter); err != nil {
		t.Error(err)
	}
	if err := e.srv.DeleteInstance(e.ctx, "root/interop", dest); err != nil {
		t.Error(err)
	}
}

func collectPaths(t *testing.T, run func(func(*cim.ObjectPath) error) error) []*cim.ObjectPath {
	t.Helper()
	var out []*cim.ObjectPath
	if err := run(func(p *cim.ObjectPath) error { out = append(out, p); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIndicationObjectValidation(t *testing.T) {
	e := openIndEnv(t, t.TempDir())
	l := newCIMListener(t)
	status := func(what string, err error, want cim.Status) {
		t.Helper()
		if cim.StatusOf(err) != want {
			t.Errorf("%s: %v, want %s", what, err, want.Name())
		}
	}
	try := func(inst *cim.Instance) error {
		_, err := e.srv.CreateInstance(e.ctx, "root/interop", inst)
		return err
	}
	status("bad query", try(filterInstance("f", "SELECT FROM WHERE", "root/virt")), cim.ErrInvalidParameter)
	status("not an indication", try(filterInstance("f", "SELECT * FROM CIM_ComputerSystem", "root/virt")), cim.ErrInvalidParameter)
	status("unknown namespace", try(filterInstance("f", "SELECT * FROM CIM_InstCreation", "root/none")), cim.ErrInvalidParameter)
	noQuery := filterInstance("f", "", "root/virt")
	noQuery.Set("Query", cim.Null(cim.TypeString))
	status("no query", try(noQuery), cim.ErrInvalidParameter)
	cql := filterInstance("f", "SELECT * FROM CIM_InstCreation", "root/virt")
	cql.Set("QueryLanguage", cim.NewString("XPath"))
	status("language", try(cql), cim.ErrNotSupported)
	for _, u := range []string{"ftp://listener/", "listener:5990", "http://", "http://user:pw@listener/", ""} {
		status("destination "+u, try(destinationInstance("CIM_ListenerDestinationCIMXML", "d", u)), cim.ErrInvalidParameter)
	}
	other := destinationInstance("CIM_ListenerDestinationCIMXML", "d", l.URL)
	other.Set("Protocol", cim.NewUint16(6))
	status("SMTP", try(other), cim.ErrNotSupported)
	status("WS-Management destination", try(destinationInstance("CIM_ListenerDestinationWSManagement", "d", l.URL)), cim.ErrNotSupported)

	f := e.create(t, filterInstance("f", "SELECT * FROM CIM_InstCreation", "root/virt"))
	status("duplicate filter", try(filterInstance("f", "SELECT * FROM CIM_InstCreation", "root/virt")), cim.ErrAlreadyExists)
	d := e.create(t, destinationInstance("CIM_IndicationHandlerCIMXML", "legacy", l.URL))
	missing := f.Clone()
	missing.SetKey("Name", cim.NewString("nope"))
	status("missing filter", try(subscriptionInstance(missing, d)), cim.ErrInvalidParameter)
	wrongNS := f.WithNamespace("", "root/virt")
	status("filter in another namespace", try(subscriptionInstance(wrongNS, d)), cim.ErrInvalidParameter)
	bad := subscriptionInstance(f, d)
	bad.Set("RepeatNotificationPolicy", cim.NewUint16(3))
	status("repeat policy", try(bad), cim.ErrNotSupported)
	bad = subscriptionInstance(f, d)
	bad.Set("SubscriptionState", cim.NewUint16(1))
	status("state", try(bad), cim.ErrInvalidParameter)
	// A reference naming the superclass, as clients write it.
	super := d.Clone()
	super.ClassName = "CIM_ListenerDestination"
	sub := e.create(t, subscriptionInstance(f, super))
	status("duplicate subscription", try(subscriptionInstance(f, d)), cim.ErrAlreadyExists)

	status("delete filter in use", e.srv.DeleteInstance(e.ctx, "root/interop", f), cim.ErrFailed)
	status("delete destination in use", e.srv.DeleteInstance(e.ctx, "root/interop", d), cim.ErrFailed)

	// Modifications: what DSP1054 lets clients change.
	fi, err := e.srv.GetInstance(e.ctx, "root/interop", f, wbem.InstanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fi.Set("Query", cim.NewString("SELECT * FROM CIM_InstDeletion"))
	status("modify Query", e.srv.ModifyInstance(e.ctx, "root/interop", fi, false, nil), cim.ErrNotSupported)
	fi = cim.NewInstance("CIM_IndicationFilter")
	fi.Path = f
	fi.Set("ElementName", cim.NewString("creations"))
	if err := e.srv.ModifyInstance(e.ctx, "root/interop", fi, false, []string{"ElementName"}); err != nil {
		t.Errorf("modify ElementName: %v", err)
	}
	if err := e.srv.SetProperty(e.ctx, "root/interop", d, "Destination", cim.NewString("ftp://x/")); cim.StatusOf(err) != cim.ErrInvalidParameter {
		t.Errorf("modify Destination to a bad URL: %v", err)
	}
	status("modify the handler reference", e.srv.SetProperty(e.ctx, "root/interop", sub, "OnFatalErrorPolicy", cim.NewUint16(4)), cim.ErrNotSupported)
	if err := e.srv.DeleteInstance(e.ctx, "root/interop", sub); err != nil {
		t.Fatal(err)
	}
	status("delete again", e.srv.DeleteInstance(e.ctx, "root/interop", sub), cim.ErrNotFound)
	if _, err := e.srv.GetInstance(e.ctx, "root/interop", sub, wbem.InstanceOptions{}); cim.StatusOf(err) != cim.ErrNotFound {
		t.Errorf("GetInstance of a deleted subscription: %v", err)
	}
}

func TestSubscriptionStateAndDestinationChanges(t *testing.T) {
	e := openIndEnv(t, t.TempDir())
	l1, l2 := newCIMListener(t), newCIMListener(t)
	_, dest, sub := e.subscribe(t, "all", "SELECT * FROM CIM_InstCreation", l1, "root/virt")
	if err := e.srv.SetProperty(e.ctx, "root/interop", sub, "SubscriptionState", cim.NewUint16(4)); err != nil {
		t.Fatal(err)
	}
	s, _ := e.srv.GetInstance(e.ctx, "root/interop", sub, wbem.InstanceOptions{})
	if s.Get("SubscriptionState").Uint16() != 4 {
		t.Errorf("state %v", s.Get("SubscriptionState"))
	}
	if _, err := e.srv.CreateInstance(e.ctx, "root/virt", hostSystem("while-disabled")); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetProperty(e.ctx, "root/interop", dest, "Destination", cim.NewString(l2.URL+"/other")); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetProperty(e.ctx, "root/interop", sub, "SubscriptionState", cim.NewUint16(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.CreateInstance(e.ctx, "root/virt", hostSystem("enabled")); err != nil {
		t.Fatal(err)
	}
	got := l2.wait(t, 1)
	if got[0].Get("SourceInstance").Instance().Get("Name").Str() != "enabled" || l1.count() != 0 {
		t.Errorf("after re-enabling: %v; old listener got %d", got[0], l1.count())
	}
}

func TestDeliveryRetriesUntilTheListenerRecovers(t *testing.T) {
	e := openIndEnv(t, t.TempDir())
	var mu sync.Mutex
	calls := 0
	l := newCIMListener(t)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n <= 2 { // down for the first two attempts
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		l.Config.Handler.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	f := e.create(t, filterInstance("f", "SELECT * FROM CIM_InstCreation", "root/virt"))
	d := e.create(t, destinationInstance("CIM_ListenerDestinationCIMXML", "flaky", flaky.URL))
	e.create(t, subscriptionInstance(f, d))
	for _, name := range []string{"a", "b", "c"} {
		if _, err := e.srv.CreateInstance(e.ctx, "root/virt", hostSystem(name)); err != nil {
			t.Fatal(err)
		}
	}
	got := l.wait(t, 3)
	for i, name := range []string{"a", "b", "c"} {
		if got[i].Get("SourceInstance").Instance().Get("Name").Str() != name {
			t.Errorf("indication %d is about %v", i, got[i].Get("SourceInstance").Instance())
		}
	}
	if st := waitStats(t, e.srv, func(st wbem.IndicationStats) bool { return st.Delivered == 3 }); st.Retries != 2 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// waitStats waits until the indication counters satisfy ok (the listener
// sees an indication just before the sender counts it).
func waitStats(t *testing.T, srv *wbem.Server, ok func(wbem.IndicationStats) bool) wbem.IndicationStats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := srv.Indications().Stats()
		if ok(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOnFatalErrorPolicy(t *testing.T) {
	e := openIndEnv(t, t.TempDir())
	l := newCIMListener(t)
	l.refuse = func(int) error { return cim.NewError(cim.ErrNotSupported, "not interested") }
	f := e.create(t, filterInstance("f", "SELECT * FROM CIM_InstCreation", "root/virt"))
	disable := e.create(t, destinationInstance("CIM_ListenerDestinationCIMXML", "disable", l.URL))
	remove := e.create(t, destinationInstance("CIM_ListenerDestinationCIMXML", "remove", l.URL))
	ignore := e.create(t, destinationInstance("CIM_ListenerDestinationCIMXML", "ignore", l.URL))
	subs := map[string]*cim.ObjectPath{}
	for name, d := range map[string]*cim.ObjectPath{"disable": disable, "remove": remove, "ignore": ignore} {
		s := subscriptionInstance(f, d)
		s.Set("OnFatalErrorPolicy", cim.NewUint16(map[string]uint16{"ignore": 2, "disable": 3, "remove": 4}[name]))
		subs[name] = e.create(t, s)
	}
	if _, err := e.srv.CreateInstance(e.ctx, "root/virt", hostSystem("refused")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, errRemoved := e.srv.GetInstance(e.ctx, "root/interop", subs["remove"], wbem.InstanceOptions{})
		dis, _ := e.srv.GetInstance(e.ctx, "root/interop", subs["disable"], wbem.InstanceOptions{})
		if cim.StatusOf(errRemoved) == cim.ErrNotFound && dis != nil && dis.Get("SubscriptionState").Uint16() == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("policies not applied: remove %v, disable %v", errRemoved, dis)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ign, err := e.srv.GetInstance(e.ctx, "root/interop", subs["ignore"], wbem.InstanceOptions{})
	if err != nil || ign.Get("SubscriptionState").Uint16() != 2 {
		t.Errorf("Ignore: %v %v", ign, err)
	}
	if st := waitStats(t, e.srv, func(st wbem.IndicationStats) bool { return st.Dropped == 3 }); st.Retries != 0 || st.Dropped != 3 {
		t.Errorf("a refused indication is not retried: %+v", st)
	}
}

func TestSubscriptionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	l := newCIMListener(t)
	e := openIndEnv(t, dir)
	d := destinationInstance("CIM_ListenerDestinationCIMXML", "persistent", l.URL)
	d.Set("username", cim.NewString("cimlistener"))
	d.Set("password", cim.NewString("secret"))
	filter := e.create(t, filterInstance("persistent", "SELECT * FROM CIM_InstCreation WHERE SourceInstance.Name <> 'skip'", "root/virt"))
	dest := e.create(t, d)
	s := subscriptionInstance(filter, dest)
	s.Set("SubscriptionInfo", cim.NewString("kept"))
	sub := e.create(t, s)
	before, _ := e.srv.GetInstance(e.ctx, "root/interop", sub, wbem.InstanceOptions{})
	e.stop()

	e = openIndEnv(t, dir)
	for _, class := range []string{"CIM_IndicationFilter", "CIM_ListenerDestination", "CIM_IndicationSubscription"} {
		var n int
		if err := e.srv.EnumerateInstanceNames(e.ctx, "root/interop", class, func(*cim.ObjectPath) error { n++; return nil }); err != nil || n != 1 {
			t.Errorf("%s after restart: %d (%v)", class, n, err)
		}
	}
	after, err := e.srv.GetInstance(e.ctx, "root/interop", sub, wbem.InstanceOptions{})
	if err != nil || after.Get("SubscriptionInfo").Str() != "kept" ||
		after.Get("SubscriptionStartTime").Datetime() != before.Get("SubscriptionStartTime").Datetime() {
		t.Errorf("subscription after restart: %v %v", after, err)
	}
	di, err := e.srv.GetInstance(e.ctx, "root/interop", dest, wbem.InstanceOptions{})
	if err != nil || di.Get("username").Str() != "cimlistener" || !di.Get("password").IsNull() {
		t.Errorf("destination after restart (password never shown): %v %v", di, err)
	}
	for _, name := range []string{"skip", "after-restart"} {
		if _, err := e.srv.CreateInstance(e.ctx, "root/virt", hostSystem(name)); err != nil {
			t.Fatal(err)
		}
	}
	got := l.wait(t, 1)
	if got[0].Get("SourceInstance").Instance().Get("Name").Str() != "after-restart" {
		t.Errorf("after restart: %v", got[0])
	}
	// A deletion is stored too.
	if err := e.srv.DeleteInstance(e.ctx, "root/interop", sub); err != nil {
		t.Fatal(err)
	}
	e.stop()
	e = openIndEnv(t, dir)
	if _, err := e.srv.GetInstance(e.ctx, "root/interop", sub, wbem.InstanceOptions{}); cim.StatusOf(err) != cim.ErrNotFound {
		t.Errorf("a deleted subscription came back: %v", err)
	}
	if err := e.srv.DeleteInstance(e.ctx, "root/interop", filter); err != nil {
		t.Errorf("deleting the unused filter after restart: %v", err)
	}
}

func TestIndicationServiceInstances(t *testing.T) {
	e := openIndEnv(t, t.TempDir())
	host := cim.NewInstancePath("root/virt", "HC_HostSystem",
		cim.KeyBinding{Name: "CreationClassName", Value: cim.NewString("HC_HostSystem")},
		cim.KeyBinding{Name: "Name", Value: cim.NewString("testhost")})
	e.prov.SetHostSystem(host)
	var svcs, caps []*cim.Instance
	if err := e.srv.EnumerateInstances(e.ctx, "interop", "CIM_IndicationService", wbem.InstanceOptions{DeepInheritance: true}, func(i *cim.Instance) error {
		svcs = append(svcs, i)
		return nil
	}); err != nil || len(svcs) != 1 {
		t.Fatalf("indication services: %v %v", svcs, err)
	}
	svc := svcs[0]
	if svc.ClassName != "HC_IndicationService" || svc.Get("DeliveryRetryAttempts").Uint16() != 3 || svc.Get("DeliveryRetryInterval").Uint32() != 1 ||
		svc.Get("SubscriptionRemovalAction").Uint16() != 2 || svc.Get("SubscriptionRemovalTimeInterval").Uint32() != 2592000 ||
		!svc.Get("FilterCreationEnabled").Bool() || svc.Get("EnabledState").Uint16() != 2 {
		t.Errorf("service %v", svc)
	}
	capsOf := collectPaths(t, func(yield func(*cim.ObjectPath) error) error {
		return e.srv.AssociatorNames(e.ctx, "root/interop", svc.Path, wbem.AssocFilter{AssocClass: "CIM_ElementCapabilities"}, yield)
	})
	if len(capsOf) != 1 {
		t.Fatalf("capabilities of the service: %v", capsOf)
	}
	c, err := e.srv.GetInstance(e.ctx, "root/interop", capsOf[0], wbem.InstanceOptions{})
	if err != nil || !c.Get("SubscriptionsPersisted").Bool() || c.Get("MaxActiveSubscriptions").Uint32() != 1000 ||
		c.Get("DeliveryRetryAttemptsIsSettable").Bool() {
		t.Errorf("capabilities %v %v", c, err)
	}
	caps = append(caps, c)
	hosted := collectPaths(t, func(yield func(*cim.ObjectPath) error) error {
		return e.srv.AssociatorNames(e.ctx, "root/interop", svc.Path, wbem.AssocFilter{AssocClass: "CIM_HostedService"}, yield)
	})
	if len(hosted) != 1 || !hosted[0].Equal(host) {
		t.Errorf("hosting system: %v", hosted)
	}
	// DSP1054 is registered with the service as its central instance.
	var profile *cim.Instance
	if err := e.srv.EnumerateInstances(e.ctx, "interop", "CIM_RegisteredProfile", wbem.InstanceOptions{}, func(i *cim.Instance) error {
		if i.Get("RegisteredName").Str() == "Indications" {
			profile = i
		}
		return nil
	}); err != nil || profile == nil {
		t.Fatalf("the Indications profile is not registered: %v", err)
	}
	central := collectPaths(t, func(yield func(*cim.ObjectPath) error) error {
		return e.srv.AssociatorNames(e.ctx, "root/interop", profile.Path, wbem.AssocFilter{AssocClass: "CIM_ElementConformsToProfile"}, yield)
	})
	if len(central) != 1 || !central[0].Equal(svc.Path) || profile.Get("RegisteredVersion").Str() != "1.1.0" {
		t.Errorf("central instances of %v: %v", profile.Get("RegisteredVersion"), central)
	}
	// The service's settings are not for clients to change.
	if err := e.srv.SetProperty(e.ctx, "root/interop", svc.Path, "DeliveryRetryAttempts", cim.NewUint16(9)); cim.StatusOf(err) != cim.ErrNotSupported {
		t.Errorf("modifying the service: %v", err)
	}
	_ = caps
}

// A server without an exporter refuses CIM-XML destinations rather than
// accepting subscriptions it cannot serve.
func TestDestinationNeedsAnExporter(t *testing.T) {
	e := openIndEnv(t, t.TempDir())
	e.srv.Indications().SetExporter(wbem.ProtocolCIMXML, nil)
	_, err := e.srv.CreateInstance(e.ctx, "root/interop", destinationInstance("CIM_ListenerDestinationCIMXML", "d", "http://127.0.0.1:1/"))
	if cim.StatusOf(err) != cim.ErrNotSupported || !strings.Contains(err.Error(), "exporter") {
		t.Errorf("%v", err)
	}
	if errors.Is(err, cim.ErrNotSupported) == false {
		t.Errorf("%v is not CIM_ERR_NOT_SUPPORTED", err)
	}
}

func TestSubscriptionDuration(t *testing.T) {
	e := openIndEnv(t, t.TempDir())
	l := newCIMListener(t)
	f := e.create(t, filterInstance("f", "SELECT * FROM CIM_InstCreation", "root/virt"))
	d := e.create(t, destinationInstance("CIM_ListenerDestinationCIMXML", "d", l.URL))
	s := subscriptionInstance(f, d)
	s.Set("SubscriptionDuration", cim.NewUint64(1))
	sub := e.create(t, s)
	si, err := e.srv.GetInstance(e.ctx, "root/interop", sub, wbem.InstanceOptions{})
	if err != nil || si.Get("SubscriptionTimeRemaining").IsNull() || si.Get("SubscriptionTimeRemaining").Uint64() > 1 {
		t.Fatalf("subscription %v %v", si, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.srv.GetInstance(e.ctx, "root/interop", sub, wbem.InstanceOptions{})
		if cim.StatusOf(err) == cim.ErrNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The filter and destination stay, unused.
	if err := e.srv.DeleteInstance(e.ctx, "root/interop", f); err != nil {
		t.Error(err)
	}
}
