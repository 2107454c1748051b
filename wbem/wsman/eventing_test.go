package wsman

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/auth"
)

// sinkMsg is one message an event sink received.
type sinkMsg struct {
	path, authz string
	raw         string
	root        *element
	action, id  string
}

// header returns the text of a header block by local name.
func (m sinkMsg) header(local string) string { return path(m.root, "Header/"+local).TrimmedText() }

// testSink is a real HTTP event sink: it keeps what it receives and
// answers as answer says (by default 200 with an empty body).
type testSink struct {
	*httptest.Server
	mu     sync.Mutex
	msgs   []sinkMsg
	wake   chan struct{}
	answer func(m sinkMsg, n int) (int, string)
}

func newSink(t *testing.T, answer func(m sinkMsg, n int) (int, string)) *testSink {
	k := &testSink{wake: make(chan struct{}, 1), answer: answer}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		root, err := parseXML(data, Limits{})
		if err != nil {
			t.Errorf("the sink received a message that is not XML: %v\n%s", err, data)
			w.WriteHeader(400)
			return
		}
		m := sinkMsg{path: r.URL.Path, authz: r.Header.Get("Authorization"), raw: string(data), root: root}
		m.action, m.id = m.header("Action"), m.header("MessageID")
		status, body := 200, ""
		k.mu.Lock()
		n := len(k.msgs)
		if k.answer != nil {
			status, body = k.answer(m, n)
		}
		if status/100 == 2 {
			k.msgs = append(k.msgs, m)
		}
		k.mu.Unlock()
		select {
		case k.wake <- struct{}{}:
		default:
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(k.Close)
	return k
}

// waitFor returns the first message received that match accepts.
func (k *testSink) waitFor(t *testing.T, what string, match func(sinkMsg) bool) sinkMsg {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		k.mu.Lock()
		for _, m := range k.msgs {
			if match(m) {
				k.mu.Unlock()
				return m
			}
		}
		k.mu.Unlock()
		select {
		case <-k.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("the sink did not receive %s within 10 s; it has %d messages", what, k.count())
		}
	}
}

func (k *testSink) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.msgs)
}

// ackAnswer acknowledges a PushWithAck or Events message.
func ackAnswer(m sinkMsg, _ int) (int, string) {
	return 200, `<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:wsa="` + nsWSA + `"><s:Header><wsa:Action>` + actionAck +
		`</wsa:Action><wsa:RelatesTo>` + m.id + `</wsa:RelatesTo><wsa:MessageID>uuid:ack</wsa:MessageID></s:Header><s:Body/></s:Envelope>`
}

const wseNS = ` xmlns:wse="` + nsWSE + `"`

// subscribeEnvelope builds a Subscribe as openwsman's wsman CLI writes it.
func subscribeEnvelope(uri, headers, delivery, rest string) string {
	return envelope(actionSubscribe, uri, headers, `<wse:Subscribe`+wseNS+`>`+delivery+rest+`</wse:Subscribe>`)
}

func pushTo(mode, address, extra string) string {
	return `<wse:Delivery Mode="` + mode + `"><wse:NotifyTo><wsa:Address>` + address + `</wsa:Address></wse:NotifyTo>` + extra + `</wse:Delivery>`
}

func wql(q string) string {
	return `<wsman:Filter Dialect="` + dialectWQLMicrosft + `">` + q + `</wsman:Filter>`
}

// subscribe sends a Subscribe and returns the identifier.
func (s *testServer) subscribe(t *testing.T, env string) (string, *element) {
	t.Helper()
	st, root, raw := s.post(t, env)
	if st != 200 || path(root, "Body/SubscribeResponse") == nil {
		t.Fatalf("Subscribe: %d\n%s", st, raw)
	}
	id := path(root, "Body/SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier").TrimmedText()
	if !strings.HasPrefix(id, "uuid:") {
		t.Fatalf("SubscribeResponse without identifier:\n%s", raw)
	}
	return id, root
}

// manage sends Renew, GetStatus or Unsubscribe for a subscription.
func (s *testServer) manage(t *testing.T, action, id, body string) (int, *element, string) {
	t.Helper()
	hdr := `<wse:Identifier` + wseNS + `>` + id + `</wse:Identifier>`
	return s.post(t, envelope(action, AllClassesURI, hdr, body))
}

// createStatic creates a T_Static instance in root/virt (a static
// instance: the core publishes its CIM_InstCreation).
func (s *testServer) createStatic(t *testing.T, id string) {
	t.Helper()
	inst := cim.NewInstance("T_Static")
	inst.Set("Id", cim.NewString(id))
	inst.Set("Name", cim.NewString("event "+id))
	ctx := wbem.WithPrincipal(context.Background(), wbem.Principal{User: "setup", Unrestricted: true})
	if _, err := s.core.CreateInstance(ctx, "root/virt", inst); err != nil {
		t.Fatal(err)
	}
}

func sourceID(m sinkMsg) string {
	for _, e := range all(m.root, "SourceInstance") {
		if id := path(e, "Id"); id != nil {
			return id.TrimmedText()
		}
	}
	return ""
}

func bySource(id string) func(sinkMsg) bool {
	return func(m sinkMsg) bool { return sourceID(m) == id }
}

func expectFault(t *testing.T, what string, st int, root *element, raw, wantSub, wantDetail string) {
	t.Helper()
	_, sub, detail := faultOf(root)
	if sub != wantSub || (wantDetail != "" && detail != wantDetail) {
		t.Errorf("%s: %d %s %s, want %s %s\n%.1500s", what, st, sub, detail, wantSub, wantDetail, raw)
	}
}

// TestEventingPushLifecycle subscribes as wsmancli does (Push, WQL on the
// all-classes URI) with reference parameters on NotifyTo, receives the
// lifecycle indications of a static instance and of the test provider's
// instances, then GetStatus, Renew and Unsubscribe.
func TestEventingPushLifecycle(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true})
	sink := newSink(t, nil)
	notify := `<wse:NotifyTo><wsa:Address>` + sink.URL + `/sink</wsa:Address><wsa:ReferenceParameters><x:Route xmlns:x="urn:test" a="1">r-17</x:Route></wsa:ReferenceParameters></wse:NotifyTo>`
	env := subscribeEnvelope(AllClassesURI, selectors("__cimnamespace", "root/virt"),
		`<wse:Delivery Mode="`+deliveryPush+`">`+notify+`</wse:Delivery>`,
		`<wse:Expires>PT600.000000S</wse:Expires>`+wql("select * from CIM_InstCreation where SourceInstance ISA T_Base"))
	id, root := s.subscribe(t, env)
	if got := path(root, "Body/SubscribeResponse/Expires").TrimmedText(); got != "PT600S" {
		t.Errorf("SubscribeResponse Expires %q", got)
	}
	if a := path(root, "Body/SubscribeResponse/SubscriptionManager/Address").TrimmedText(); a != s.URL+Path {
		t.Errorf("SubscriptionManager address %q", a)
	}

	s.createStatic(t, "ev1")
	m := sink.waitFor(t, "the creation of ev1", bySource("ev1"))
	if m.action != DMTFClassPrefix+"CIM_InstCreation" || m.header("To") != sink.URL+"/sink" || m.path != "/sink" {
		t.Errorf("event Action %q To %q path %q", m.action, m.header("To"), m.path)
	}
	if r := path(m.root, "Header/Route"); r == nil || r.Space != "urn:test" || r.TrimmedText() != "r-17" {
		t.Errorf("the reference parameter was not echoed:\n%s", m.raw)
	}
	ev := path(m.root, "Body/CIM_InstCreation")
	if ev == nil || ev.Space != DMTFClassPrefix+"CIM_InstCreation" || path(ev, "IndicationFilterName").TrimmedText() == "" ||
		path(ev, "SourceInstanceModelPath").TrimmedText() == "" || path(ev, "SourceInstance/Name").TrimmedText() != "event ev1" {
		t.Errorf("event body:\n%s", m.raw)
	}

	// The test provider publishes the lifecycle of its T_Dynamic.
	dyn := cim.NewInstance("T_Dynamic")
	dyn.Set("Id", cim.NewString("dyn7"))
	ctx := wbem.WithPrincipal(context.Background(), wbem.Principal{User: "setup", Unrestricted: true})
	if _, err := s.core.CreateInstance(ctx, "root/virt", dyn); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "the creation of dyn7", bySource("dyn7"))

	st, root, raw := s.manage(t, actionEvtGetStatus, id, `<wse:GetStatus`+wseNS+`/>`)
	if d, err := parseDuration(path(root, "Body/GetStatusResponse/Expires").TrimmedText()); st != 200 || err != nil || d <= 590*time.Second || d > 600*time.Second {
		t.Errorf("GetStatus: %d\n%s", st, raw)
	}
	st, root, raw = s.manage(t, actionEvtRenew, id, `<wse:Renew`+wseNS+`><wse:Expires>2099-01-01T00:00:00Z</wse:Expires></wse:Renew>`)
	if st != 200 || path(root, "Body/RenewResponse/Expires").TrimmedText() != "2099-01-01T00:00:00Z" {
		t.Errorf("Renew: %d\n%s", st, raw)
	}
	st, root, raw = s.manage(t, actionEvtGetStatus, id, `<wse:GetStatus`+wseNS+`/>`)
	if st != 200 || path(root, "Body/GetStatusResponse/Expires").TrimmedText() != "2099-01-01T00:00:00Z" {
		t.Errorf("GetStatus after Renew: %d\n%s", st, raw)
	}
	st, root, raw = s.manage(t, actionUnsubscribe, id, `<wse:Unsubscribe`+wseNS+`/>`)
	if st != 200 || path(root, "Header/Action").TrimmedText() != actionUnsubscribe+"Response" {
		t.Fatalf("Unsubscribe: %d\n%s", st, raw)
	}
	before := sink.count()
	s.createStatic(t, "ev2")
	time.Sleep(200 * time.Millisecond)
	if sink.count() != before {
		t.Errorf("an event arrived after Unsubscribe")
	}
	st, root, raw = s.manage(t, actionEvtGetStatus, id, `<wse:GetStatus`+wseNS+`/>`)
	expectFault(t, "GetStatus after Unsubscribe", st, root, raw, "wsa:DestinationUnreachable", "")
	st, root, raw = s.manage(t, actionEvtRenew, id, `<wse:Renew`+wseNS+`/>`)
	expectFault(t, "Renew after Unsubscribe", st, root, raw, "wse:UnableToRenew", "")
}

// TestEventingFaults checks the fault of every kind of bad Subscribe.
func TestEventingFaults(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true})
	sink := "http://127.0.0.1:9/sink"
	push := pushTo(deliveryPush, sink, "")
	virt := selectors("__cimnamespace", "root/virt")
	creation := wql("select * from CIM_InstCreation")
	cases := []struct {
		name, env, sub, detail string
	}{
		{"delivery mode", subscribeEnvelope(AllClassesURI, virt, pushTo("urn:carrier-pigeon", sink, ""), creation), "wse:DeliveryModeRequestedUnavailable", ""},
		{"zero expiry", subscribeEnvelope(AllClassesURI, virt, push, `<wse:Expires>PT0S</wse:Expires>`+creation), "wse:InvalidExpirationTime", ""},
		{"past expiry", subscribeEnvelope(AllClassesURI, virt, push, `<wse:Expires>2001-01-01T00:00:00Z</wse:Expires>`+creation), "wse:InvalidExpirationTime", ""},
		{"expiry type", subscribeEnvelope(AllClassesURI, virt, push, `<wse:Expires>tomorrow</wse:Expires>`+creation), "wse:UnsupportedExpirationType", ""},
		{"XPath", subscribeEnvelope(AllClassesURI, virt, push, `<wse:Filter>/x</wse:Filter>`), "wse:FilteringRequestedUnavailable", ""},
		{"two filters", subscribeEnvelope(AllClassesURI, virt, push, creation+`<wse:Filter Dialect="`+dialectWQL+`">select * from CIM_InstCreation</wse:Filter>`), "wse:InvalidMessage", ""},
		{"no NotifyTo", subscribeEnvelope(AllClassesURI, virt, `<wse:Delivery/>`, creation), "wse:InvalidMessage", ""},
		{"NotifyTo scheme", subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, "ftp://h/x", ""), creation), "wsman:EventDeliverToUnusable", ""},
		{"NotifyTo credentials", subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, "http://u:p@h/x", ""), creation), "wsman:EventDeliverToUnusable", ""},
		{"no filter", subscribeEnvelope(AllClassesURI, virt, push, ""), "wsman:UnsupportedFeature", detailFilteringRequired},
		{"bad WQL", subscribeEnvelope(AllClassesURI, virt, push, wql("select from")), "wsman:CannotProcessFilter", ""},
		{"not an indication", subscribeEnvelope(AllClassesURI, virt, push, wql("select * from T_Static")), "wsman:CannotProcessFilter", ""},
		{"unknown namespace", subscribeEnvelope(AllClassesURI, selectors("__cimnamespace", "root/nowhere"), push, creation), "wsa:DestinationUnreachable", ""},
		{"class resource", subscribeEnvelope(uriStatic, virt, push, ""), "wsa:ActionNotSupported", detailActionMismatch},
		{"selectors", subscribeEnvelope(DMTFClassPrefix+"CIM_InstCreation", selectors("__cimnamespace", "root/virt", "Id", "x"), push, ""), "wsman:InvalidSelectors", detailUnexpectedSelectors},
		{"filter outside the class", subscribeEnvelope(DMTFClassPrefix+"CIM_InstCreation", virt, push, wql("select * from CIM_InstDeletion")), "wsman:CannotProcessFilter", ""},
		{"heartbeats", subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink, `<wsman:Heartbeats>PT0.1S</wsman:Heartbeats>`), creation), "wsman:UnsupportedFeature", detailHeartbeats},
		{"connection retry", subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink, `<wsman:ConnectionRetry Total="3">PT10S</wsman:ConnectionRetry>`), creation), "wsman:UnsupportedFeature", detailDeliveryRetries},
		{"auth profile", subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink, `<wsman:Auth Profile="`+secProfileHTTPSBasic+`/kerberos"/>`), creation), "wsman:UnsupportedFeature", detailAuthorizationMode},
		{"https profile over http", subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink, `<wsman:Auth Profile="`+secProfileHTTPSBasic+`"/>`), creation), "wsman:EventDeliverToUnusable", ""},
		{"profile without credentials", subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink, `<wsman:Auth Profile="`+secProfileHTTPBasic+`"/>`), creation), "wsman:InvalidParameter", detailMissingValues},
		{"bookmark", subscribeEnvelope(AllClassesURI, virt, push, creation+`<wsman:Bookmark>HC:x#4</wsman:Bookmark>`), "wsman:InvalidBookmark", detailExpired},
		{"envelope size", subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink, `<wsman:MaxEnvelopeSize>100</wsman:MaxEnvelopeSize>`), creation), "wsman:EncodingLimit", detailMinimumEnvelopeLimit},
		{"existing filter and a filter", subscribeEnvelope(DMTFClassPrefix+"CIM_IndicationFilter", selectors("Name", "x"), push, creation), "wse:FilteringNotSupported", ""},
		{"existing filter unknown", subscribeEnvelope(DMTFClassPrefix+"CIM_IndicationFilter", selectors("CreationClassName", "CIM_IndicationFilter", "Name", "none", "SystemCreationClassName", "HC_HostSystem", "SystemName", "x"), push, ""), "wsa:DestinationUnreachable", ""},
		{"body", envelope(actionSubscribe, AllClassesURI, "", `<wse:Renew`+wseNS+`/>`), "wsman:SchemaValidationError", ""},
	}
	for _, c := range cases {
		st, root, raw := s.post(t, c.env)
		expectFault(t, c.name, st, root, raw, c.sub, c.detail)
		if c.sub == "wse:DeliveryModeRequestedUnavailable" && len(all(root, "SupportedDeliveryMode")) != 4 {
			t.Errorf("no supported delivery modes in the fault:\n%s", raw)
		}
	}
	st, root, raw := s.post(t, envelope(actionUnsubscribe, AllClassesURI, "", `<wse:Unsubscribe`+wseNS+`/>`))
	expectFault(t, "Unsubscribe without identifier", st, root, raw, "wse:InvalidMessage", "")
	st, root, raw = s.manage(t, actionEvtRenew, "uuid:1234", `<wse:Renew`+wseNS+`><wse:Expires>PT600S</wse:Expires></wse:Renew>`)
	expectFault(t, "Renew of an unknown subscription", st, root, raw, "wse:UnableToRenew", "")
	st, root, raw = s.manage(t, actionUnsubscribe, "uuid:1234", `<wse:Unsubscribe`+wseNS+`/>`)
	expectFault(t, "Unsubscribe of an unknown subscription", st, root, raw, "wsa:DestinationUnreachable", "")

	// Pushing events to an address of one's choice takes the write right
	// on root/interop; Pull only the read right on the source.
	if err := s.users.AddUser("reader", "reader-pass", auth.UserOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.users.Grant("reader", "root/virt", auth.RightRead); err != nil {
		t.Fatal(err)
	}
	asReader := func(env string) (int, *element, string) {
		req, _ := http.NewRequest("POST", s.URL+Path, strings.NewReader(env))
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		req.SetBasicAuth("reader", "reader-pass")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		root, _ := parseXML(data, Limits{})
		return resp.StatusCode, root, string(data)
	}
	st, root, raw = asReader(subscribeEnvelope(AllClassesURI, virt, push, creation))
	expectFault(t, "push by a reader", st, root, raw, "wsman:AccessDenied", "")
	if st, root, raw = asReader(subscribeEnvelope(AllClassesURI, virt, `<wse:Delivery Mode="`+deliveryPull+`"/>`, creation)); st != 200 || path(root, "Body/SubscribeResponse/EnumerationContext") == nil {
		t.Errorf("pull by a reader: %d\n%s", st, raw)
	}
	st, root, raw = asReader(subscribeEnvelope(AllClassesURI, selectors("__cimnamespace", "root/interop"), `<wse:Delivery Mode="`+deliveryPull+`"/>`, wql("select * from CIM_AlertIndication")))
	expectFault(t, "pull from a namespace the reader may not read", st, root, raw, "wsman:AccessDenied", "")
}

// TestEventingAckModes: PushWithAck and Events ask for an
// acknowledgement; a sink that does not give one loses the subscription,
// and the subscriber's EndTo gets SubscriptionEnd (DeliveryFailure).
func TestEventingAckModes(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true})
	virt := selectors("__cimnamespace", "root/virt")
	for _, mode := range []string{deliveryPushWithAck, deliveryEvents} {
		sink := newSink(t, ackAnswer)
		s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(mode, sink.URL, `<wsman:MaxElements>20</wsman:MaxElements><wsman:MaxTime>PT30S</wsman:MaxTime>`),
			wql("select * from CIM_InstCreation")))
		id := "ack-" + mode[len(mode)-6:]
		s.createStatic(t, id)
		m := sink.waitFor(t, "an event", bySource(id))
		if path(m.root, "Header/AckRequested") == nil || path(m.root, "Header/ReplyTo/Address").TrimmedText() != anonymousAddress {
			t.Errorf("%s: no AckRequested:\n%s", mode, m.raw)
		}
		if mode == deliveryEvents {
			e := path(m.root, "Body/Events/Event")
			if a, _ := e.AttrNS("", "Action"); m.action != actionEvents || a != DMTFClassPrefix+"CIM_InstCreation" || path(e, "CIM_InstCreation") == nil {
				t.Errorf("Events message:\n%s", m.raw)
			}
		}
	}

	// No acknowledgement: the subscription ends, SubscriptionEnd goes to
	// EndTo.
	sink := newSink(t, func(m sinkMsg, _ int) (int, string) {
		if m.path == "/events" {
			return 200, ""
		}
		return 202, ""
	})
	endTo := `<wse:EndTo><wsa:Address>` + sink.URL + `/end</wsa:Address><wsa:ReferenceParameters><x:Who xmlns:x="urn:test">me</x:Who></wsa:ReferenceParameters></wse:EndTo>`
	id, _ := s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPushWithAck, sink.URL+"/events", ""), endTo+wql("select * from CIM_InstCreation")))
	s.createStatic(t, "noack")
	end := sink.waitFor(t, "SubscriptionEnd", func(m sinkMsg) bool { return m.path == "/end" })
	se := path(end.root, "Body/SubscriptionEnd")
	if end.action != actionSubscriptionEnd || path(se, "Status").TrimmedText() != statusDeliveryFailure ||
		path(se, "SubscriptionManager/ReferenceParameters/Identifier").TrimmedText() != id || path(end.root, "Header/Who").TrimmedText() != "me" ||
		!strings.Contains(path(se, "Reason").TrimmedText(), "acknowledge") {
		t.Errorf("SubscriptionEnd:\n%s", end.raw)
	}
	st, root, raw := s.manage(t, actionEvtGetStatus, id, `<wse:GetStatus`+wseNS+`/>`)
	expectFault(t, "GetStatus of the ended subscription", st, root, raw, "wsa:DestinationUnreachable", "")
}

// TestEventingSinkFailures: a sink that fails (HTTP 503) gets the event
// again on the core's retry schedule and the subscription carries on; a
// sink that refuses with wsman:DeliveryRefused ends it without
// SubscriptionEnd (DSP0226 R10.8-1); one that answers 404 ends it with
// SubscriptionEnd.
func TestEventingSinkFailures(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true, ind: wbem.IndicationConfig{DeliveryRetryInterval: 50 * time.Millisecond, DeliveryRetryAttempts: 5}})
	virt := selectors("__cimnamespace", "root/virt")
	failures := 0
	sink := newSink(t, func(m sinkMsg, _ int) (int, string) {
		if m.path == "/flaky" && failures < 2 {
			failures++
			return 503, ""
		}
		switch m.path {
		case "/refuse":
			return 500, `<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:wsman="` + nsWSMAN + `"><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>wsman:DeliveryRefused</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">no more</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`
		case "/gone":
			return 404, ""
		}
		return 200, ""
	})
	flaky, _ := s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink.URL+"/flaky", ""), wql("select * from CIM_InstCreation")))
	endTo := func(p string) string { return `<wse:EndTo><wsa:Address>` + sink.URL + p + `</wsa:Address></wse:EndTo>` }
	refused, _ := s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink.URL+"/refuse", ""), endTo("/end-refuse")+wql("select * from CIM_InstCreation")))
	gone, _ := s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink.URL+"/gone", ""), endTo("/end-gone")+wql("select * from CIM_InstCreation")))
	s.createStatic(t, "f1")
	sink.waitFor(t, "the retried event", func(m sinkMsg) bool { return m.path == "/flaky" && sourceID(m) == "f1" })
	end := sink.waitFor(t, "SubscriptionEnd of the 404 sink", func(m sinkMsg) bool { return m.path == "/end-gone" })
	if !strings.Contains(end.raw, "404") {
		t.Errorf("SubscriptionEnd does not say why:\n%s", end.raw)
	}
	s.createStatic(t, "f2")
	sink.waitFor(t, "the next event after recovery", func(m sinkMsg) bool { return m.path == "/flaky" && sourceID(m) == "f2" })
	for _, id := range []string{refused, gone} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, root, raw := s.manage(t, actionEvtGetStatus, id, `<wse:GetStatus`+wseNS+`/>`)
			if _, sub, _ := faultOf(root); sub == "wsa:DestinationUnreachable" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the refused subscription %s lives on: %d\n%s", id, st, raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond)
	sink.mu.Lock()
	for _, m := range sink.msgs {
		if m.path == "/end-refuse" {
			t.Errorf("SubscriptionEnd after DeliveryRefused")
		}
	}
	sink.mu.Unlock()
	if st, _, raw := s.manage(t, actionEvtGetStatus, flaky, `<wse:GetStatus`+wseNS+`/>`); st != 200 {
		t.Errorf("the subscription of the recovered sink ended: %d\n%s", st, raw)
	}
}

// TestEventingSinkAuthentication: credentials for the sink come in the
// wst:IssuedTokens header as openwsman's client sends them; Basic is sent
// at once, Digest answers the sink's challenge (checked here by the
// project's own Digest implementation).
func TestEventingSinkAuthentication(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true})
	sinkUsers, err := auth.Open(t.TempDir(), &auth.Options{BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := sinkUsers.AddUser("sinkuser", "sink-pass", auth.UserOptions{Digest: true}); err != nil {
		t.Fatal(err)
	}
	var challenged int
	sink := newSink(t, func(m sinkMsg, _ int) (int, string) {
		switch {
		case strings.HasPrefix(m.authz, "Basic "):
			r := &http.Request{Header: http.Header{"Authorization": {m.authz}}}
			if u, p, _ := r.BasicAuth(); u == "sinkuser" && p == "sink-pass" {
				return 200, ""
			}
		case strings.HasPrefix(m.authz, "Digest "):
			if _, err := sinkUsers.AuthenticateDigest(m.authz, "POST", m.path, "127.0.0.1:1"); err == nil {
				return 200, ""
			}
			t.Errorf("the sink refused the Digest answer %q", m.authz)
		}
		challenged++
		return 401, ""
	})
	// The sink's challenges: the test server sets them below.
	inner := sink.Config.Handler
	sink.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			for _, c := range sinkUsers.DigestChallenges(false) {
				w.Header().Add("WWW-Authenticate", c)
			}
		}
		inner.ServeHTTP(w, r)
	})
	tokens := func(address string) string {
		return `<wst:IssuedTokens xmlns:wst="` + nsTrust + `" xmlns:wsse="` + nsWSSE + `" xmlns:wsp="` + nsPolicy + `" s:mustUnderstand="true">` +
			`<wst:RequestSecurityTokenResponse><wst:TokenType>` + tokenUsername + `</wst:TokenType><wst:RequestedSecurityToken><wsse:UsernameToken>` +
			`<wsse:Username>sinkuser</wsse:Username><wsse:Password>sink-pass</wsse:Password></wsse:UsernameToken></wst:RequestedSecurityToken>` +
			`<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>` + address + `</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityTokenResponse></wst:IssuedTokens>`
	}
	virt := selectors("__cimnamespace", "root/virt")
	for _, c := range []struct{ path, profile string }{{"/basic", secProfileHTTPBasic}, {"/digest", secProfileHTTPDigest}, {"/any", ""}} {
		auth := ""
		if c.profile != "" {
			auth = `<wsman:Auth Profile="` + c.profile + `"/>`
		}
		s.subscribe(t, subscribeEnvelope(AllClassesURI, virt+tokens(sink.URL+c.path), pushTo(deliveryPush, sink.URL+c.path, auth), wql("select * from CIM_InstCreation")))
	}
	s.createStatic(t, "authed")
	for _, p := range []string{"/basic", "/digest", "/any"} {
		m := sink.waitFor(t, "the event at "+p, func(m sinkMsg) bool { return m.path == p })
		if want := map[string]string{"/basic": "Basic ", "/digest": "Digest ", "/any": "Digest "}[p]; !strings.HasPrefix(m.authz, want) {
			t.Errorf("%s: Authorization %q", p, m.authz)
		}
	}
	if challenged != 2 {
		t.Errorf("%d challenges, want 2 (Digest and no profile; Basic is preemptive)", challenged)
	}
	st, root, raw := s.post(t, subscribeEnvelope(AllClassesURI, virt+tokens("http://elsewhere/x"), pushTo(deliveryPush, sink.URL+"/basic", ""), wql("select * from CIM_InstCreation")))
	expectFault(t, "credentials for another address", st, root, raw, "wsman:InvalidParameter", "")
}

// TestEventingPull: Pull delivery keeps the events for wsen:Pull on the
// context of the SubscribeResponse; an empty wait ends in wsman:TimedOut,
// or in an empty PullResponse with heartbeats; Release ends the
// subscription.
func TestEventingPull(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true})
	virt := selectors("__cimnamespace", "root/virt")
	id, root := s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, `<wse:Delivery Mode="`+deliveryPull+`"/>`,
		wql("select * from CIM_InstCreation")+`<wsman:SendBookmarks/>`))
	ctx := path(root, "Body/SubscribeResponse/EnumerationContext").TrimmedText()
	if ctx != id {
		t.Fatalf("context %q, identifier %q", ctx, id)
	}
	pull := func(extra string) (int, *element, string) {
		return s.post(t, envelope(actionPull, AllClassesURI, "", `<wsen:Pull><wsen:EnumerationContext>`+ctx+`</wsen:EnumerationContext>`+extra+`</wsen:Pull>`))
	}
	st, root, raw := pull(`<wsen:MaxTime>PT0.2S</wsen:MaxTime>`)
	expectFault(t, "Pull with no events", st, root, raw, "wsman:TimedOut", "")
	for _, id := range []string{"p1", "p2", "p3"} {
		s.createStatic(t, id)
	}
	var got []string
	for len(got) < 3 {
		st, root, raw = pull(`<wsen:MaxElements>2</wsen:MaxElements><wsen:MaxTime>PT5S</wsen:MaxTime>`)
		items := path(root, "Body/PullResponse/Items")
		if st != 200 || items == nil || path(root, "Body/PullResponse/EnumerationContext").TrimmedText() != ctx || path(root, "Body/PullResponse/EndOfSequence") != nil {
			t.Fatalf("Pull: %d\n%s", st, raw)
		}
		if len(items.Children) > 2 || path(root, "Header/Bookmark").TrimmedText() == "" {
			t.Errorf("Pull of at most 2: %d items, bookmark %q", len(items.Children), path(root, "Header/Bookmark").TrimmedText())
		}
		for _, e := range items.Children {
			got = append(got, path(e, "SourceInstance/Id").TrimmedText())
		}
	}
	if strings.Join(got, ",") != "p1,p2,p3" {
		t.Errorf("pulled %v", got)
	}
	// A Pull waiting when the event comes gets it at once.
	done := make(chan string, 1)
	go func() {
		_, root, _ := pull(`<wsen:MaxTime>PT10S</wsen:MaxTime>`)
		done <- path(root, "Body/PullResponse/Items/CIM_InstCreation/SourceInstance/Id").TrimmedText()
	}()
	time.Sleep(100 * time.Millisecond)
	s.createStatic(t, "p4")
	select {
	case got := <-done:
		if got != "p4" {
			t.Errorf("the waiting Pull got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting Pull did not return")
	}
	st, _, raw = s.post(t, envelope(actionRelease, AllClassesURI, "", `<wsen:Release><wsen:EnumerationContext>`+ctx+`</wsen:EnumerationContext></wsen:Release>`))
	if st != 200 {
		t.Fatalf("Release: %d\n%s", st, raw)
	}
	st, root, raw = pull("")
	expectFault(t, "Pull after Release", st, root, raw, "wsen:InvalidEnumerationContext", "")

	// With heartbeats, an empty wait ends in an empty PullResponse.
	_, root = s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, `<wse:Delivery Mode="`+deliveryPull+`"><wsman:Heartbeats>PT1S</wsman:Heartbeats></wse:Delivery>`,
		wql("select * from CIM_InstCreation")))
	ctx = path(root, "Body/SubscribeResponse/EnumerationContext").TrimmedText()
	start := time.Now()
	st, root, raw = pull(`<wsen:MaxTime>PT10S</wsen:MaxTime>`)
	if st != 200 || path(root, "Body/PullResponse/EnumerationContext").TrimmedText() != ctx || path(root, "Body/PullResponse/Items") != nil || time.Since(start) > 5*time.Second {
		t.Errorf("heartbeat Pull after %s: %d\n%s", time.Since(start), st, raw)
	}
}

// TestEventingExpiryHeartbeatsBookmarks: a subscription ends at its
// expiry (without SubscriptionEnd); heartbeats reach an idle sink; events
// carry bookmarks when asked.
func TestEventingExpiryHeartbeatsBookmarks(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true})
	virt := selectors("__cimnamespace", "root/virt")
	sink := newSink(t, nil)
	endTo := `<wse:EndTo><wsa:Address>` + sink.URL + `/end</wsa:Address></wse:EndTo>`
	id, root := s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink.URL+"/hb", `<wsman:Heartbeats>PT1S</wsman:Heartbeats>`),
		endTo+`<wse:Expires>PT2.5S</wse:Expires>`+wql("select * from CIM_InstCreation")+`<wsman:SendBookmarks/><wsman:Bookmark>`+bookmarkEarliest+`</wsman:Bookmark>`))
	if e := path(root, "Body/SubscribeResponse/Expires").TrimmedText(); e != "PT2.5S" {
		t.Errorf("Expires %q", e)
	}
	hb := sink.waitFor(t, "a heartbeat", func(m sinkMsg) bool { return m.action == actionHeartbeat })
	if path(hb.root, "Body") == nil || len(path(hb.root, "Body").Children) != 0 {
		t.Errorf("heartbeat:\n%s", hb.raw)
	}
	s.createStatic(t, "bm1")
	ev := sink.waitFor(t, "the event", bySource("bm1"))
	if b := ev.header("Bookmark"); !strings.Contains(b, "#") {
		t.Errorf("bookmark %q", b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, root, _ := s.manage(t, actionEvtGetStatus, id, `<wse:GetStatus`+wseNS+`/>`)
		if st != 200 {
			_, sub, _ := faultOf(root)
			if sub != "wsa:DestinationUnreachable" {
				t.Errorf("GetStatus of the expired subscription: %s", sub)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, m := range sink.msgs {
		if m.path == "/end" {
			t.Errorf("SubscriptionEnd at expiry:\n%s", m.raw)
		}
	}
}

// TestEventingEnvelopePolicy: an event larger than the subscriber's
// MaxEnvelopeSize becomes a wsman:DroppedEvents notice (Policy Notify),
// is skipped (Skip) or ends the subscription (CancelSubscription).
func TestEventingEnvelopePolicy(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true})
	virt := selectors("__cimnamespace", "root/virt")
	sink := newSink(t, nil)
	ids := map[string]string{}
	for _, p := range []string{policyNotify, policySkip, policyCancel} {
		ids[p], _ = s.subscribe(t, subscribeEnvelope(AllClassesURI, virt,
			pushTo(deliveryPush, sink.URL+"/"+p, `<wsman:MaxEnvelopeSize Policy="`+p+`">8192</wsman:MaxEnvelopeSize>`),
			wql("select * from CIM_InstCreation")))
	}
	inst := cim.NewInstance("T_Static")
	inst.Set("Id", cim.NewString("big"))
	inst.Set("Name", cim.NewString(strings.Repeat("x", 9000)))
	ctx := wbem.WithPrincipal(context.Background(), wbem.Principal{User: "setup", Unrestricted: true})
	if _, err := s.core.CreateInstance(ctx, "root/virt", inst); err != nil {
		t.Fatal(err)
	}
	s.createStatic(t, "small")
	d := sink.waitFor(t, "DroppedEvents", func(m sinkMsg) bool { return m.path == "/Notify" && m.action == actionDroppedEvents })
	if de := path(d.root, "Body/DroppedEvents"); de == nil || de.TrimmedText() != "1" {
		t.Errorf("DroppedEvents:\n%s", d.raw)
	}
	sink.waitFor(t, "the small event (Skip)", func(m sinkMsg) bool { return m.path == "/Skip" && sourceID(m) == "small" })
	sink.waitFor(t, "the small event (Notify)", func(m sinkMsg) bool { return m.path == "/Notify" && sourceID(m) == "small" })
	// Each subscription delivers on its own, so the cancelled one may end
	// a little after the others' deliveries.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, _, _ := s.manage(t, actionEvtGetStatus, ids[policyCancel], `<wse:GetStatus`+wseNS+`/>`)
		if st != 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("CancelSubscription: the subscription lives on")
		}
	}
}

// TestEventingClassAndFilterResources subscribes to an indication class
// (every indication of it) and to an existing CIM_IndicationFilter
// (DSP0227 10.2.1), and with a CQL filter.
func TestEventingClassAndFilterResources(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true})
	sink := newSink(t, nil)
	virt := selectors("__cimnamespace", "root/virt")
	s.subscribe(t, subscribeEnvelope(DMTFClassPrefix+"CIM_InstDeletion", virt, pushTo(deliveryPush, sink.URL+"/class", ""), ""))
	s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink.URL+"/cql", ""),
		`<wsman:Filter Dialect="`+dialectCQL+`">SELECT * FROM CIM_InstCreation WHERE SourceInstance ISA T_Static</wsman:Filter>`))
	ctx := wbem.WithPrincipal(context.Background(), wbem.Principal{User: "setup", Unrestricted: true})
	filter := cim.NewInstance("CIM_IndicationFilter")
	filter.Set("Name", cim.NewString("creations"))
	filter.Set("Query", cim.NewString("SELECT * FROM CIM_InstCreation"))
	filter.Set("QueryLanguage", cim.NewString("WQL"))
	filter.Set("SourceNamespaces", cim.NewStringArray([]string{"root/virt"}))
	// Without the interop provider (which the daemon tests run), the
	// filter is a static instance: what the adapter reads is the same.
	fp, err := s.core.CreateInstance(ctx, "root/interop", withKeys(filter))
	if err != nil {
		t.Fatal(err)
	}
	var sels []string
	for _, k := range fp.Keys {
		sels = append(sels, k.Name, k.Value.Str())
	}
	s.subscribe(t, subscribeEnvelope(DMTFClassPrefix+"CIM_IndicationFilter", selectors(append(sels, "__cimnamespace", "root/interop")...), pushTo(deliveryPush, sink.URL+"/filter", ""), ""))
	s.createStatic(t, "cf1")
	sink.waitFor(t, "the CQL subscription's event", func(m sinkMsg) bool { return m.path == "/cql" && sourceID(m) == "cf1" })
	sink.waitFor(t, "the filter subscription's event", func(m sinkMsg) bool { return m.path == "/filter" && sourceID(m) == "cf1" })
	if err := s.core.DeleteInstance(ctx, "root/virt", cim.NewInstancePath("root/virt", "T_Static", cim.KeyBinding{Name: "Id", Value: cim.NewString("cf1")})); err != nil {
		t.Fatal(err)
	}
	m := sink.waitFor(t, "the class subscription's event", func(m sinkMsg) bool { return m.path == "/class" })
	if m.action != DMTFClassPrefix+"CIM_InstDeletion" || sourceID(m) != "cf1" {
		t.Errorf("deletion event:\n%s", m.raw)
	}
}

// withKeys fills in the keys the interop provider would add.
func withKeys(f *cim.Instance) *cim.Instance {
	f.Set("CreationClassName", cim.NewString("CIM_IndicationFilter"))
	f.Set("SystemCreationClassName", cim.NewString("HC_HostSystem"))
	f.Set("SystemName", cim.NewString("test-host"))
	return f
}

// TestEventingRestore: the subscriptions are kept in the database and
// made again by a new Handler on it, identifiers unchanged.
func TestEventingRestore(t *testing.T) {
	s := newTestServerWith(t, testOptions{events: true})
	sink := newSink(t, nil)
	virt := selectors("__cimnamespace", "root/virt")
	id, _ := s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink.URL, ""), `<wse:Expires>PT1H</wse:Expires>`+wql("select * from CIM_InstCreation")))
	gone, _ := s.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink.URL, ""), wql("select * from CIM_InstCreation")))
	if st, _, raw := s.manage(t, actionUnsubscribe, gone, `<wse:Unsubscribe`+wseNS+`/>`); st != 200 {
		t.Fatalf("Unsubscribe: %d\n%s", st, raw)
	}
	// A new Handler on the same core and database, as after a restart.
	s.handler.Close()
	h := NewHandler(s.handler.cfg)
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); h.Close() })
	s = &testServer{Server: srv, core: s.core, users: s.users, handler: h}
	if st, root, raw := s.manage(t, actionEvtGetStatus, id, `<wse:GetStatus`+wseNS+`/>`); st != 200 || path(root, "Body/GetStatusResponse/Expires") == nil {
		t.Fatalf("GetStatus after the restart: %d\n%s", st, raw)
	}
	st, root, raw := s.manage(t, actionEvtGetStatus, gone, `<wse:GetStatus`+wseNS+`/>`)
	expectFault(t, "the unsubscribed one after the restart", st, root, raw, "wsa:DestinationUnreachable", "")
	s.createStatic(t, "after-restart")
	sink.waitFor(t, "an event after the restart", bySource("after-restart"))
	if n := len(s.handler.events.subs); n != 1 {
		t.Errorf("%d subscriptions restored, want 1", n)
	}
}

// TestEventEnvelopeIsWellFormed renders an event with hostile values and
// reference parameters and parses it back.
func TestEventEnvelopeIsWellFormed(t *testing.T) {
	params := `<a:P xmlns:a="urn:a" xmlns:b="urn:b" b:k="&lt;&amp;&quot;"><b:Q>x &lt; y</b:Q><R xmlns="">plain</R></a:P>`
	root, err := parseXML([]byte(`<w xmlns:wsa="`+nsWSA+`"><wsa:ReferenceParameters>`+params+`</wsa:ReferenceParameters></w>`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ep := &endpoint{Address: "http://sink/x?a=1&b=2", Params: string(appendElementXML(nil, root.Children[0].Children[0]))}
	s := &eventSub{rec: subRecord{Mode: deliveryEvents, NotifyTo: ep, SendBookmarks: true}}
	ind := cim.NewInstance("CIM_AlertIndication")
	ind.Set("Description", cim.NewString("<\x01&\"]]>"))
	ind.Set("SequenceContext", cim.NewString("HC:x:1"))
	ind.Set("SequenceNumber", cim.NewSint64(3))
	ro := renderOptions{}
	msg, id := s.message(DMTFClassPrefix+"CIM_AlertIndication", appendInstance(nil, ind, "p", false, &ro), bookmarkOf(ind))
	doc, err := parseXML(msg, Limits{})
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	p := path(doc, "Header/P")
	if p == nil || p.Space != "urn:a" || path(p, "Q").Space != "urn:b" || path(p, "Q").TrimmedText() != "x < y" || path(p, "R").Space != "" {
		t.Errorf("reference parameters:\n%s", msg)
	}
	if v, _ := p.AttrNS("urn:b", "k"); v != `<&"` {
		t.Errorf("attribute %q", v)
	}
	if path(doc, "Header/MessageID").TrimmedText() != id || path(doc, "Header/To").TrimmedText() != ep.Address || path(doc, "Header/Bookmark").TrimmedText() != "HC:x:1#3" {
		t.Errorf("headers:\n%s", msg)
	}
	if d := path(doc, "Body/Events/Event/CIM_AlertIndication/Description").Text; d != "<\uFFFD&\"]]>" {
		t.Errorf("description %q", d)
	}
}

// TestDigestAnswer checks the Digest client against RFC 7616's example
// (section 3.9.1, SHA-256) computed independently.
func TestDigestAnswer(t *testing.T) {
	ch := parseAuthParams(`realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`)
	if ch["realm"] != "http-auth@example.org" || ch["algorithm"] != "SHA-256" || ch["qop"] != "auth, auth-int" {
		t.Fatalf("params %v", ch)
	}
	a := answerDigest(ch, "Mufasa", "Circle of Life", "GET", "/dir/index.html")
	got := parseAuthParams(strings.TrimPrefix(a, "Digest "))
	cnonce, nc := got["cnonce"], got["nc"]
	if got["qop"] != "auth" || nc != "00000001" || got["opaque"] != ch["opaque"] || got["uri"] != "/dir/index.html" {
		t.Fatalf("answer %q", a)
	}
	want := sha256hex(sha256hex("Mufasa:http-auth@example.org:Circle of Life") + ":" + ch["nonce"] + ":" + nc + ":" + cnonce + ":auth:" + sha256hex("GET:/dir/index.html"))
	if got["response"] != want {
		t.Errorf("response %s, want %s", got["response"], want)
	}
	// With RFC 7616's own cnonce the response is the RFC's.
	if r := sha256hex(sha256hex("Mufasa:http-auth@example.org:Circle of Life") + ":" + ch["nonce"] + ":00000001:f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:" + sha256hex("GET:/dir/index.html")); r != "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1" {
		t.Errorf("the RFC example does not check: %s", r)
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestEventingHTTPSVerification: a sink reached over HTTPS must present a
// certificate the service trusts (Config.EventTLS, else the system's
// roots); an untrusted one gets nothing, and the subscription waits for
// it to be fixed (failures are retried, not refusals).
func TestEventingHTTPSVerification(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	sink := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path]++
		mu.Unlock()
	}))
	sink.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	sink.StartTLS()
	t.Cleanup(sink.Close)
	pool := x509.NewCertPool()
	pool.AddCert(sink.Certificate())
	trusting := newTestServerWith(t, testOptions{events: true, configure: func(c *Config) { c.EventTLS = &tls.Config{RootCAs: pool} }})
	strict := newTestServerWith(t, testOptions{events: true})
	virt := selectors("__cimnamespace", "root/virt")
	trusting.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink.URL+"/trusted", ""), wql("select * from CIM_InstCreation")))
	id, _ := strict.subscribe(t, subscribeEnvelope(AllClassesURI, virt, pushTo(deliveryPush, sink.URL+"/untrusted", ""), wql("select * from CIM_InstCreation")))
	trusting.createStatic(t, "tls1")
	strict.createStatic(t, "tls1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := got["/trusted"]
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event over HTTPS with the sink's certificate trusted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if got["/untrusted"] != 0 {
		t.Error("an event reached a sink whose certificate is not trusted")
	}
	if st, _, raw := strict.manage(t, actionEvtGetStatus, id, `<wse:GetStatus`+wseNS+`/>`); st != 200 {
		t.Errorf("the subscription to the untrusted sink ended: %d\n%s", st, raw)
	}
}

// TestClassifyAnswer: how a sink's answer to an event that asks for an
// acknowledgement is read, including answers a hostile or broken sink
// sends (no SOAP Header, not XML), which refuse the event and never
// crash the delivery.
func TestClassifyAnswer(t *testing.T) {
	const id = "uuid:event-1"
	ack := func(relatesTo string) string {
		return `<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:wsa="` + nsWSA + `"><s:Header><wsa:Action>` + actionAck +
			`</wsa:Action><wsa:RelatesTo>` + relatesTo + `</wsa:RelatesTo></s:Header><s:Body/></s:Envelope>`
	}
	refused := `<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:wsman="` + nsWSMAN + `"><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value>` +
		`<s:Subcode><s:Value>wsman:DeliveryRefused</s:Value></s:Subcode></s:Code><s:Reason><s:Text>no</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`
	for _, c := range []struct {
		name      string
		status    int
		body      string
		ack       bool
		ok        bool
		permanent bool
		refused   bool
	}{
		{"acknowledged", 200, ack(id), true, true, false, false},
		{"acknowledges another message", 200, ack("uuid:other"), true, false, true, false},
		{"no Header", 200, `<s:Envelope xmlns:s="` + nsSOAP + `"><s:Body/></s:Envelope>`, true, false, true, false},
		{"not an envelope", 200, `<x/>`, true, false, true, false},
		{"not XML", 200, `ok`, true, false, true, false},
		{"no acknowledgement wanted", 200, `<x/>`, false, true, false, false},
		{"delivery refused", 200, refused, true, false, true, true},
		{"server error", 503, "", true, false, false, false},
		{"client error", 404, "", false, false, true, false},
	} {
		err := classifyAnswer(c.status, []byte(c.body), id, c.ack)
		if c.ok {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var de *deliveryError
		if !errors.As(err, &de) || de.permanent != c.permanent || de.refused != c.refused {
			t.Errorf("%s: %#v, want permanent %v, refused %v", c.name, err, c.permanent, c.refused)
		}
	}
}
