package wsman

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// WS-Eventing (DSP0226 clause 10, DSP0227 clause 10) on the core's
// indication service: each wse:Subscribe becomes a Go subscription of the
// core (wbem.Indications.Subscribe), which matches, queues, retries and
// expires; this file turns its deliveries into WS-Management event
// messages (Push, PushWithAck, Events) or keeps them for wsen:Pull (Pull
// mode), and serves Renew, GetStatus and Unsubscribe. Subscriptions are
// kept in the server's database (Config.EventStore) and subscribed again
// when the service starts, so they survive restarts as the CIM-XML ones
// do; what was queued for delivery does not.

// events is the WS-Eventing service of a Handler.
type events struct {
	h     *Handler
	x     *wbem.Indications
	store wbem.ProviderStore // nil: subscriptions live in memory only
	sink  *sinkClient
	log   logrus.FieldLogger

	mu      sync.Mutex
	subs    map[string]*eventSub // by identifier
	closing bool
	wg      sync.WaitGroup // the goroutines of the subscriptions
}

// subscriptionBucket is where the store keeps one JSON subRecord per
// subscription, by identifier.
const subscriptionBucket = "subscriptions"

// pullBufferSize bounds the events a Pull-mode subscription holds for its
// subscriber; beyond it the core's queue (and retries) take over.
const pullBufferSize = 1000

// defaultPullWait is how long a Pull of events waits for one when the
// request sets neither wsen:MaxTime nor wsman:OperationTimeout.
const defaultPullWait = 60 * time.Second

// subRecord is what defines a subscription: stored, and enough to
// subscribe again after a restart.
type subRecord struct {
	ID           string    `json:"id"`
	User         string    `json:"user"`
	Unrestricted bool      `json:"unrestricted,omitempty"`
	Created      time.Time `json:"created"`
	// Manager is the subscription manager's address (this service).
	Manager      string   `json:"manager"`
	ResourceURI  string   `json:"resourceURI"`
	WMINamespace string   `json:"wmiNamespace,omitempty"`
	Language     string   `json:"language"`
	Query        string   `json:"query"`
	Sources      []string `json:"sources"`
	Mode         string   `json:"mode"`
	// NotifyTo is nil in Pull mode.
	NotifyTo       *endpoint     `json:"notifyTo,omitempty"`
	EndTo          *endpoint     `json:"endTo,omitempty"`
	Profile        string        `json:"profile,omitempty"`
	Heartbeat      time.Duration `json:"heartbeat,omitempty"`
	SendBookmarks  bool          `json:"sendBookmarks,omitempty"`
	MaxEnvelope    int           `json:"maxEnvelope,omitempty"`
	EnvelopePolicy string        `json:"envelopePolicy,omitempty"`
	// Expires is zero for a subscription without end; ExpiresAsDuration
	// says the subscriber speaks in durations.
	Expires           time.Time `json:"expires,omitzero"`
	ExpiresAsDuration bool      `json:"expiresAsDuration,omitempty"`
}

// eventSub is one active subscription.
type eventSub struct {
	ev   *events
	uris resourceURIs
	core *wbem.Subscription
	// pull holds the events of a Pull-mode subscription; nil otherwise.
	pull *eventBuffer
	// pulling admits one Pull at a time.
	pulling chan struct{}
	// stop is closed when the subscription has ended.
	stop chan struct{}
	// lastSent is when a message last reached the sink (UnixNano), for
	// heartbeats.
	lastSent     atomic.Int64
	unsubscribed atomic.Bool

	// rec is guarded by events.mu once the subscription is registered
	// (Renew changes its expiry).
	rec subRecord
}

func newEvents(h *Handler) *events {
	cfg := h.cfg
	if cfg.Events == nil {
		return nil
	}
	ev := &events{
		h: h, x: cfg.Events, store: cfg.EventStore, log: cfg.Log,
		sink: newSinkClient(cfg.EventTLS, "hypercimd/"+cfg.ProductVersion),
		subs: map[string]*eventSub{},
	}
	ev.restore()
	return ev
}

// restore subscribes again to what the store holds. A subscription that
// expired meanwhile is forgotten; one that can no longer be made (its
// owner lost the right, a class went away) is forgotten and its
// subscriber told with SubscriptionEnd (SourceCancelling).
func (ev *events) restore() {
	if ev.store == nil {
		return
	}
	var recs []subRecord
	err := ev.store.View(func(tx wbem.ProviderTx) error {
		return tx.ForEach(subscriptionBucket, func(key string, v []byte) error {
			var r subRecord
			if err := json.Unmarshal(v, &r); err != nil || r.ID != key {
				ev.log.WithField("subscription", key).Warn("a stored WS-Eventing subscription cannot be read; it is ignored")
				return nil
			}
			recs = append(recs, r)
			return nil
		})
	})
	if err != nil {
		ev.log.WithError(err).Warn("reading the stored WS-Eventing subscriptions")
		return
	}
	now := time.Now()
	restored := 0
	for _, r := range recs {
		if !r.Expires.IsZero() && !r.Expires.After(now) {
			ev.forget(r.ID)
			continue
		}
		ctx := wbem.WithPrincipal(context.Background(), wbem.Principal{User: r.User, Unrestricted: r.Unrestricted})
		if _, err := ev.start(ctx, r); err != nil {
			ev.log.WithError(err).WithFields(logrus.Fields{"subscription": r.ID, "user": r.User}).
				Warn("a stored WS-Eventing subscription can no longer be made; it is removed")
			ev.forget(r.ID)
			if r.EndTo != nil {
				ev.wg.Add(1)
				go func(r subRecord) {
					defer ev.wg.Done()
					ev.sendEnd(&r, statusSourceCancelling, "the subscription could not be restored when the service started: "+errText(err))
				}(r)
			}
			continue
		}
		restored++
	}
	if restored > 0 {
		ev.log.WithField("subscriptions", restored).Info("WS-Eventing subscriptions restored")
	}
}

// errText is an error's description without a CIM status prefix.
func errText(err error) string {
	var ce *cim.Error
	if errors.As(err, &ce) && ce.Description != "" {
		return ce.Description
	}
	return err.Error()
}

// close ends the goroutines of every subscription; the stored ones are
// kept for the next start.
func (ev *events) close() {
	if ev == nil {
		return
	}
	ev.mu.Lock()
	ev.closing = true
	subs := make([]*eventSub, 0, len(ev.subs))
	for _, s := range ev.subs {
		subs = append(subs, s)
	}
	ev.mu.Unlock()
	for _, s := range subs {
		s.core.Cancel()
	}
	ev.wg.Wait()
}

func (ev *events) persist(r *subRecord) error {
	if ev.store == nil {
		return nil
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return ev.store.Update(func(tx wbem.ProviderTx) error { return tx.Put(subscriptionBucket, r.ID, data) })
}

func (ev *events) forget(id string) {
	if ev.store == nil {
		return
	}
	if err := ev.store.Update(func(tx wbem.ProviderTx) error { return tx.Delete(subscriptionBucket, id) }); err != nil {
		ev.log.WithError(err).WithField("subscription", id).Warn("removing a stored WS-Eventing subscription")
	}
}

// start subscribes r in the core and registers it.
func (ev *events) start(ctx context.Context, r subRecord) (*eventSub, error) {
	s := &eventSub{ev: ev, rec: r, uris: resourceURIs{wmiNamespace: r.WMINamespace},
		pulling: make(chan struct{}, 1), stop: make(chan struct{})}
	if r.Mode == deliveryPull {
		s.pull = newEventBuffer(pullBufferSize)
	}
	s.lastSent.Store(time.Now().UnixNano())
	core, err := ev.x.Subscribe(ctx, wbem.SubscribeRequest{
		Name:          "HC:wse:" + strings.TrimPrefix(r.ID, "uuid:"),
		QueryLanguage: r.Language, Query: r.Query, SourceNamespaces: r.Sources,
		Deliver: s.deliver, Expires: r.Expires,
	})
	if err != nil {
		return nil, err
	}
	s.core = core
	ev.mu.Lock()
	if ev.closing {
		ev.mu.Unlock()
		core.Cancel()
		return nil, cim.NewError(cim.ErrServerIsShuttingDown, "the service is shutting down")
	}
	ev.subs[r.ID] = s
	ev.wg.Add(1)
	go ev.watch(s)
	if r.Heartbeat > 0 && s.pull == nil {
		ev.wg.Add(1)
		go ev.heartbeats(s)
	}
	ev.mu.Unlock()
	return s, nil
}

// watch waits for the end of a subscription and does what it calls for:
// forget it and, when it ended abnormally, send SubscriptionEnd to the
// subscriber's EndTo (WS-Eventing clause 3.5).
func (ev *events) watch(s *eventSub) {
	defer ev.wg.Done()
	<-s.core.Done()
	err := s.core.Err()
	close(s.stop)
	if s.pull != nil {
		s.pull.end()
	}
	ev.mu.Lock()
	closing := ev.closing
	if ev.subs[s.rec.ID] == s {
		delete(ev.subs, s.rec.ID)
	}
	rec := s.rec
	ev.mu.Unlock()
	if closing || errors.Is(err, wbem.ErrServerClosed) {
		return // kept in the store for the next start
	}
	ev.forget(rec.ID)
	log := ev.log.WithFields(logrus.Fields{"subscription": rec.ID, "user": rec.User})
	var de *deliveryError
	switch {
	case s.unsubscribed.Load():
		log.Debug("WS-Eventing subscription ended by Unsubscribe")
	case errors.Is(err, wbem.ErrSubscriptionExpired):
		log.Info("WS-Eventing subscription expired")
	case errors.As(err, &de) && de.refused:
		// DSP0226 R10.8-1: no SubscriptionEnd after DeliveryRefused.
		log.WithError(err).Warn("WS-Eventing subscription ended: the event sink refused delivery")
	case errors.As(err, &de), errors.Is(err, wbem.ErrSubscriptionRemoved):
		log.WithError(err).Warn("WS-Eventing subscription ended: events could not be delivered")
		ev.sendEnd(&rec, statusDeliveryFailure, errText(err))
	default:
		log.WithError(err).Warn("WS-Eventing subscription ended")
		ev.sendEnd(&rec, statusSourceCancelling, errText(err))
	}
}

// sendEnd sends wse:SubscriptionEnd to the subscription's EndTo, if it
// has one: a few attempts, then it is given up (and logged).
func (ev *events) sendEnd(r *subRecord, status, reason string) {
	if r.EndTo == nil {
		return
	}
	var b []byte
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="`+nsSOAP+`" xmlns:wsa="`+nsWSA+
		`" xmlns:wsman="`+nsWSMAN+`" xmlns:wse="`+nsWSE+`"><s:Header>`...)
	b = appendElem(b, "wsa:To", r.EndTo.Address)
	b = appendElem(b, "wsa:Action", actionSubscriptionEnd)
	b = append(b, "<wsa:MessageID>"...)
	b = appendMessageID(b)
	b = append(b, "</wsa:MessageID>"...)
	b = append(b, r.EndTo.Params...)
	b = append(b, "</s:Header><s:Body><wse:SubscriptionEnd>"...)
	b = appendManagerEPR(b, "wse:SubscriptionManager", r)
	b = appendElem(b, "wse:Status", status)
	b = append(b, `<wse:Reason xml:lang="en-US">`...)
	b = appendEscaped(b, reason)
	b = append(b, "</wse:Reason></wse:SubscriptionEnd></s:Body></s:Envelope>"...)
	ctx, cancel := context.WithTimeout(context.Background(), ev.x.Config().DeliveryTimeout)
	defer cancel()
	log := ev.log.WithFields(logrus.Fields{"subscription": r.ID, "endTo": r.EndTo.Address, "status": status})
	if err := ev.sink.sendWithRetries(ctx, sinkTarget{ep: r.EndTo}, b, 3, 2*time.Second); err != nil {
		log.WithError(err).Warn("SubscriptionEnd could not be delivered")
		return
	}
	log.Info("SubscriptionEnd sent")
}

// appendManagerEPR appends the subscription manager's EPR as the element
// tag: this service's address, and the subscription's resource URI and
// identifier as reference parameters, which Renew, GetStatus and
// Unsubscribe send back as headers.
func appendManagerEPR(dst []byte, tag string, r *subRecord) []byte {
	dst = append(dst, '<')
	dst = append(dst, tag...)
	dst = append(dst, '>')
	dst = appendElem(dst, "wsa:Address", r.Manager)
	dst = append(dst, "<wsa:ReferenceParameters>"...)
	dst = appendElem(dst, "wsman:ResourceURI", r.ResourceURI)
	dst = append(dst, `<wse:Identifier xmlns:wse="`+nsWSE+`">`...)
	dst = appendEscaped(dst, r.ID)
	dst = append(dst, "</wse:Identifier></wsa:ReferenceParameters></"...)
	dst = append(dst, tag...)
	return append(dst, '>')
}

// subscribe is wse:Subscribe.
func (ev *events) subscribe(ctx context.Context, r *http.Request, req *request) (*reply, error) {
	if !req.hasResourceURI {
		return nil, destinationFault(detailInvalidResourceURI, "the wsman:ResourceURI header is missing: subscribe to %s with a filter, or to an indication class", AllClassesURI)
	}
	res, f := parseResourceURI(req.resourceURI)
	if f != nil {
		return nil, f
	}
	now := time.Now()
	sr, f := parseSubscribe(req.body, req.issuedTokens, now)
	if f != nil {
		return nil, f
	}
	if sr.hasBookmark && sr.bookmark != bookmarkEarliest {
		detail := detailExpired
		if sr.bookmark == "" {
			detail = detailInvalidFormat
		}
		return nil, senderFault(subInvalidBookmark, detail, "the bookmark cannot be resumed: this service keeps no delivered events; subscribe without a bookmark, or with %s", bookmarkEarliest)
	}
	sels, f := parseSelectorSet(req.selectorSet)
	if f != nil {
		return nil, f
	}
	selNS, keys := namespaceOf(sels)
	lang, text, sources, err := ev.resolveFilter(ctx, res, selNS, keys, sr)
	if err != nil {
		return nil, err
	}
	p, _ := wbem.PrincipalFrom(ctx)
	if sr.mode != deliveryPull && !p.Unrestricted && (ev.h.cfg.Auth == nil || !ev.h.cfg.Auth.Allowed(p, wbem.InteropNamespace, true)) {
		// The server will connect wherever NotifyTo says: as for CIM-XML
		// listener destinations, that takes the write right on the
		// interop namespace.
		return nil, senderFault(subAccessDenied, "", "user %s may not have events pushed: that takes the write right on %s (Pull delivery needs only the read right on the source namespace)", p.User, wbem.InteropNamespace)
	}
	rec := subRecord{
		ID: newMessageID(), User: p.User, Unrestricted: p.Unrestricted, Created: now,
		Manager: managerAddress(r), ResourceURI: strings.TrimSpace(req.resourceURI), WMINamespace: res.uris.wmiNamespace,
		Language: lang, Query: text, Sources: sources, Mode: sr.mode,
		NotifyTo: sr.notifyTo, EndTo: sr.endTo, Profile: sr.profile, Heartbeat: sr.heartbeat,
		SendBookmarks: sr.sendBookmarks, MaxEnvelope: sr.maxEnvelope, EnvelopePolicy: sr.envelopePolicy,
		Expires: sr.expires.at, ExpiresAsDuration: sr.expires.asDuration,
	}
	if err := ev.persist(&rec); err != nil {
		return nil, internalFault("storing the subscription: %v", err)
	}
	if _, err := ev.start(ctx, rec); err != nil {
		ev.forget(rec.ID)
		return nil, subscribeFault(err)
	}
	ev.log.WithFields(logrus.Fields{"subscription": rec.ID, "user": rec.User, "mode": rec.Mode, "query": rec.Query}).Info("WS-Eventing subscription created")
	body := []byte(`<wse:SubscribeResponse xmlns:wse="` + nsWSE + `">`)
	body = appendManagerEPR(body, "wse:SubscriptionManager", &rec)
	if sr.expires.set {
		body = appendElem(body, "wse:Expires", sr.expires.format(now))
	}
	if rec.Mode == deliveryPull {
		// DSP0226 10.2.9.4: the context to pull the events with.
		body = appendElem(body, "wsen:EnumerationContext", rec.ID)
	}
	body = append(body, "</wse:SubscribeResponse>"...)
	return &reply{action: actionSubscribe + "Response", body: [][]byte{body}}, nil
}

// managerAddress is the address of this service as the client reached
// it.
func managerAddress(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Path
}

// subscribeFault maps an error of the core's Subscribe: a query that does
// not check is wsman:CannotProcessFilter, a server limit
// wse:EventSourceUnableToProcess.
func subscribeFault(err error) error {
	ce := cim.AsError(err)
	var f *Fault
	switch ce.Status {
	case cim.ErrInvalidParameter, cim.ErrInvalidQuery:
		f = senderFault(subCannotProcessFilter, "", "%s", ce.Description)
	case cim.ErrNotSupported, cim.ErrQueryLanguageNotSupported:
		f = senderFault(subEvtFilteringUnavail, "", "%s", ce.Description)
		f.DetailXML = supportedDialects
	case cim.ErrFailed, cim.ErrServerIsShuttingDown:
		f = senderFault(subEventSourceUnable, "", "%s", ce.Description)
	default:
		return faultFromCIM(err)
	}
	f.CIM = ce
	return f
}

// supportedDialects is the detail of wse:FilteringRequestedUnavailable.
const supportedDialects = `<wse:SupportedDialect xmlns:wse="` + nsWSE + `">` + dialectWQL + `</wse:SupportedDialect>` +
	`<wse:SupportedDialect xmlns:wse="` + nsWSE + `">` + dialectWQLMicrosft + `</wse:SupportedDialect>` +
	`<wse:SupportedDialect xmlns:wse="` + nsWSE + `">` + dialectCQL + `</wse:SupportedDialect>`

// resolveFilter decides what a subscription selects (DSP0227 10.2), as
// the core's ResolveSubscription says: on the all-classes URI its WQL or
// CQL filter; on an indication class, the filter or every indication of
// the class; on a CIM_IndicationFilter instance, that filter's query and
// source namespaces. The adapter only maps the core's answer to faults.
func (ev *events) resolveFilter(ctx context.Context, res resource, selNS string, keys []selector, sr *subscribeRequest) (lang, text string, sources []string, err error) {
	t := wbem.SubscriptionTarget{Namespace: res.namespace, DefaultNamespace: ev.h.cfg.DefaultNamespace}
	if t.Namespace == "" {
		t.Namespace = selNS
	}
	switch res.kind {
	case resourceAll:
	case resourceClass:
		t.Class = res.class
	default:
		return "", "", nil, destinationFault(detailInvalidResourceURI, "%q cannot be subscribed to: use %s with a filter, or the URI of an indication class", res.uri, AllClassesURI)
	}
	var f *Fault
	if t.Keys, f = keyBindings(keys, 0); f != nil {
		return "", "", nil, f
	}
	if sr.filter != nil {
		if t.QueryLanguage, t.Query, err = filterQuery(sr); err != nil {
			return "", "", nil, err
		}
	}
	req, err := ev.x.ResolveSubscription(ctx, t)
	if err != nil {
		return "", "", nil, targetFault(err, res)
	}
	return req.QueryLanguage, req.Query, req.SourceNamespaces, nil
}

// targetFault maps the core's refusal of a subscription target.
func targetFault(err error, res resource) error {
	ce := cim.AsError(err)
	var f *Fault
	switch {
	case errors.Is(err, wbem.ErrQueryRequired):
		f = unsupportedFault(detailFilteringRequired, "a subscription to %s needs a WQL or CQL filter", AllClassesURI)
	case errors.Is(err, wbem.ErrNotIndicationClass):
		f = senderFault(subActionNotSupported, detailActionMismatch, "%s: subscribe to an indication class, to %s with a filter, or to a CIM_IndicationFilter", ce.Description, AllClassesURI)
	case errors.Is(err, wbem.ErrUnexpectedKeys):
		f = selectorFault(detailUnexpectedSelectors, "%s: give only the %s selector", ce.Description, cimNamespaceSelector)
	case errors.Is(err, wbem.ErrFilterKeys):
		f = selectorFault(detailInsufficientSelectors, "%s", ce.Description)
	case errors.Is(err, wbem.ErrQueryWithFilter):
		f = senderFault(subEvtFilteringNotSupp, "", "%s: leave the filter out", ce.Description)
	case errors.Is(err, wbem.ErrQueryOutsideClass):
		f = senderFault(subCannotProcessFilter, "", "%s", ce.Description)
	case errors.Is(err, wbem.ErrNoIndicationClasses):
		f = senderFault(subEventSourceUnable, "", "%s", ce.Description)
	case ce.Status == cim.ErrInvalidClass && res.kind == resourceClass:
		f = destinationFault(detailInvalidResourceURI, "%s", ce.Description)
	case ce.Status == cim.ErrInvalidNamespace, ce.Status == cim.ErrNotFound, ce.Status == cim.ErrAccessDenied:
		return faultFromCIM(err)
	default:
		return subscribeFault(err)
	}
	f.CIM = ce
	return f
}

// filterQuery returns the query language and text of a WQL or CQL filter.
func filterQuery(sr *subscribeRequest) (string, string, error) {
	lang := ""
	switch sr.dialect {
	case dialectWQL, dialectWQLMicrosft:
		lang = "WQL"
	case dialectCQL, dialectCQLShort:
		lang = "DMTF:CQL"
	default:
		f := senderFault(subEvtFilteringUnavail, "", "the filter dialect %q is not supported; use WQL (%s) or CQL (%s)", sr.dialect, dialectWQL, dialectCQL)
		f.DetailXML = supportedDialects
		return "", "", f
	}
	text := sr.filter.TrimmedText()
	if text == "" {
		return "", "", senderFault(subCannotProcessFilter, "", "the %s filter is empty", lang)
	}
	return lang, text, nil
}

// lookup finds the subscription a Renew, GetStatus or Unsubscribe names
// by its wse:Identifier header; only its owner (or an unrestricted
// principal) sees it.
func (ev *events) lookup(ctx context.Context, req *request, op string) (*eventSub, *Fault) {
	if !req.hasIdentifier || req.identifier == "" {
		return nil, invalidMessage("%s needs the wse:Identifier header: the reference parameter of the SubscriptionManager in the SubscribeResponse", op)
	}
	s := ev.owned(ctx, req.identifier)
	if s == nil {
		if op == "Renew" {
			return nil, senderFault(subUnableToRenew, "", "the subscription %q does not exist (unknown, unsubscribed or expired)", req.identifier)
		}
		return nil, destinationFault("", "the subscription %q does not exist (unknown, unsubscribed or expired)", req.identifier)
	}
	return s, nil
}

// unsubscribe is wse:Unsubscribe.
func (ev *events) unsubscribe(ctx context.Context, req *request) (*reply, error) {
	if req.body != nil && !req.body.Is(nsWSE, "Unsubscribe") {
		return nil, schemaFault("an Unsubscribe request must hold a wse:Unsubscribe body")
	}
	s, f := ev.lookup(ctx, req, "Unsubscribe")
	if f != nil {
		return nil, f
	}
	ev.end(s)
	return &reply{action: actionUnsubscribe + "Response"}, nil
}

// end ends a subscription at its subscriber's request.
func (ev *events) end(s *eventSub) {
	s.unsubscribed.Store(true)
	ev.mu.Lock()
	if ev.subs[s.rec.ID] == s {
		delete(ev.subs, s.rec.ID)
	}
	ev.mu.Unlock()
	ev.forget(s.rec.ID)
	s.core.Cancel()
}

// renew is wse:Renew: a new expiry, or none without wse:Expires.
func (ev *events) renew(ctx context.Context, req *request) (*reply, error) {
	if req.body == nil || !req.body.Is(nsWSE, "Renew") {
		return nil, schemaFault("a Renew request must hold a wse:Renew body")
	}
	s, f := ev.lookup(ctx, req, "Renew")
	if f != nil {
		return nil, f
	}
	now := time.Now()
	var exp expiry
	if e := req.body.ChildNS(nsWSE, "Expires"); e != nil {
		if exp, f = parseExpires(e.Text, now); f != nil {
			return nil, f
		}
	}
	if err := s.core.Renew(exp.at); err != nil {
		return nil, senderFault(subUnableToRenew, "", "the subscription %q cannot be renewed: %v", s.rec.ID, err)
	}
	ev.mu.Lock()
	s.rec.Expires, s.rec.ExpiresAsDuration = exp.at, exp.asDuration
	rec := s.rec
	ev.mu.Unlock()
	if err := ev.persist(&rec); err != nil {
		return nil, internalFault("storing the renewed subscription: %v", err)
	}
	ev.mu.Lock()
	ended := ev.subs[rec.ID] != s
	ev.mu.Unlock()
	if ended {
		// It ended while being renewed: its record must not outlive it.
		ev.forget(rec.ID)
		return nil, senderFault(subUnableToRenew, "", "the subscription %q ended while being renewed", rec.ID)
	}
	body := []byte(`<wse:RenewResponse xmlns:wse="` + nsWSE + `">`)
	if exp.set {
		body = appendElem(body, "wse:Expires", exp.format(now))
	}
	body = append(body, "</wse:RenewResponse>"...)
	return &reply{action: actionEvtRenew + "Response", body: [][]byte{body}}, nil
}

// getStatus is wse:GetStatus: when the subscription expires.
func (ev *events) getStatus(ctx context.Context, req *request) (*reply, error) {
	if req.body != nil && !req.body.Is(nsWSE, "GetStatus") {
		return nil, schemaFault("a GetStatus request must hold a wse:GetStatus body")
	}
	s, f := ev.lookup(ctx, req, "GetStatus")
	if f != nil {
		return nil, f
	}
	ev.mu.Lock()
	exp := expiry{set: !s.rec.Expires.IsZero(), at: s.rec.Expires, asDuration: s.rec.ExpiresAsDuration}
	ev.mu.Unlock()
	body := []byte(`<wse:GetStatusResponse xmlns:wse="` + nsWSE + `">`)
	if exp.set {
		body = appendElem(body, "wse:Expires", exp.format(time.Now()))
	}
	body = append(body, "</wse:GetStatusResponse>"...)
	return &reply{action: actionEvtGetStatus + "Response", body: [][]byte{body}}, nil
}

// deliver is the core's Deliver function of the subscription: it keeps
// the indication for wsen:Pull, or sends it to the event sink.
func (s *eventSub) deliver(ctx context.Context, ind *cim.Instance) error {
	if s.pull != nil {
		return s.pull.put(ctx, ind)
	}
	r := &s.rec // only Expires changes after start
	action := s.uris.classURI(ind.ClassName)
	ro := renderOptions{uris: s.uris}
	content := appendInstance(nil, ind, "p", false, &ro)
	msg, id := s.message(action, content, bookmarkOf(ind))
	if r.MaxEnvelope > 0 && len(msg) > r.MaxEnvelope {
		// DSP0226 10.2.9.3: what the subscriber asked for an event too large.
		switch r.EnvelopePolicy {
		case policySkip:
			s.ev.log.WithField("subscription", r.ID).Info("an event larger than the subscriber's MaxEnvelopeSize was skipped")
			return nil
		case policyCancel:
			return refusal("an event of %d octets exceeds the subscriber's MaxEnvelopeSize of %d (Policy CancelSubscription)", len(msg), r.MaxEnvelope)
		}
		dropped := []byte(`<wsman:DroppedEvents Action="`)
		dropped = appendEscaped(dropped, action)
		dropped = append(dropped, `">1</wsman:DroppedEvents>`...)
		msg, id = s.message(actionDroppedEvents, dropped, bookmarkOf(ind))
	}
	return s.send(ctx, msg, id)
}

// send posts a message to the sink and judges its answer.
func (s *eventSub) send(ctx context.Context, msg []byte, id string) error {
	r := &s.rec
	status, answer, err := s.ev.sink.post(ctx, sinkTarget{ep: r.NotifyTo, profile: r.Profile}, msg)
	if err != nil {
		return retryable("delivering to %s: %v", r.NotifyTo.Address, err)
	}
	if err := classifyAnswer(status, answer, id, s.acked()); err != nil {
		return err
	}
	s.lastSent.Store(time.Now().UnixNano())
	return nil
}

// acked reports whether the mode wants each message acknowledged.
func (s *eventSub) acked() bool {
	return s.rec.Mode == deliveryPushWithAck || s.rec.Mode == deliveryEvents
}

// bookmarkOf is the bookmark of a delivered indication: its place in the
// subscription's sequence (DSP1054 SequenceContext and SequenceNumber).
func bookmarkOf(ind *cim.Instance) string {
	n, _ := ind.Get("SequenceNumber").Int()
	return ind.Get("SequenceContext").Str() + "#" + strconv.FormatInt(n, 10)
}

// message builds an event message (DSP0226 10.2.9): to the NotifyTo
// address with its reference parameters as header blocks, the event's
// action, an acknowledgement request in the PushWithAck and Events modes,
// the bookmark when asked for; in the Events mode the event is a batch of
// one wsman:Event.
func (s *eventSub) message(action string, content []byte, bookmark string) ([]byte, string) {
	r := &s.rec
	b := make([]byte, 0, len(content)+1024)
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="`+nsSOAP+`" xmlns:wsa="`+nsWSA+
		`" xmlns:wsman="`+nsWSMAN+`" xmlns:xsi="`+nsXSI+`"><s:Header>`...)
	b = appendElem(b, "wsa:To", r.NotifyTo.Address)
	if r.Mode == deliveryEvents {
		b = appendElem(b, "wsa:Action", actionEvents)
	} else {
		b = appendElem(b, "wsa:Action", action)
	}
	b = append(b, "<wsa:MessageID>"...)
	mark := len(b)
	b = appendMessageID(b)
	id := string(b[mark:])
	b = append(b, "</wsa:MessageID>"...)
	if s.acked() {
		b = append(b, "<wsa:ReplyTo><wsa:Address>"+anonymousAddress+"</wsa:Address></wsa:ReplyTo><wsman:AckRequested/>"...)
	}
	b = append(b, r.NotifyTo.Params...)
	if r.SendBookmarks && bookmark != "" {
		b = appendElem(b, "wsman:Bookmark", bookmark)
	}
	b = append(b, "</s:Header><s:Body>"...)
	if r.Mode == deliveryEvents {
		b = append(b, `<wsman:Events><wsman:Event Action="`...)
		b = appendEscaped(b, action)
		b = append(b, `">`...)
		b = append(b, content...)
		b = append(b, "</wsman:Event></wsman:Events>"...)
	} else {
		b = append(b, content...)
	}
	b = append(b, "</s:Body></s:Envelope>"...)
	return b, id
}

// heartbeats sends a heartbeat (DSP0226 10.2.5) whenever no message has
// reached the sink for the subscription's interval. A failed heartbeat is
// only logged: the events themselves carry the retry policy.
func (ev *events) heartbeats(s *eventSub) {
	defer ev.wg.Done()
	every := s.rec.Heartbeat
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-timer.C:
		}
		last := time.Unix(0, s.lastSent.Load())
		if idle := time.Since(last); idle < every {
			timer.Reset(every - idle)
			continue
		}
		msg, id := s.message(actionHeartbeat, nil, "")
		ctx, cancel := context.WithTimeout(context.Background(), ev.x.Config().DeliveryTimeout)
		go func() {
			// A subscription that ends stops its heartbeat at once.
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := s.send(ctx, msg, id); err != nil {
			ev.log.WithError(err).WithField("subscription", s.rec.ID).Debug("a heartbeat could not be delivered")
			s.lastSent.Store(time.Now().UnixNano())
		}
		cancel()
		timer.Reset(every)
	}
}

// eventBuffer holds the events of a Pull-mode subscription until they are
// pulled.
type eventBuffer struct {
	mu    sync.Mutex
	items []*cim.Instance
	max   int
	ended bool
	// changed is closed (and replaced) at every change.
	changed chan struct{}
}

func newEventBuffer(max int) *eventBuffer {
	return &eventBuffer{max: max, changed: make(chan struct{})}
}

func (b *eventBuffer) signalLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// put adds an event, waiting (within ctx, the core's delivery timeout)
// while the buffer is full: a subscriber that stops pulling then sees the
// core's retries and drops.
func (b *eventBuffer) put(ctx context.Context, ind *cim.Instance) error {
	for {
		b.mu.Lock()
		if b.ended {
			b.mu.Unlock()
			return nil
		}
		if len(b.items) < b.max {
			b.items = append(b.items, ind)
			b.signalLocked()
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return retryable("%d events wait to be pulled: the subscriber does not pull", b.max)
		}
	}
}

// peek returns up to n events without removing them, whether the
// subscription has ended, and a channel closed at the next change.
func (b *eventBuffer) peek(n int) ([]*cim.Instance, bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*cim.Instance(nil), b.items[:min(n, len(b.items))]...), b.ended, b.changed
}

// drop removes the first n events.
func (b *eventBuffer) drop(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.items[:n])
	b.items = b.items[n:]
	if len(b.items) == 0 {
		b.items = nil
	}
	b.signalLocked()
}

func (b *eventBuffer) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ended = true
	b.items = nil
	b.signalLocked()
}

// owned returns the subscription id if ctx's principal made it (or is
// unrestricted), else nil: others' subscriptions are as unknown.
func (ev *events) owned(ctx context.Context, id string) *eventSub {
	p, _ := wbem.PrincipalFrom(ctx)
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if s := ev.subs[id]; s != nil && (p.Unrestricted || p.User == s.rec.User) {
		return s
	}
	return nil
}

// pullSub returns the Pull-mode subscription of ctx's principal whose
// context id is, or nil (then id is an enumeration's, or invalid).
func (ev *events) pullSub(ctx context.Context, id string) *eventSub {
	if ev == nil {
		return nil
	}
	if s := ev.owned(ctx, id); s != nil && s.pull != nil {
		return s
	}
	return nil
}

// pull is wsen:Pull on a Pull-mode subscription: the events waiting, or
// the first to come within wsen:MaxTime (else wsman:OperationTimeout,
// else a minute), then wsman:TimedOut; with heartbeats, an empty
// PullResponse after the heartbeat interval instead (DSP0226 10.2.5).
func (ev *events) pull(ctx context.Context, req *request, s *eventSub, o pullOptions) (*reply, error) {
	now := time.Now()
	deadline := now.Add(defaultPullWait)
	if o.maxTime > 0 {
		deadline = now.Add(o.maxTime)
	} else if dl, ok := ctx.Deadline(); ok {
		deadline = dl
	}
	heartbeat := false
	if hb := s.rec.Heartbeat; hb > 0 && now.Add(hb).Before(deadline) {
		deadline, heartbeat = now.Add(hb), true
	}
	wait, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	select {
	case s.pulling <- struct{}{}:
		defer func() { <-s.pulling }()
	case <-wait.Done():
		return nil, receiverFault(subTimedOut, "", "another Pull of the subscription %q is still waiting", s.rec.ID)
	}
	budget := ev.h.itemBudget(req, o.maxChars)
	ro := renderOptions{uris: s.uris}
	for {
		items, ended, changed := s.pull.peek(o.max)
		if ended {
			return nil, receiverFault(subInvalidEnumContext, "", "the subscription %q has ended (unsubscribed or expired)", s.rec.ID)
		}
		if len(items) > 0 {
			var dst []byte
			n, bookmark := 0, ""
			for _, it := range items {
				mark := len(dst)
				dst = appendInstance(dst, it, "p", false, &ro)
				if len(dst) > budget {
					dst = dst[:mark]
					break
				}
				n++
				bookmark = bookmarkOf(it)
			}
			if n == 0 {
				return nil, senderFault(subEncodingLimit, detailMaxEnvelopeSize, "the next event does not fit in the envelope limit of %d octets", budget)
			}
			s.pull.drop(n)
			return ev.pullResponse(s, dst, bookmark), nil
		}
		select {
		case <-changed:
		case <-wait.Done():
			if heartbeat && ctx.Err() == nil {
				return ev.pullResponse(s, nil, ""), nil
			}
			return nil, receiverFault(subTimedOut, "", "no event arrived within the wait of the Pull (wsen:MaxTime or wsman:OperationTimeout)")
		}
	}
}

// pullResponse answers a Pull of events: the context (the subscription
// lasts), the events if any, and the bookmark of the last one.
func (ev *events) pullResponse(s *eventSub, items []byte, bookmark string) *reply {
	out := &reply{action: actionPull + "Response"}
	if s.rec.SendBookmarks && bookmark != "" {
		out.header = appendElem(nil, "wsman:Bookmark", bookmark)
	}
	head := []byte("<wsen:PullResponse>")
	head = appendElem(head, "wsen:EnumerationContext", s.rec.ID)
	if len(items) == 0 {
		out.body = [][]byte{head, []byte("</wsen:PullResponse>")}
		return out
	}
	head = append(head, "<wsen:Items>"...)
	out.body = [][]byte{head, items, []byte("</wsen:Items></wsen:PullResponse>")}
	return out
}

// eventingDispatch runs a WS-Eventing operation.
func (h *Handler) eventingDispatch(ctx context.Context, r *http.Request, req *request) (*reply, error) {
	ev := h.events
	if ev == nil {
		return nil, senderFault(subActionNotSupported, detailActionMismatch, "%s is not supported: this service has no event source", req.action)
	}
	switch req.action {
	case actionSubscribe:
		return ev.subscribe(ctx, r, req)
	case actionEvtRenew:
		return ev.renew(ctx, req)
	case actionEvtGetStatus:
		return ev.getStatus(ctx, req)
	}
	return ev.unsubscribe(ctx, req)
}
