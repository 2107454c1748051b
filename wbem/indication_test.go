package wbem_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/mof"
	"github.com/hypercim/hypercim/schemas"
	. "github.com/hypercim/hypercim/wbem"
)

// indNS holds the classes of the indication tests: static T_Widget and
// T_Gadget instances and the T_Event indication, with DMTF's indication
// classes.
const indNS = "root/ind"

const indMOF = `
class T_Widget { [Key] string Id; string Color; uint32 Size; };
class T_Gadget : T_Widget { boolean Shiny; };
[Indication] class T_Event : CIM_ProcessIndication { string Kind; uint32 Level; };
`

// indEnv is a server over a repository with the interop schema and indNS.
type indEnv struct {
	srv *Server
	ctx context.Context
}

// newIndEnv opens (or creates) the repository in dir and starts a server
// with the indication configuration cfg; Close it with close.
func newIndEnv(t testing.TB, dir string, cfg IndicationConfig) (*indEnv, func()) {
	t.Helper()
	repo, err := repository.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !repo.NamespaceExists(indNS) {
		w := repo.NewBulkWriter()
		if _, err := schemas.Install(w, schemas.InstallOptions{}); err != nil {
			t.Fatal(err)
		}
		var src []byte
		for _, f := range []string{"qualifiers.mof", "cim/event.mof"} {
			b, err := fs.ReadFile(schemas.Files(), f)
			if err != nil {
				t.Fatal(err)
			}
			src = append(append(src, b...), '\n')
		}
		c := &mof.Compiler{Target: w, Namespace: indNS}
		if _, err := c.CompileSource("ind.mof", append(src, indMOF...)); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, err := NewServer(Config{Repository: repo, Logger: log, Indications: cfg})
	if err != nil {
		repo.Close()
		t.Fatal(err)
	}
	return &indEnv{srv: srv, ctx: Internal(context.Background())}, func() {
		srv.Close()
		repo.Close()
	}
}

// fastRetries are delivery settings that keep retry tests short.
func fastRetries() IndicationConfig {
	return IndicationConfig{DeliveryRetryAttempts: 3, DeliveryRetryInterval: 20 * time.Millisecond, DeliveryTimeout: 5 * time.Second}
}

// inbox collects what a Go subscription delivers.
type inbox struct {
	mu   sync.Mutex
	got  []*cim.Instance
	more chan struct{}
	// fail, when set, decides the result of each delivery (n counts
	// deliveries from 1).
	fail func(n int) error
	n    int
}

func newInbox() *inbox { return &inbox{more: make(chan struct{}, 1)} }

func (b *inbox) deliver(ctx context.Context, ind *cim.Instance) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	if b.fail != nil {
		if err := b.fail(b.n); err != nil {
			return err
		}
	}
	b.got = append(b.got, ind)
	select {
	case b.more <- struct{}{}:
	default:
	}
	return nil
}

// wait returns once n indications have arrived (fails after 10 s).
func (b *inbox) wait(t testing.TB, n int) []*cim.Instance {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		if len(b.got) >= n {
			out := append([]*cim.Instance(nil), b.got...)
			b.mu.Unlock()
			return out
		}
		b.mu.Unlock()
		select {
		case <-b.more:
		case <-deadline:
			b.mu.Lock()
			defer b.mu.Unlock()
			t.Fatalf("%d indications received, want %d", len(b.got), n)
		}
	}
}

func (b *inbox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.got)
}

func (e *indEnv) subscribe(t testing.TB, query string, b *inbox, sources ...string) *Subscription {
	t.Helper()
	if len(sources) == 0 {
		sources = []string{indNS}
	}
	sub, err := e.srv.Indications().Subscribe(e.ctx, SubscribeRequest{
		Name: "test:" + t.Name(), QueryLanguage: "WQL", Query: query, SourceNamespaces: sources, Deliver: b.deliver,
	})
	if err != nil {
		t.Fatalf("Subscribe %q: %v", query, err)
	}
	return sub
}

func widget(class, id, color string, size uint32) *cim.Instance {
	inst := cim.NewInstance(class)
	inst.Set("Id", cim.NewString(id))
	inst.Set("Color", cim.NewString(color))
	inst.Set("Size", cim.NewUint32(size))
	return inst
}

func (e *indEnv) create(t testing.TB, inst *cim.Instance) *cim.ObjectPath {
	t.Helper()
	p, err := e.srv.CreateInstance(e.ctx, indNS, inst)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *indEnv) event(t testing.TB, kind string, level uint32) {
	t.Helper()
	ev := cim.NewInstance("T_Event")
	ev.Set("Kind", cim.NewString(kind))
	ev.Set("Level", cim.NewUint32(level))
	if err := e.srv.PublishIndication(context.Background(), indNS, ev); err != nil {
		t.Fatal(err)
	}
}

func source(ind *cim.Instance) *cim.Instance { return ind.Get("SourceInstance").Instance() }

func TestLifecycleIndicationsOfStaticInstances(t *testing.T) {
	e, done := newIndEnv(t, t.TempDir(), IndicationConfig{})
	defer done()
	// Nobody subscribes: no indication is built.
	e.create(t, widget("T_Widget", "w0", "red", 1))
	if st := e.srv.Indications().Stats(); st.Published != 0 {
		t.Errorf("published %d indications without subscribers", st.Published)
	}

	b := newInbox()
	e.subscribe(t, "SELECT * FROM CIM_InstIndication WHERE SourceInstance ISA T_Widget", b)
	p := e.create(t, widget("T_Widget", "w1", "red", 1))
	mod := widget("T_Widget", "w1", "blue", 1)
	mod.Path = p
	if err := e.srv.ModifyInstance(e.ctx, indNS, mod, false, []string{"Color"}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetProperty(e.ctx, indNS, p, "Size", cim.NewUint32(7)); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.DeleteInstance(e.ctx, indNS, p); err != nil {
		t.Fatal(err)
	}
	e.create(t, widget("T_Gadget", "g1", "green", 2)) // a subclass: ISA holds

	got := b.wait(t, 5)
	wantClasses := []string{"CIM_InstCreation", "CIM_InstModification", "CIM_InstModification", "CIM_InstDeletion", "CIM_InstCreation"}
	for i, ind := range got {
		if ind.ClassName != wantClasses[i] {
			t.Fatalf("indication %d is %s, want %s", i, ind.ClassName, wantClasses[i])
		}
		if n := ind.Get("SequenceNumber").Sint64(); n != int64(i) {
			t.Errorf("indication %d has SequenceNumber %d", i, n)
		}
		if ind.Get("SequenceContext").Str() != got[0].Get("SequenceContext").Str() || ind.Get("SequenceContext").Str() == "" {
			t.Errorf("SequenceContext %q", ind.Get("SequenceContext").Str())
		}
		if ind.Get("IndicationFilterName").Str() != "test:"+t.Name() || ind.Get("IndicationTime").IsNull() || ind.Get("IndicationIdentifier").Str() == "" {
			t.Errorf("indication %d: %v", i, ind)
		}
	}
	if s := source(got[0]); s == nil || s.Get("Color").Str() != "red" || got[0].Get("SourceInstanceModelPath").Str() != `T_Widget.Id="w1"` {
		t.Errorf("creation: %v", got[0])
	}
	m := got[1]
	if source(m).Get("Color").Str() != "blue" || m.Get("PreviousInstance").Instance().Get("Color").Str() != "red" ||
		strings.Join(m.Get("ChangedPropertyNames").StrArray(), ",") != "Color" {
		t.Errorf("modification: %v", m)
	}
	if source(got[2]).Get("Size").Uint32() != 7 || strings.Join(got[2].Get("ChangedPropertyNames").StrArray(), ",") != "Size" {
		t.Errorf("SetProperty: %v", got[2])
	}
	if source(got[3]).Get("Color").Str() != "blue" || source(got[3]).Get("Size").Uint32() != 7 {
		t.Errorf("deletion carries the instance as it was: %v", got[3])
	}
	if source(got[4]).ClassName != "T_Gadget" {
		t.Errorf("subclass creation: %v", got[4])
	}
}

func TestIndicationFilterSemantics(t *testing.T) {
	e, done := newIndEnv(t, t.TempDir(), IndicationConfig{})
	defer done()
	red, gadgets, creations, projected, other, resized := newInbox(), newInbox(), newInbox(), newInbox(), newInbox(), newInbox()
	e.subscribe(t, "SELECT * FROM CIM_InstModification WHERE ANY ChangedPropertyNames = 'Size'", resized)
	e.subscribe(t, "SELECT * FROM CIM_InstCreation WHERE SourceInstance.Color = 'red' AND SourceInstance.Size > 1", red)
	e.subscribe(t, "SELECT * FROM CIM_InstIndication WHERE SourceInstance ISA T_Gadget", gadgets)
	e.subscribe(t, "SELECT * FROM CIM_InstCreation", creations)
	e.subscribe(t, "SELECT SourceInstance FROM CIM_InstCreation WHERE SourceInstance.Id LIKE 'w%'", projected)
	e.subscribe(t, "SELECT * FROM CIM_InstIndication", other, "root/virt") // another source namespace

	p := e.create(t, widget("T_Widget", "w1", "red", 1))
	e.create(t, widget("T_Widget", "w2", "red", 5))
	e.create(t, widget("T_Gadget", "g1", "red", 9))
	if err := e.srv.DeleteInstance(e.ctx, indNS, p); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		color string
		size  uint32
	}{{"blue", 5}, {"blue", 6}} {
		mod := widget("T_Widget", "w2", c.color, c.size)
		mod.Path = cim.NewInstancePath(indNS, "T_Widget", cim.KeyBinding{Name: "Id", Value: cim.NewString("w2")})
		if err := e.srv.ModifyInstance(e.ctx, indNS, mod, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := resized.wait(t, 1); source(got[0]).Get("Size").Uint32() != 6 {
		t.Errorf("ANY ChangedPropertyNames: %v", got)
	}
	all := creations.wait(t, 3)
	if len(all) != 3 {
		t.Fatalf("creations: %d", len(all))
	}
	if got := red.wait(t, 2); source(got[0]).Get("Id").Str() != "w2" || source(got[1]).Get("Id").Str() != "g1" {
		t.Errorf("WHERE on SourceInstance properties: %v", got)
	}
	if got := gadgets.wait(t, 1); source(got[0]).Get("Id").Str() != "g1" {
		t.Errorf("ISA: %v", got)
	}
	got := projected.wait(t, 2)
	for _, ind := range got {
		if ind.Has("IndicationTime") || !ind.Has("SourceInstance") || !ind.Has("SequenceNumber") {
			t.Errorf("SELECT list: %v", ind)
		}
	}
	// The deletion was queued before anything else could arrive: a
	// creation-only subscription and the other namespace saw none.
	time.Sleep(50 * time.Millisecond)
	if n := creations.count(); n != 3 {
		t.Errorf("CIM_InstCreation subscription got %d", n)
	}
	if n := other.count(); n != 0 {
		t.Errorf("a subscription to root/virt got %d indications of %s", n, indNS)
	}
	if n := red.count() + gadgets.count(); n != 3 {
		t.Errorf("filtered subscriptions got %d", n)
	}
}

func TestPublishIndication(t *testing.T) {
	e, done := newIndEnv(t, t.TempDir(), IndicationConfig{})
	defer done()
	if e.srv.IndicationsWanted(indNS, "T_Event") {
		t.Error("wanted without subscriptions")
	}
	b := newInbox()
	e.subscribe(t, "SELECT * FROM T_Event WHERE Level >= 3", b)
	if !e.srv.IndicationsWanted(indNS, "T_Event") || e.srv.IndicationsWanted(indNS, "CIM_InstCreation") || e.srv.IndicationsWanted("root/virt", "T_Event") {
		t.Error("IndicationsWanted")
	}
	for i := range 6 {
		e.event(t, fmt.Sprint("k", i), uint32(i))
	}
	got := b.wait(t, 3)
	for i, ev := range got {
		if ev.Get("Level").Uint32() != uint32(i+3) || ev.Get("Kind").Str() != fmt.Sprint("k", i+3) {
			t.Errorf("event %d: %v", i, ev)
		}
	}
	// The publisher's instance is not changed.
	ev := cim.NewInstance("T_Event")
	ev.Set("Level", cim.NewUint32(9))
	if err := e.srv.PublishIndication(context.Background(), indNS, ev); err != nil || ev.Has("IndicationTime") {
		t.Errorf("publish changed the caller's instance: %v %v", err, ev)
	}
	b.wait(t, 4)
	wantStatus(t, "not an indication class", e.srv.PublishIndication(context.Background(), indNS, cim.NewInstance("T_Widget")), cim.ErrInvalidClass)
	wantStatus(t, "unknown class", e.srv.PublishIndication(context.Background(), indNS, cim.NewInstance("T_Nothing")), cim.ErrInvalidClass)
	wantStatus(t, "unknown namespace", e.srv.PublishIndication(context.Background(), "root/nowhere", ev), cim.ErrInvalidNamespace)
	if st := waitStats(e.srv, func(st IndicationStats) bool { return st.Delivered == 4 }); st.Delivered != 4 || st.Matched != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestSubscribeErrors(t *testing.T) {
	e, done := newIndEnv(t, t.TempDir(), IndicationConfig{MaxSubscriptions: 1})
	defer done()
	ind := e.srv.Indications()
	try := func(lang, q string, sources ...string) error {
		_, err := ind.Subscribe(e.ctx, SubscribeRequest{QueryLanguage: lang, Query: q, SourceNamespaces: sources,
			Deliver: func(context.Context, *cim.Instance) error { return nil }})
		return err
	}
	wantStatus(t, "language", try("XQL", "SELECT * FROM T_Event", indNS), cim.ErrNotSupported)
	wantStatus(t, "FQL", try("DMTF:FQL", "Level = 1", indNS), cim.ErrNotSupported)
	wantStatus(t, "syntax", try("WQL", "SELECT FROM", indNS), cim.ErrInvalidParameter)
	wantStatus(t, "not an indication", try("WQL", "SELECT * FROM T_Widget", indNS), cim.ErrInvalidParameter)
	wantStatus(t, "unknown property", try("WQL", "SELECT * FROM T_Event WHERE Nope = 1", indNS), cim.ErrInvalidParameter)
	wantStatus(t, "literal type", try("WQL", "SELECT * FROM T_Event WHERE Level = 'x'", indNS), cim.ErrInvalidParameter)
	wantStatus(t, "class missing in a source", try("WQL", "SELECT * FROM T_Event", indNS, "root/virt"), cim.ErrInvalidParameter)
	wantStatus(t, "namespace", try("WQL", "SELECT * FROM T_Event", "root/nowhere"), cim.ErrInvalidParameter)
	wantStatus(t, "no source", try("WQL", "SELECT * FROM T_Event"), cim.ErrInvalidParameter)
	if err := try("DMTF:CQL", "SELECT * FROM T_Event WHERE Kind LIKE 'a.*'", indNS); err != nil {
		t.Fatalf("CQL: %v", err)
	}
	wantStatus(t, "limit", try("WQL", "SELECT * FROM T_Event", indNS), cim.ErrFailed)

	if _, err := ind.Subscribe(context.Background(), SubscribeRequest{QueryLanguage: "WQL", Query: "SELECT * FROM T_Event", SourceNamespaces: []string{indNS},
		Deliver: func(context.Context, *cim.Instance) error { return nil }}); cim.StatusOf(err) != cim.ErrAccessDenied {
		t.Errorf("no principal: %v", err)
	}
}

func TestSubscribeAccessDenied(t *testing.T) {
	dir := t.TempDir()
	_, done := newIndEnv(t, dir, IndicationConfig{})
	done() // the repository is now installed; reopen it with an authorizer
	repo, err := repository.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, err := NewServer(Config{Repository: repo, Logger: log, Authorizer: authzFunc(func(p Principal, ns string, write bool) bool {
		return p.User == "reader" && !write
	})})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	req := SubscribeRequest{QueryLanguage: "WQL", Query: "SELECT * FROM T_Event", SourceNamespaces: []string{indNS},
		Deliver: func(context.Context, *cim.Instance) error { return nil }}
	if _, err := srv.Indications().Subscribe(WithPrincipal(context.Background(), Principal{User: "mallory"}), req); cim.StatusOf(err) != cim.ErrAccessDenied {
		t.Errorf("a user without rights subscribed: %v", err)
	}
	if _, err := srv.Indications().Subscribe(WithPrincipal(context.Background(), Principal{User: "reader"}), req); err != nil {
		t.Errorf("a reader cannot subscribe: %v", err)
	}
}

// errTransient and errRefused are what a Deliver function returns to be
// retried, or not.
var errTransient = errors.New("listener unavailable")

type refused struct{}

func (refused) Error() string   { return "refused" }
func (refused) Permanent() bool { return true }

func TestDeliveryRetriesInOrder(t *testing.T) {
	e, done := newIndEnv(t, t.TempDir(), fastRetries())
	defer done()
	b := newInbox()
	b.fail = func(n int) error {
		if n <= 2 { // the listener is down for the first two attempts
			return errTransient
		}
		return nil
	}
	e.subscribe(t, "SELECT * FROM T_Event", b)
	for i := range 5 {
		e.event(t, fmt.Sprint(i), uint32(i))
	}
	got := b.wait(t, 5)
	for i, ev := range got {
		if ev.Get("Level").Uint32() != uint32(i) {
			t.Fatalf("out of order: %d at %d", ev.Get("Level").Uint32(), i)
		}
	}
	if st := waitStats(e.srv, func(st IndicationStats) bool { return st.Delivered == 5 }); st.Retries != 2 || st.Delivered != 5 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestDeliveryGivesUp(t *testing.T) {
	cfg := fastRetries()
	cfg.DeliveryRetryAttempts = 2
	e, done := newIndEnv(t, t.TempDir(), cfg)
	defer done()
	b := newInbox()
	b.fail = func(n int) error {
		if n <= 3 { // one attempt and two retries fail: the first event is dropped
			return errTransient
		}
		return nil
	}
	e.subscribe(t, "SELECT * FROM T_Event", b)
	e.event(t, "lost", 1)
	time.Sleep(5 * time.Millisecond)
	e.event(t, "kept", 2)
	got := b.wait(t, 1)
	if got[0].Get("Kind").Str() != "kept" {
		t.Errorf("delivered %v", got[0])
	}
	if st := e.srv.Indications().Stats(); st.Dropped != 1 || st.Retries != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestPermanentDeliveryErrorEndsGoSubscription(t *testing.T) {
	e, done := newIndEnv(t, t.TempDir(), fastRetries())
	defer done()
	b := newInbox()
	b.fail = func(int) error { return refused{} }
	sub := e.subscribe(t, "SELECT * FROM T_Event", b)
	e.event(t, "x", 1)
	select {
	case <-sub.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not end")
	}
	if !errors.As(sub.Err(), new(refused)) {
		t.Errorf("Err = %v", sub.Err())
	}
	if e.srv.IndicationsWanted(indNS, "T_Event") {
		t.Error("an ended subscription is still active")
	}
}

func TestGoSubscriptionLifetime(t *testing.T) {
	e, done := newIndEnv(t, t.TempDir(), IndicationConfig{})
	defer done()
	ind := e.srv.Indications()
	b := newInbox()
	sub, err := ind.Subscribe(e.ctx, SubscribeRequest{QueryLanguage: "WQL", Query: "SELECT * FROM T_Event", SourceNamespaces: []string{indNS},
		Deliver: b.deliver, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Err() != nil || sub.ID() == "" {
		t.Fatal(sub.Err())
	}
	if err := sub.Renew(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not expire")
	}
	if !errors.Is(sub.Err(), ErrSubscriptionExpired) || sub.Renew(time.Time{}) == nil {
		t.Errorf("expired: Err %v", sub.Err())
	}
	sub2 := e.subscribe(t, "SELECT * FROM T_Event", b)
	sub2.Cancel()
	sub2.Cancel()
	if !errors.Is(sub2.Err(), ErrSubscriptionCancelled) {
		t.Errorf("cancelled: Err %v", sub2.Err())
	}
	e.event(t, "after", 1)
	if st := ind.Stats(); st.Matched != 0 {
		t.Errorf("ended subscriptions matched: %+v", st)
	}
}

func TestQueueBoundNeverBlocksPublishers(t *testing.T) {
	cfg := IndicationConfig{MaxQueueLength: 5}
	e, done := newIndEnv(t, t.TempDir(), cfg)
	defer done()
	gate := make(chan struct{})
	var mu sync.Mutex
	delivered := 0
	_, err := e.srv.Indications().Subscribe(e.ctx, SubscribeRequest{QueryLanguage: "WQL", Query: "SELECT * FROM T_Event", SourceNamespaces: []string{indNS},
		Deliver: func(ctx context.Context, _ *cim.Instance) error {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			mu.Lock()
			delivered++
			mu.Unlock()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // the listener is stuck: publishing must not wait
		e.event(t, "burst", uint32(i))
	}
	st := e.srv.Indications().Stats()
	if st.Matched != 50 || st.Dropped != 45 {
		t.Errorf("stats with a stuck listener: %+v", st)
	}
	close(gate)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := delivered
		mu.Unlock()
		if n == 5 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := waitStats(e.srv, func(st IndicationStats) bool { return st.Delivered == 5 }); st.Delivered != 5 {
		t.Errorf("delivered %d of the 5 queued", st.Delivered)
	}
}

func TestSubscriptionRemovalAction(t *testing.T) {
	cfg := fastRetries()
	cfg.SubscriptionRemovalTimeInterval = 60 * time.Millisecond
	e, done := newIndEnv(t, t.TempDir(), cfg)
	defer done()
	b := newInbox()
	b.fail = func(int) error { return errTransient }
	sub := e.subscribe(t, "SELECT * FROM T_Event", b)
	stop := time.After(10 * time.Second)
	for i := 0; ; i++ {
		e.event(t, "x", uint32(i))
		select {
		case <-sub.Done():
			if !errors.Is(sub.Err(), ErrSubscriptionRemoved) {
				t.Errorf("Err = %v", sub.Err())
			}
			return
		case <-stop:
			t.Fatal("the failing subscription was not removed")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitStats waits until the indication counters satisfy ok: a Deliver
// function sees an indication just before the service counts it.
func waitStats(srv *Server, ok func(IndicationStats) bool) IndicationStats {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := srv.Indications().Stats()
		if ok(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// indicationGoroutines lists the goroutines of the indication service.
func indicationGoroutines() []string {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	var out []string
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "wbem.(*deliveryQueue).run") || strings.Contains(g, "wbem.(*Indications).expireLoop") {
			out = append(out, g)
		}
	}
	return out
}

func TestCloseEndsDeliveryWithoutLeaks(t *testing.T) {
	e, done := newIndEnv(t, t.TempDir(), IndicationConfig{DeliveryRetryInterval: time.Hour})
	stuck := make(chan struct{})
	sub, err := e.srv.Indications().Subscribe(e.ctx, SubscribeRequest{QueryLanguage: "WQL", Query: "SELECT * FROM T_Event", SourceNamespaces: []string{indNS},
		Deliver: func(ctx context.Context, _ *cim.Instance) error {
			close(stuck)
			<-ctx.Done() // a listener that never answers
			return ctx.Err()
		}})
	if err != nil {
		t.Fatal(err)
	}
	failing := e.subscribe(t, "SELECT * FROM T_Event", &inbox{more: make(chan struct{}, 1), fail: func(int) error { return errTransient }})
	e.event(t, "x", 1)
	<-stuck
	if len(indicationGoroutines()) == 0 {
		t.Fatal("no delivery goroutine while delivering")
	}
	done()
	if !errors.Is(sub.Err(), ErrServerClosed) || !errors.Is(failing.Err(), ErrServerClosed) {
		t.Errorf("after Close: %v, %v", sub.Err(), failing.Err())
	}
	if g := indicationGoroutines(); len(g) > 0 {
		t.Errorf("goroutines left after Close:\n%s", strings.Join(g, "\n\n"))
	}
	// Publishing after Close neither panics nor starts anything.
	ev := cim.NewInstance("T_Event")
	_ = e.srv.PublishIndication(context.Background(), indNS, ev)
	if g := indicationGoroutines(); len(g) > 0 {
		t.Error("a goroutine started after Close")
	}
}
