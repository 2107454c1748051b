package wsmanconformance

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// WS-Eventing against the real daemon: subscriptions made with the
// envelopes openwsman's wsman CLI sends (captured; host, port, sink and
// query substituted), events from static instances and from the test
// provider delivered to a real HTTP event sink in this process.

const (
	nsWSE          = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	actSubscribe   = nsWSE + "/Subscribe"
	actGetStatus   = nsWSE + "/GetStatus"
	actCreate      = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
	actDelete      = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
	deliveryPull   = "http://schemas.dmtf.org/wbem/wsman/1/wsman/Pull"
	capturedSink   = "http://127.0.0.1:9999/eventsink"
	capturedQuery  = "select * from CIM_AlertIndication"
	capturedExpiry = "PT3600.000000S"
)

// eventSink is an HTTP event sink: it keeps every message it accepts and
// answers each path as told (200 by default).
type eventSink struct {
	url  string
	cert *x509.Certificate // of an HTTPS sink
	mu   sync.Mutex
	got  []sinkEvent
	fail map[string][]int // path -> statuses to answer next, in order
}

type sinkEvent struct {
	path, authz string
	doc         *etree.Document
	raw         string
}

func newEventSink(t *testing.T) *eventSink { return startEventSink(t, false) }

// startEventSink starts the sink over HTTP, or over HTTPS with
// httptest's certificate (sink.cert).
func startEventSink(t *testing.T, useTLS bool) *eventSink {
	k := &eventSink{fail: map[string][]int{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(body); err != nil {
			t.Errorf("the sink received a message that is not XML: %v\n%s", err, body)
		}
		k.mu.Lock()
		status := 200
		if next := k.fail[r.URL.Path]; len(next) > 0 {
			status, k.fail[r.URL.Path] = next[0], next[1:]
		}
		if status == 200 {
			k.got = append(k.got, sinkEvent{path: r.URL.Path, authz: r.Header.Get("Authorization"), doc: doc, raw: string(body)})
		}
		k.mu.Unlock()
		w.WriteHeader(status)
	}))
	if useTLS {
		srv.StartTLS()
		k.cert = srv.Certificate()
	} else {
		srv.Start()
	}
	k.url = srv.URL
	t.Cleanup(srv.Close)
	return k
}

// failNext makes the sink answer the next messages to path with these
// statuses.
func (k *eventSink) failNext(path string, statuses ...int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fail[path] = statuses
}

// waitFor returns the first message match accepts, waiting up to limit.
func (k *eventSink) waitFor(t *testing.T, what string, limit time.Duration, match func(sinkEvent) bool) sinkEvent {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		k.mu.Lock()
		for _, e := range k.got {
			if match(e) {
				k.mu.Unlock()
				return e
			}
		}
		n := len(k.got)
		k.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the sink did not receive %s within %s (%d messages)", what, limit, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *eventSink) has(match func(sinkEvent) bool) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range k.got {
		if match(e) {
			return true
		}
	}
	return false
}

// source returns the Id of an event's SourceInstance.
func source(e sinkEvent) string { return text(e.doc, "//SourceInstance/Id") }

func eventOf(path, class, id string) func(sinkEvent) bool {
	return func(e sinkEvent) bool {
		return e.path == path && source(e) == id && text(e.doc, "//Header/Action") == dmtfPrefix+class
	}
}

// captured returns a captured wsman CLI request for s, with the edits
// applied (old, new pairs).
func captured(t *testing.T, s *server, name string, edits ...string) string {
	t.Helper()
	req := loadCapture(t, filepath.Join(bins.root, "..", "shared", "fixtures", "clients", "wsman", "wsmancli", name), s)
	body := req.body
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(body, edits[i]) {
			t.Fatalf("%s does not hold %q", name, edits[i])
		}
		body = strings.ReplaceAll(body, edits[i], edits[i+1])
	}
	return body
}

// staticInstance creates (or with del, deletes) a T_Static in root/virt
// with WS-Transfer.
func staticInstance(t *testing.T, s *server, class, id string, del bool) {
	t.Helper()
	ns := selectorSet("__cimnamespace", "root/virt")
	var st int
	var raw string
	if del {
		st, raw = s.post(t, soap(actDelete, dmtfPrefix+class, selectorSet("__cimnamespace", "root/virt", "Id", id), ""))
	} else {
		st, raw = s.post(t, soap(actCreate, dmtfPrefix+class, ns,
			`<p:`+class+` xmlns:p="`+dmtfPrefix+class+`"><p:Id>`+id+`</p:Id><p:Name>event `+id+`</p:Name></p:`+class+`>`))
	}
	if st != 200 {
		t.Fatalf("%s %s: %d\n%s", map[bool]string{false: "Create", true: "Delete"}[del], id, st, raw)
	}
}

func subscriptionID(t *testing.T, raw string) string {
	t.Helper()
	id := text(parse(t, raw), "//SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier")
	if !strings.HasPrefix(id, "uuid:") {
		t.Fatalf("no subscription identifier:\n%s", raw)
	}
	return id
}

func getStatus(t *testing.T, s *server, id string) (int, string) {
	t.Helper()
	return s.post(t, soap(actGetStatus, allClasses, `<wse:Identifier xmlns:wse="`+nsWSE+`">`+id+`</wse:Identifier>`, `<wse:GetStatus xmlns:wse="`+nsWSE+`"/>`))
}

// TestEventingWithWsmancli subscribes with wsmancli's Subscribe envelope,
// receives lifecycle indications of static instances and of the test
// provider, renews, survives a restart, recovers from a failing sink and
// unsubscribes, with wsmancli's Renew and Unsubscribe envelopes.
func TestEventingWithWsmancli(t *testing.T) {
	s := startServer(t)
	sink := newEventSink(t)
	query := "select * from CIM_InstIndication where SourceInstance ISA T_Base"
	st, raw := s.post(t, captured(t, s, "42_Subscribe.txt", capturedSink, sink.url+"/eventsink", capturedQuery, query, "root/interop", "root/virt"))
	if st != 200 {
		t.Fatalf("Subscribe: %d\n%s", st, raw)
	}
	id := subscriptionID(t, raw)
	if e := text(parse(t, raw), "//SubscribeResponse/Expires"); e != "PT3600S" {
		t.Errorf("Expires %q", e)
	}

	staticInstance(t, s, "T_Static", "ws1", false)
	e := sink.waitFor(t, "the creation of ws1", 10*time.Second, eventOf("/eventsink", "CIM_InstCreation", "ws1"))
	if text(e.doc, "//Body/CIM_InstCreation/SourceInstance/Name") != "event ws1" || text(e.doc, "//Header/To") != sink.url+"/eventsink" {
		t.Errorf("event:\n%s", e.raw)
	}
	staticInstance(t, s, "T_Dynamic", "dyn1", false) // served by the test provider
	sink.waitFor(t, "the creation of dyn1", 10*time.Second, eventOf("/eventsink", "CIM_InstCreation", "dyn1"))
	staticInstance(t, s, "T_Static", "ws1", true)
	sink.waitFor(t, "the deletion of ws1", 10*time.Second, eventOf("/eventsink", "CIM_InstDeletion", "ws1"))

	st, raw = s.post(t, captured(t, s, "46_Renew.txt", "uuid:1234", id))
	if st != 200 || text(parse(t, raw), "//RenewResponse/Expires") != "PT600S" {
		t.Fatalf("Renew: %d\n%s", st, raw)
	}

	// The subscription is kept across a restart.
	s.stop(t)
	s.start(t)
	if st, raw := getStatus(t, s, id); st != 200 {
		t.Fatalf("GetStatus after the restart: %d\n%s\n%s", st, raw, s.logs)
	}
	staticInstance(t, s, "T_Static", "ws2", false)
	sink.waitFor(t, "the creation of ws2 after the restart", 10*time.Second, eventOf("/eventsink", "CIM_InstCreation", "ws2"))

	// A sink that fails gets the event again on the retry schedule
	// (DeliveryRetryInterval, 20 s by default).
	sink.failNext("/eventsink", 503)
	staticInstance(t, s, "T_Static", "ws3", false)
	sink.waitFor(t, "the retried creation of ws3", 45*time.Second, eventOf("/eventsink", "CIM_InstCreation", "ws3"))

	st, raw = s.post(t, captured(t, s, "44_Unsubscribe.txt", "uuid:1234", id))
	if st != 200 {
		t.Fatalf("Unsubscribe: %d\n%s", st, raw)
	}
	staticInstance(t, s, "T_Static", "ws4", false)
	time.Sleep(time.Second)
	if sink.has(func(e sinkEvent) bool { return source(e) == "ws4" }) {
		t.Error("an event arrived after Unsubscribe")
	}
	st, raw = getStatus(t, s, id)
	if sub, _ := fault(parse(t, raw)); st != 400 || sub != "wsa:DestinationUnreachable" {
		t.Errorf("GetStatus after Unsubscribe: %d %s", st, sub)
	}
}

// TestEventingModesOnDaemon: Pull delivery, expiry, Basic credentials for
// the sink given as wsmancli's --delivery-username sends them, and
// SubscriptionEnd when a sink refuses.
func TestEventingModesOnDaemon(t *testing.T) {
	sink := newEventSink(t)
	tlsSink := startEventSink(t, true)
	ca := filepath.Join(t.TempDir(), "sink-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSink.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, serverOptions{genCount: 3, genPayload: 16, args: []string{"--wsman-event-ca", ca}})
	query := "select * from CIM_InstCreation where SourceInstance ISA T_Static"
	subscribe := func(edits ...string) string {
		t.Helper()
		all := append([]string{capturedQuery, query, "root/interop", "root/virt"}, edits...)
		st, raw := s.post(t, captured(t, s, "42_Subscribe.txt", all...))
		if st != 200 {
			t.Fatalf("Subscribe: %d\n%s", st, raw)
		}
		return raw
	}

	// Pull: the events wait for wsen:Pull on the SubscribeResponse's context.
	raw := subscribe(`<wse:Delivery Mode="http://schemas.xmlsoap.org/ws/2004/08/eventing/DeliveryModes/Push"><wse:NotifyTo><wsa:Address>`+capturedSink+`</wsa:Address></wse:NotifyTo></wse:Delivery>`,
		`<wse:Delivery Mode="`+deliveryPull+`"/>`)
	ctx := text(parse(t, raw), "//SubscribeResponse/EnumerationContext")
	staticInstance(t, s, "T_Static", "pulled", false)
	st, raw := s.post(t, soap(actPull, allClasses, "", `<wsen:Pull><wsen:EnumerationContext>`+ctx+`</wsen:EnumerationContext><wsen:MaxTime>PT10S</wsen:MaxTime></wsen:Pull>`))
	if d := parse(t, raw); st != 200 || text(d, "//PullResponse/Items/CIM_InstCreation/SourceInstance/Id") != "pulled" || text(d, "//PullResponse/EnumerationContext") != ctx {
		t.Errorf("Pull: %d\n%s", st, raw)
	}

	// Expiry: the subscription ends by itself.
	expiring := subscriptionID(t, subscribe(capturedSink, sink.url+"/expiring", capturedExpiry, "PT1.5S"))
	// Credentials for the sink, as openwsman's client sends them.
	tokens := `<wst:IssuedTokens xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" s:mustUnderstand="true">` +
		`<wst:RequestSecurityTokenResponse><wst:TokenType>http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#UsernameToken</wst:TokenType>` +
		`<wst:RequestedSecurityToken><wsse:UsernameToken><wsse:Username>sinkuser</wsse:Username><wsse:Password>sinkpass</wsse:Password></wsse:UsernameToken></wst:RequestedSecurityToken>` +
		`<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>` + sink.url + `/basic</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityTokenResponse></wst:IssuedTokens>`
	subscribe(capturedSink, sink.url+"/basic", "</wse:NotifyTo>", `</wse:NotifyTo><wsman:Auth Profile="http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/basic"/>`,
		"</wsman:SelectorSet></s:Header>", "</wsman:SelectorSet>"+tokens+"</s:Header>")
	// HTTPS with Basic, the sink's certificate trusted with --wsman-event-ca.
	subscribe(capturedSink, tlsSink.url+"/secure", "</wse:NotifyTo>", `</wse:NotifyTo><wsman:Auth Profile="http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/basic"/>`,
		"</wsman:SelectorSet></s:Header>", "</wsman:SelectorSet>"+strings.ReplaceAll(tokens, sink.url+"/basic", tlsSink.url+"/secure")+"</s:Header>")
	// A sink that refuses (404) ends its subscription: SubscriptionEnd goes
	// to EndTo.
	refused := subscriptionID(t, subscribe(capturedSink, sink.url+"/missing", "<wse:Delivery", `<wse:EndTo><wsa:Address>`+sink.url+`/end</wsa:Address></wse:EndTo><wse:Delivery`))
	sink.failNext("/missing", 404)

	staticInstance(t, s, "T_Static", "m1", false)
	b := sink.waitFor(t, "the event with credentials", 10*time.Second, eventOf("/basic", "CIM_InstCreation", "m1"))
	r := &http.Request{Header: http.Header{"Authorization": {b.authz}}}
	if u, p, ok := r.BasicAuth(); !ok || u != "sinkuser" || p != "sinkpass" {
		t.Errorf("Authorization %q", b.authz)
	}
	sec := tlsSink.waitFor(t, "the event over HTTPS", 10*time.Second, eventOf("/secure", "CIM_InstCreation", "m1"))
	if !strings.HasPrefix(sec.authz, "Basic ") {
		t.Errorf("HTTPS Authorization %q", sec.authz)
	}
	end := sink.waitFor(t, "SubscriptionEnd", 10*time.Second, func(e sinkEvent) bool { return e.path == "/end" })
	if text(end.doc, "//SubscriptionEnd/Status") != nsWSE+"/DeliveryFailure" || text(end.doc, "//SubscriptionEnd/SubscriptionManager/ReferenceParameters/Identifier") != refused {
		t.Errorf("SubscriptionEnd:\n%s", end.raw)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, raw := getStatus(t, s, expiring)
		if sub, _ := fault(parse(t, raw)); st == 400 && sub == "wsa:DestinationUnreachable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the subscription did not expire: %d\n%s", st, raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
