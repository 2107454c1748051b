package wsman

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// WS-Enumeration (DSP0226 clause 8) on the core's pull operations: every
// wsen:Enumerate opens a pull enumeration in the core, every wsen:Pull
// continues it, wsen:Release closes it. The adapter keeps a small record per
// context: how to render the items, the one batch of items it could not
// send yet, and when the context expires.

type enumMode int

const (
	modeObject    enumMode = iota // the default: instances
	modeEPR                       // wsman:EnumerationMode EnumerateEPR
	modeObjectEPR                 // wsman:EnumerationMode EnumerateObjectAndEPR
)

// coreKind says which core Pull* continues an enumeration.
type coreKind int

const (
	kindInstances coreKind = iota // PullInstancesWithPath
	kindPaths                     // PullInstancePaths
	kindQuery                     // PullInstances
)

// enumeration is one open enumeration context.
type enumeration struct {
	id        string
	principal wbem.Principal
	ns        string
	coreCtx   string
	kind      coreKind
	mode      enumMode
	render    renderOptions
	// ended is set once the core has returned every result.
	ended bool
	// carry holds encoded items produced by the core but not sent yet.
	carry [][]byte
	// ends are the end offsets of the items of the batch fill produced
	// last.
	ends []int
	// ready is a batch produced ahead of the next Pull (see prefetch),
	// readyEnds its item ends; the items come before those in carry.
	ready     *[]byte
	readyEnds []int
	// prefetching is closed when the running prefetch ends; nil when none
	// runs. prefetchErr is the error it met, for the next Pull.
	prefetching chan struct{}
	prefetchErr error
	prefetchKey prefetchKey
	// reserved is what the ready batch counts against maxPrefetchBytes.
	reserved int64
	// lastBatch is the size of the batch fill produced last, to size the
	// next one's buffer.
	lastBatch int
	lifetime  time.Duration
	expires   time.Time
	busy      bool
}

// batchSize guesses the octets of the next batch from the last one, so
// that its buffer is not regrown while it fills.
func (e *enumeration) batchSize(budget int) int {
	if e.lastBatch == 0 {
		return min(budget, 16<<10)
	}
	return min(budget, e.lastBatch+e.lastBatch/8+1024)
}

// enumTable holds the open contexts of a Handler.
type enumTable struct {
	mu  sync.Mutex
	m   map[string]*enumeration
	max int
}

func newEnumTable(max int) *enumTable {
	return &enumTable{m: map[string]*enumeration{}, max: max}
}

// add registers e, or reports that the quota of open contexts is used up.
func (t *enumTable) add(e *enumeration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= t.max {
		return false
	}
	e.busy = true
	t.m[e.id] = e
	return true
}

// acquire returns the context for a Pull or Release by its owner and
// marks it busy; unknown, expired, foreign and busy contexts are
// wsen:InvalidEnumerationContext (Receiver, DSP0226 clause 14.6).
func (t *enumTable) acquire(ctx context.Context, id string, p wbem.Principal, now time.Time) (*enumeration, *Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[id]
	for e != nil && e.prefetching != nil && e.principal.User == p.User {
		// The next batch is being produced: wait for it.
		ch := e.prefetching
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			t.mu.Lock()
			return nil, receiverFault(subTimedOut, "", "the next batch of %q was not ready within the operation timeout", id)
		}
		t.mu.Lock()
		e = t.m[id]
	}
	switch {
	case e == nil || e.principal.User != p.User:
		return nil, receiverFault(subInvalidEnumContext, "", "the enumeration context %q is not valid: unknown, released, expired or finished", id)
	case e.busy:
		return nil, receiverFault(subInvalidEnumContext, "", "the enumeration context %q is in use by another request", id)
	case now.After(e.expires):
		delete(t.m, id)
		return e, receiverFault(subInvalidEnumContext, "", "the enumeration context %q has expired", id)
	}
	e.busy = true
	return e, nil
}

// done ends a request on e: the context stays (with a new expiry) or goes.
func (t *enumTable) done(e *enumeration, keep bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.busy = false
	if keep {
		e.expires = now.Add(e.lifetime)
		return
	}
	delete(t.m, e.id)
}

// doneAndPrefetch ends a request on e and starts producing its next batch
// before any other request can take e.
func (t *enumTable) doneAndPrefetch(h *Handler, e *enumeration, key prefetchKey, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.busy = false
	e.expires = now.Add(e.lifetime)
	h.startPrefetch(e, key)
}

// expired removes and returns the contexts that have expired.
func (t *enumTable) expired(now time.Time) []*enumeration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*enumeration
	for id, e := range t.m {
		if !e.busy && e.prefetching == nil && now.After(e.expires) {
			delete(t.m, id)
			out = append(out, e)
		}
	}
	return out
}

// drain removes every context and returns them once no prefetch runs.
func (t *enumTable) drain() []*enumeration {
	t.mu.Lock()
	out := make([]*enumeration, 0, len(t.m))
	var running []chan struct{}
	for id, e := range t.m {
		delete(t.m, id)
		out = append(out, e)
		if e.prefetching != nil {
			running = append(running, e.prefetching)
		}
	}
	t.mu.Unlock()
	for _, ch := range running {
		<-ch
	}
	return out
}

// releaseCore closes the core's side of an enumeration that has not ended.
func (h *Handler) releaseCore(ctx context.Context, e *enumeration) {
	if e.ended || e.coreCtx == "" {
		return
	}
	cctx, cancel := context.WithTimeout(wbem.WithPrincipal(context.WithoutCancel(ctx), e.principal), 10*time.Second)
	defer cancel()
	if err := h.cfg.Ops.CloseEnumeration(cctx, e.ns, e.coreCtx); err != nil {
		h.cfg.Log.WithError(err).WithField("namespace", e.ns).Debug("closing an enumeration in the core")
	}
}

func (h *Handler) sweep(ctx context.Context) {
	for _, e := range h.enums.expired(time.Now()) {
		h.discard(ctx, e)
	}
}

// discard drops an enumeration that has left the table: its prefetched
// batch and its core context.
func (h *Handler) discard(ctx context.Context, e *enumeration) {
	if e.ready != nil {
		h.putBuf(e.ready)
		e.ready = nil
	}
	h.unreserve(e)
	h.releaseCore(ctx, e)
}

// enumerateRequest is a parsed wsen:Enumerate body.
type enumerateRequest struct {
	mode         enumMode
	optimize     bool
	maxElements  int
	polymorphism string
	expires      time.Duration
	hasExpires   bool
	dialect      string
	filter       *element
}

func parseEnumerate(body *element) (enumerateRequest, *Fault) {
	er := enumerateRequest{maxElements: 1}
	if body == nil || !body.Is(nsWSEN, "Enumerate") {
		return er, schemaFault("an Enumerate request must hold a wsen:Enumerate body")
	}
	for _, c := range body.Children {
		switch {
		case c.Is(nsWSEN, "Expires"):
			v := c.TrimmedText()
			if strings.Contains(v, "T") && !strings.HasPrefix(v, "P") {
				return er, senderFault(subUnsupportedExpiration, "", "wsen:Expires as a date and time is not supported; give an xs:duration")
			}
			d, err := parseDuration(v)
			if err != nil || d <= 0 {
				return er, senderFault(subInvalidExpiration, "", "wsen:Expires %q is not a positive xs:duration", v)
			}
			er.expires, er.hasExpires = d, true
		case c.Is(nsWSMAN, "Filter") || c.Is(nsWSEN, "Filter"):
			if er.filter != nil {
				return er, schemaFault("more than one filter")
			}
			er.filter = c
			d, _ := c.AttrNS("", "Dialect")
			er.dialect = strings.TrimSpace(d)
		case c.Is(nsWSMAN, "EnumerationMode"):
			switch c.TrimmedText() {
			case "EnumerateEPR":
				er.mode = modeEPR
			case "EnumerateObjectAndEPR":
				er.mode = modeObjectEPR
			default:
				return er, unsupportedFault(detailEnumerationMode, "the enumeration mode %q is not supported", c.TrimmedText())
			}
		case c.Is(nsWSMAN, "OptimizeEnumeration"):
			er.optimize = true
		case c.Is(nsWSMAN, "MaxElements"):
			n, err := strconv.ParseUint(c.TrimmedText(), 10, 31)
			if err != nil || n == 0 {
				return er, schemaFault("wsman:MaxElements %q is not a positive integer", c.TrimmedText())
			}
			er.maxElements = int(n)
		case c.Is(nsWSMB, "PolymorphismMode"):
			switch v := c.TrimmedText(); v {
			case "IncludeSubClassProperties", "ExcludeSubClassProperties", "None":
				er.polymorphism = v
			default:
				return er, senderFault(subPolymorphismMode, "", "the polymorphism mode %q is not supported", v)
			}
		case c.Is(nsWSEN, "EndTo"):
			return er, unsupportedFault(detailAddressingMode, "wsen:EndTo is not supported")
		default:
			if c.Space == nsWSEN {
				return er, schemaFault("unexpected element wsen:%s in Enumerate", c.Local)
			}
			// Unknown extensions in other namespaces are ignored, as
			// WS-Enumeration's extensibility points allow.
		}
	}
	return er, nil
}

// enumerate is wsen:Enumerate.
func (h *Handler) enumerate(ctx context.Context, req *request, res resource) (*reply, error) {
	h.sweep(ctx)
	er, f := parseEnumerate(req.body)
	if f != nil {
		return nil, f
	}
	if res.kind == resourceSchema {
		return nil, destinationFault(detailInvalidResourceURI, "a class schema cannot be enumerated")
	}
	sels, f := parseSelectorSet(req.selectorSet)
	if f != nil {
		return nil, f
	}
	selNS, _ := namespaceOf(sels)
	principal, _ := wbem.PrincipalFrom(ctx)
	e := &enumeration{
		id:        newMessageID(),
		principal: principal,
		ns:        h.namespace(res, selNS),
		mode:      er.mode,
		render:    h.renderOptions(req, res),
		lifetime:  h.cfg.EnumerationExpiry,
	}
	if er.hasExpires {
		if er.expires > h.cfg.EnumerationExpiry {
			return nil, senderFault(subInvalidExpiration, "", "wsen:Expires may be at most %s", h.cfg.EnumerationExpiry)
		}
		e.lifetime = er.expires
	}
	if !h.enums.add(e) {
		return nil, senderFault(subQuotaLimit, "", "too many open enumerations: release or finish some")
	}
	keep, abandoned := false, false
	defer func() {
		if !keep {
			h.enums.done(e, false, time.Now())
			if !abandoned {
				h.releaseCore(ctx, e)
			}
		}
	}()
	if err := h.open(ctx, e, er, res); err != nil {
		return nil, err
	}
	n := 0
	key := prefetchKey{er.maxElements, h.itemBudget(req, 0)}
	items := h.getBuf(e.batchSize(key.budget))
	out := &reply{action: actionEnumerate + "Response", recycle: []*[]byte{items}}
	if er.optimize {
		var err error
		if n, abandoned, err = h.fillWithin(ctx, e, items, key, false); err != nil {
			if !abandoned {
				h.putBuf(items)
			}
			return nil, err
		}
	}
	if req.requestEstimate {
		out.header = h.estimate(ctx, e, n)
	}
	finished := er.optimize && e.ended && len(e.carry) == 0
	head := []byte("<wsen:EnumerateResponse>")
	if er.hasExpires {
		head = appendElem(head, "wsen:Expires", formatDuration(e.lifetime))
	}
	if finished {
		// DSP0226 R8.2.3-5: an empty context and EndOfSequence; wsl and
		// wsmancli stop on the empty context.
		head = append(head, "<wsen:EnumerationContext/>"...)
	} else {
		head = appendElem(head, "wsen:EnumerationContext", e.id)
	}
	var tail []byte
	if er.optimize {
		if n > 0 {
			head = append(head, "<wsman:Items>"...)
			tail = append(tail, "</wsman:Items>"...)
		}
		if finished {
			tail = append(tail, "<wsman:EndOfSequence/>"...)
		}
	}
	tail = append(tail, "</wsen:EnumerateResponse>"...)
	out.body = [][]byte{head, *items, tail}
	if !finished {
		keep = true
		if er.optimize {
			h.enums.doneAndPrefetch(h, e, key, time.Now())
		} else {
			h.enums.done(e, true, time.Now())
		}
	}
	return out, nil
}

// open starts the core enumeration for the resource and filter.
func (h *Handler) open(ctx context.Context, e *enumeration, er enumerateRequest, res resource) error {
	lifetime := e.lifetime
	p := wbem.OpenOptions{OperationTimeout: &lifetime}
	discard := func(*cim.Instance) error { return nil }
	var st wbem.PullState
	var err error
	switch er.dialect {
	case "":
		if er.filter != nil {
			return senderFault(subFilterDialectUnavail, "", "the filter has no Dialect, and XPath is not supported; use WQL, CQL, SelectorFilter or associationFilter")
		}
		if res.kind != resourceClass && res.kind != resourceIntrinsic {
			return unsupportedFault(detailFilteringRequired, "enumerating %q needs a filter (WQL, CQL or associationFilter)", res.uri)
		}
		st, err = h.openClass(ctx, e, er, res.class, p)
	case dialectWQL, dialectWQLMicrosft, dialectCQL, dialectCQLShort:
		lang := "WQL"
		if er.dialect == dialectCQL || er.dialect == dialectCQLShort {
			lang = "DMTF:CQL"
		}
		query := er.filter.TrimmedText()
		if query == "" {
			return senderFault(subCannotProcessFilter, "", "the %s filter is empty", lang)
		}
		e.kind = kindQuery
		_, st, err = h.cfg.Ops.OpenQueryInstances(ctx, e.ns, lang, query, false, p, discard)
	case dialectSelector:
		if res.kind != resourceClass && res.kind != resourceIntrinsic {
			return senderFault(subCannotProcessFilter, "", "a SelectorFilter needs a class resource URI, not %q", res.uri)
		}
		sels, f := parseSelectorSet(er.filter.ChildNS(nsWSMAN, "SelectorSet"))
		if f != nil {
			return senderFault(subCannotProcessFilter, "", "the SelectorFilter is not valid: %s", f.Reason)
		}
		_, keys := namespaceOf(sels)
		if len(keys) == 0 {
			return senderFault(subCannotProcessFilter, "", "the SelectorFilter holds no wsman:SelectorSet with key selectors")
		}
		if p.Keys, f = keyBindings(keys, 0); f != nil {
			return senderFault(subCannotProcessFilter, "", "the SelectorFilter is not valid: %s", f.Reason)
		}
		st, err = h.openClass(ctx, e, er, res.class, p)
		if cim.StatusOf(err) == cim.ErrInvalidParameter {
			ce := cim.AsError(err)
			f := senderFault(subCannotProcessFilter, "", "the SelectorFilter does not fit the class: %s", ce.Description)
			f.CIM = ce
			return f
		}
	case dialectAssociation:
		st, err = h.openAssociation(ctx, e, er, p)
	default:
		return senderFault(subFilterDialectUnavail, "", "the filter dialect %q is not supported; use WQL, CQL, SelectorFilter or associationFilter", er.dialect)
	}
	if err != nil {
		return err
	}
	e.coreCtx, e.ended = st.Context, st.EndOfSequence || st.Context == ""
	return nil
}

// openClass enumerates the instances (or paths) of a class.
func (h *Handler) openClass(ctx context.Context, e *enumeration, er enumerateRequest, class string, p wbem.OpenOptions) (wbem.PullState, error) {
	o := wbem.InstanceOptions{DeepInheritance: true}
	switch er.polymorphism {
	case "ExcludeSubClassProperties":
		o.DeepInheritance = false
		e.render.asClass = class
	case "None":
		p.ExactClass = true
	}
	if e.mode == modeEPR {
		e.kind = kindPaths
		return h.cfg.Ops.OpenEnumerateInstancePaths(ctx, e.ns, class, p, func(*cim.ObjectPath) error { return nil })
	}
	e.kind = kindInstances
	return h.cfg.Ops.OpenEnumerateInstances(ctx, e.ns, class, o, p, func(*cim.Instance) error { return nil })
}

// openAssociation runs a DSP0227 association filter: AssociatedInstances
// (associators) or AssociationInstances (references) of one object.
func (h *Handler) openAssociation(ctx context.Context, e *enumeration, er enumerateRequest, p wbem.OpenOptions) (wbem.PullState, error) {
	var (
		object     *cim.ObjectPath
		f          wbem.AssocFilter
		references bool
		props      []string
	)
	spec := er.filter.ChildNS(nsWSMB, "AssociatedInstances")
	if spec == nil {
		if spec = er.filter.ChildNS(nsWSMB, "AssociationInstances"); spec != nil {
			references = true
		}
	}
	if spec == nil {
		// openwsman's older text form: <resource URI>?key=value&...
		var fault *Fault
		if object, f, fault = parseAssociationText(er.filter.TrimmedText()); fault != nil {
			return wbem.PullState{}, fault
		}
	} else {
		obj := spec.ChildNS(nsWSMB, "Object")
		if obj == nil {
			return wbem.PullState{}, senderFault(subCannotProcessFilter, "", "the association filter has no wsmb:Object")
		}
		if epr := obj.ChildNS(nsWSA, "EndpointReference"); epr != nil {
			obj = epr
		}
		var fault *Fault
		if object, fault = parseEPR(obj, 0); fault != nil {
			return wbem.PullState{}, senderFault(subCannotProcessFilter, "", "the association filter's object is not valid: %s", fault.Reason)
		}
		for _, c := range spec.Children {
			switch {
			case c.Is(nsWSMB, "AssociationClassName") && !references:
				f.AssocClass = c.TrimmedText()
			case c.Is(nsWSMB, "ResultClassName"):
				f.ResultClass = c.TrimmedText()
			case c.Is(nsWSMB, "Role"):
				f.Role = c.TrimmedText()
			case c.Is(nsWSMB, "ResultRole") && !references:
				f.ResultRole = c.TrimmedText()
			case c.Is(nsWSMB, "IncludeResultProperty"):
				props = append(props, c.TrimmedText())
			case c.Is(nsWSMB, "Object"):
			default:
				return wbem.PullState{}, senderFault(subCannotProcessFilter, "", "unexpected element %s in the association filter", c.Local)
			}
		}
	}
	if object.Namespace != "" {
		e.ns = object.Namespace
	}
	object = object.WithNamespace("", "")
	o := wbem.InstanceOptions{PropertyList: props}
	ops := h.cfg.Ops
	if e.mode == modeEPR {
		e.kind = kindPaths
		none := func(*cim.ObjectPath) error { return nil }
		if references {
			return ops.OpenReferenceInstancePaths(ctx, e.ns, object, f, p, none)
		}
		return ops.OpenAssociatorInstancePaths(ctx, e.ns, object, f, p, none)
	}
	e.kind = kindInstances
	none := func(*cim.Instance) error { return nil }
	if references {
		return ops.OpenReferenceInstances(ctx, e.ns, object, f, o, p, none)
	}
	return ops.OpenAssociatorInstances(ctx, e.ns, object, f, o, p, none)
}

// parseAssociationText reads openwsman's text association filter,
// <class resource URI>?Key=Value&...&AssociationClassName=...; its CLI
// also separates with commas.
func parseAssociationText(s string) (*cim.ObjectPath, wbem.AssocFilter, *Fault) {
	var f wbem.AssocFilter
	uri, query, _ := strings.Cut(s, "?")
	res, fault := parseResourceURI(uri)
	if fault != nil || res.kind != resourceClass {
		return nil, f, senderFault(subCannotProcessFilter, "", "the association filter %q does not start with a class resource URI", s)
	}
	ns := res.namespace
	var keys []cim.KeyBinding
	sep := "&"
	if !strings.Contains(query, "&") {
		sep = ","
	}
	for _, kv := range strings.Split(query, sep) {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, f, senderFault(subCannotProcessFilter, "", "the association filter's %q is not key=value", kv)
		}
		switch {
		case strings.EqualFold(k, "AssociationClassName"):
			f.AssocClass = v
		case strings.EqualFold(k, "ResultClassName"):
			f.ResultClass = v
		case strings.EqualFold(k, "Role"):
			f.Role = v
		case strings.EqualFold(k, "ResultRole"):
			f.ResultRole = v
		case strings.EqualFold(k, cimNamespaceSelector):
			ns = v
		default:
			keys = append(keys, cim.KeyBinding{Name: k, Value: cim.NewString(v)})
		}
	}
	return cim.NewInstancePath(ns, res.class, keys...), f, nil
}

// estimate returns the wsman:TotalItemsCountEstimate header (DSP0226
// clause 8.2.2): the n items of this response and those still to come (on
// an EnumerateResponse, every item), nil when unknown: the core counts an
// enumeration only once its producer has ended.
func (h *Handler) estimate(ctx context.Context, e *enumeration, n int) []byte {
	pending := uint64(n + len(e.carry) + len(e.readyEnds))
	if !e.ended {
		n, ok, err := h.cfg.Ops.EnumerationCount(ctx, e.ns, e.coreCtx)
		if err != nil || !ok {
			return []byte(`<wsman:TotalItemsCountEstimate xsi:nil="true"/>`)
		}
		pending += n
	}
	return appendElem(nil, "wsman:TotalItemsCountEstimate", strconv.FormatUint(pending, 10))
}

// itemBudget is how many octets of items fit in the response, after the
// envelope's own overhead, within MaxEnvelopeSize and MaxCharacters.
func (h *Handler) itemBudget(req *request, maxChars int) int {
	budget := h.envelopeLimit(req) - 2048
	if maxChars > 0 && maxChars < budget {
		budget = maxChars
	}
	if budget < 1024 {
		budget = 1024
	}
	return budget
}

// fill appends up to max encoded items to dst within budget octets and
// returns how many it appended. It learns whether the sequence ends with
// this batch, holding one item over when it must look ahead: DSP0226
// R8.4-8 wants the context left out of the last PullResponse, and the
// context comes before the items. Once ctx has ended, the items so far
// are the batch, without look-ahead (the next batch tells the end).
func (h *Handler) fill(ctx context.Context, e *enumeration, dst []byte, max, budget int) ([]byte, int, error) {
	n := 0
	full := false
	e.ends = e.ends[:0]
	h.takeReady(e)
	for len(e.carry) > 0 && n < max {
		item := e.carry[0]
		if len(dst)+len(item) > budget {
			if n == 0 {
				return dst, 0, senderFault(subEncodingLimit, detailMaxEnvelopeSize, "one item of %d octets does not fit in the envelope limit", len(item))
			}
			full = true
			break
		}
		dst = append(dst, item...)
		e.carry[0] = nil
		e.carry = e.carry[1:]
		n++
		e.ends = append(e.ends, len(dst))
	}
	for !full && n < max && !e.ended {
		if n > 0 && ctx.Err() != nil {
			// wsen:MaxTime or wsman:OperationTimeout has passed: the
			// items so far are the batch.
			break
		}
		chunk := max - n
		if n > 0 {
			avg := len(dst) / n
			if room := (budget - len(dst)) / (avg + 1); room < chunk {
				chunk = room
			}
		} else if chunk > 256 {
			chunk = 256
		}
		if chunk < 1 {
			chunk = 1
		}
		raw, err := h.pullCore(ctx, e, chunk, &dst, func(mark int) {
			// The item was encoded at dst[mark:]; one that does not fit, or
			// comes after one that did not, is held over.
			if n < max && len(dst) <= budget && len(e.carry) == 0 {
				n++
				e.ends = append(e.ends, len(dst))
				return
			}
			e.carry = append(e.carry, append([]byte(nil), dst[mark:]...))
			dst = dst[:mark]
		})
		if err != nil {
			if ctx.Err() != nil && n > 0 {
				// The operation timeout ends the batch early (MaxTime).
				return dst, n, nil
			}
			return dst, n, err
		}
		if len(e.carry) > 0 {
			full = true
		}
		if raw == 0 && !e.ended {
			// The core returned nothing yet did not end: do not spin.
			break
		}
	}
	// Look ahead by one item when the batch is full, to know whether it
	// is the last one.
	for len(e.carry) == 0 && !e.ended && n > 0 && ctx.Err() == nil {
		mark := len(dst)
		raw, err := h.pullCore(ctx, e, 1, &dst, func(int) {
			e.carry = append(e.carry, append([]byte(nil), dst[mark:]...))
			dst = dst[:mark]
		})
		if err != nil {
			if ctx.Err() != nil {
				return dst, n, nil
			}
			return dst, n, err
		}
		if raw == 0 && !e.ended {
			break
		}
	}
	e.lastBatch = len(dst)
	return dst, n, nil
}

// fillWithin is fill bounded by ctx's deadline (wsman:OperationTimeout,
// wsen:MaxTime), which the core does not watch while a provider is slow
// to produce its next result: with a deadline, the batch is produced in
// the background. When ctx ends first, fillWithin returns wsman:TimedOut
// with abandoned set, and items passes to the background fill: with
// keep, its batch becomes the prefetched one the next Pull of e waits
// for (the context stays valid, DSP0226 clause 8.4); without, e is discarded
// once the fill ends.
func (h *Handler) fillWithin(ctx context.Context, e *enumeration, items *[]byte, key prefetchKey, keep bool) (n int, abandoned bool, err error) {
	if _, ok := ctx.Deadline(); !ok {
		*items, n, err = h.fill(ctx, e, *items, key.max, key.budget)
		return n, false, err
	}
	type result struct {
		n   int
		err error
	}
	finished := make(chan result, 1)
	done := make(chan struct{})
	go func() {
		buf, n, err := h.fill(ctx, e, *items, key.max, key.budget)
		*items = buf
		h.enums.mu.Lock()
		if e.prefetching != done {
			// The request still waits: the send is under the lock so that
			// it cannot give up in between.
			finished <- result{n, err}
			h.enums.mu.Unlock()
			return
		}
		e.prefetching = nil
		if keep {
			if err != nil && n == 0 && ctx.Err() != nil {
				// The deadline of the request that gave up, not a failure
				// of the enumeration.
				err = nil
			}
			if n > 0 || e.ended {
				e.ready, e.readyEnds, e.prefetchKey = items, append([]int(nil), e.ends...), key
			} else {
				h.putBuf(items)
			}
			e.prefetchErr = err
		}
		h.enums.mu.Unlock()
		close(done)
		if !keep {
			h.putBuf(items)
			h.discard(ctx, e)
		}
	}()
	select {
	case r := <-finished:
		return r.n, false, r.err
	case <-ctx.Done():
	}
	h.enums.mu.Lock()
	defer h.enums.mu.Unlock()
	select {
	case r := <-finished:
		return r.n, false, r.err
	default:
	}
	e.prefetching = done
	return 0, true, receiverFault(subTimedOut, "", "no items were produced within the operation timeout")
}

// takeReady turns a prefetched batch back into held-over items, in front
// of the others (used when the next request wants a different batch).
func (h *Handler) takeReady(e *enumeration) {
	if e.ready == nil {
		return
	}
	items := make([][]byte, 0, len(e.readyEnds)+len(e.carry))
	start := 0
	for _, end := range e.readyEnds {
		items = append(items, append([]byte(nil), (*e.ready)[start:end]...))
		start = end
	}
	e.carry = append(items, e.carry...)
	h.putBuf(e.ready)
	e.ready, e.readyEnds = nil, nil
	h.unreserve(e)
}

// prefetchKey is what a prefetched batch was produced for.
type prefetchKey struct{ max, budget int }

// startPrefetch produces the next batch of e in the background, so that
// the encoding of batch n+1 overlaps the client's reading of batch n (a
// Pull's context precedes its items, so a batch cannot stream out while
// it is produced). The next Pull waits for it; if it asks for the same
// batch size it is sent as it is.
//
// Prefetched batches wait in memory for their Pull: together they may hold
// at most maxPrefetchBytes (counting each at its largest possible size),
// beyond which the next batch is produced when its Pull comes.
func (h *Handler) startPrefetch(e *enumeration, key prefetchKey) {
	size := int64(key.budget)
	if h.prefetchBytes.Add(size) > maxPrefetchBytes {
		h.prefetchBytes.Add(-size)
		return
	}
	e.reserved = size
	done := make(chan struct{})
	e.prefetching = done
	e.prefetchKey = key
	go func() {
		ctx, cancel := context.WithTimeout(wbem.WithPrincipal(context.Background(), e.principal), e.lifetime)
		defer cancel()
		buf := h.getBuf(e.batchSize(key.budget))
		var err error
		*buf, _, err = h.fill(ctx, e, *buf, key.max, key.budget)
		h.enums.mu.Lock()
		e.ready, e.readyEnds, e.prefetchErr = buf, append([]int(nil), e.ends...), err
		e.prefetching = nil
		h.enums.mu.Unlock()
		close(done)
	}()
}

// useReady hands over a prefetched batch produced for exactly this
// request, if there is one.
func (h *Handler) useReady(e *enumeration, key prefetchKey) (*[]byte, int, bool) {
	if e.ready == nil || e.prefetchKey != key {
		return nil, 0, false
	}
	b, n := e.ready, len(e.readyEnds)
	e.ready, e.readyEnds = nil, nil
	h.unreserve(e)
	return b, n, true
}

// maxPrefetchBytes bounds the memory of the batches prefetched for all
// enumerations together.
const maxPrefetchBytes = 256 << 20

// unreserve returns e's share of maxPrefetchBytes once its batch has gone.
func (h *Handler) unreserve(e *enumeration) {
	if e.reserved != 0 {
		h.prefetchBytes.Add(-e.reserved)
		e.reserved = 0
	}
}

// pullCore pulls up to count results from the core and encodes each at
// the end of *dst, calling placed with where it starts; placed may move
// the item elsewhere. It returns how many results the core produced.
func (h *Handler) pullCore(ctx context.Context, e *enumeration, count int, dst *[]byte, placed func(mark int)) (int, error) {
	ops := h.cfg.Ops
	var st wbem.PullState
	var err error
	raw := 0
	switch e.kind {
	case kindPaths:
		st, err = ops.PullInstancePaths(ctx, e.ns, e.coreCtx, uint32(count), func(p *cim.ObjectPath) error {
			raw++
			mark := len(*dst)
			*dst = appendEPR(*dst, p, e.render.uris)
			placed(mark)
			return nil
		})
	case kindInstances, kindQuery:
		pull := ops.PullInstancesWithPath
		if e.kind == kindQuery {
			pull = ops.PullInstances
		}
		w := newItemEncoder(e, count, &h.itemBatches)
		st, err = pull(ctx, e.ns, e.coreCtx, uint32(count), func(inst *cim.Instance) error {
			raw++
			if w != nil {
				if ferr := e.encodable(inst); ferr != nil {
					return ferr
				}
				w.add(inst)
				return nil
			}
			mark := len(*dst)
			b, ferr := e.encode(*dst, inst)
			if ferr != nil {
				return ferr
			}
			*dst = b
			placed(mark)
			return nil
		})
		if w != nil {
			// The items produced before an error are placed as well, as
			// without the workers.
			if perr := w.place(dst, placed); err == nil {
				err = perr
			}
		}
	}
	if err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return raw, f
		}
		return raw, err
	}
	if st.Context != "" {
		e.coreCtx = st.Context
	}
	if st.EndOfSequence || st.Context == "" {
		e.ended = true
	}
	return raw, nil
}

// encode renders one instance as an item of the enumeration's mode.
func (e *enumeration) encode(dst []byte, inst *cim.Instance) ([]byte, error) {
	if err := e.encodable(inst); err != nil {
		return dst, err
	}
	switch e.mode {
	case modeEPR:
		return appendEPR(dst, inst.Path, e.render.uris), nil
	case modeObjectEPR:
		class := inst.ClassName
		if e.render.asClass != "" {
			class = e.render.asClass
		}
		// The class namespace is declared on wsman:Item so that the
		// instance's start tag carries no attributes: wsl's Put finds the
		// instance by the text ":<Class>>" in the response.
		dst = append(dst, `<wsman:Item xmlns:p="`...)
		dst = e.render.uris.appendClassURI(dst, class)
		dst = append(dst, `">`...)
		dst = appendInstance(dst, inst, "p", true, &e.render)
		dst = appendEPR(dst, inst.Path, e.render.uris)
		return append(dst, "</wsman:Item>"...), nil
	}
	return appendInstance(dst, inst, "p", false, &e.render), nil
}

// encodable reports why inst cannot be an item of the enumeration's mode:
// the modes with EPRs need whole instances, with paths.
func (e *enumeration) encodable(inst *cim.Instance) error {
	if inst.Path != nil {
		return nil
	}
	switch e.mode {
	case modeEPR:
		return senderFault(subCannotProcessFilter, "", "the query's results are not whole instances and have no EPR: select * for EnumerateEPR")
	case modeObjectEPR:
		return senderFault(subCannotProcessFilter, "", "the query's results are not whole instances and have no EPR: select * for EnumerateObjectAndEPR")
	}
	return nil
}

// pullRequest is a parsed wsen:Pull or wsen:Release body.
func enumerationContextOf(body *element, op string) (string, *Fault) {
	if body == nil || !body.Is(nsWSEN, op) {
		return "", schemaFault("a %s request must hold a wsen:%s body", op, op)
	}
	c := body.ChildNS(nsWSEN, "EnumerationContext")
	if c == nil || c.TrimmedText() == "" {
		return "", schemaFault("wsen:%s needs a wsen:EnumerationContext", op)
	}
	return c.TrimmedText(), nil
}

// pullOptions are the limits of a wsen:Pull.
type pullOptions struct {
	max, maxChars int
	maxTime       time.Duration
}

// parsePull reads the options of a wsen:Pull body.
func parsePull(body *element) (pullOptions, *Fault) {
	o := pullOptions{max: 1}
	for _, c := range body.Children {
		switch {
		case c.Is(nsWSEN, "MaxElements"):
			n, err := strconv.ParseUint(c.TrimmedText(), 10, 31)
			if err != nil || n == 0 {
				return o, schemaFault("wsen:MaxElements %q is not a positive integer", c.TrimmedText())
			}
			o.max = int(n)
		case c.Is(nsWSEN, "MaxCharacters"):
			n, err := strconv.ParseUint(c.TrimmedText(), 10, 31)
			if err != nil || n == 0 {
				return o, schemaFault("wsen:MaxCharacters %q is not a positive integer", c.TrimmedText())
			}
			o.maxChars = int(n)
		case c.Is(nsWSEN, "MaxTime"):
			d, err := parseDuration(c.TrimmedText())
			if err != nil || d <= 0 {
				return o, schemaFault("wsen:MaxTime %q is not a positive xs:duration", c.TrimmedText())
			}
			o.maxTime = d
		case c.Is(nsWSEN, "EnumerationContext"):
		default:
			if c.Space == nsWSEN {
				return o, schemaFault("unexpected element wsen:%s in Pull", c.Local)
			}
		}
	}
	return o, nil
}

// pull is wsen:Pull: of an enumeration, or of the events of a Pull-mode
// subscription.
func (h *Handler) pull(ctx context.Context, req *request) (*reply, error) {
	id, f := enumerationContextOf(req.body, "Pull")
	if f != nil {
		return nil, f
	}
	o, f := parsePull(req.body)
	if f != nil {
		return nil, f
	}
	if s := h.events.pullSub(ctx, id); s != nil {
		return h.events.pull(ctx, req, s, o)
	}
	if o.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.maxTime)
		defer cancel()
	}
	max, maxChars := o.max, o.maxChars
	principal, _ := wbem.PrincipalFrom(ctx)
	e, f := h.enums.acquire(ctx, id, principal, time.Now())
	if f != nil {
		if e != nil {
			h.discard(ctx, e)
		}
		return nil, f
	}
	if err := e.prefetchErr; err != nil {
		h.enums.done(e, false, time.Now())
		h.discard(ctx, e)
		return nil, err
	}
	key := prefetchKey{max, h.itemBudget(req, maxChars)}
	items, n, ok := h.useReady(e, key)
	var err error
	if !ok {
		items = h.getBuf(e.batchSize(key.budget))
		var abandoned bool
		if n, abandoned, err = h.fillWithin(ctx, e, items, key, true); abandoned {
			// The batch goes on in the background; the context stays.
			h.enums.done(e, true, time.Now())
			return nil, err
		}
	}
	if err != nil {
		h.putBuf(items)
		if n == 0 && ctx.Err() == context.DeadlineExceeded {
			// DSP0226 R8.4-?: no items within the time; the context stays.
			h.enums.done(e, true, time.Now())
			return nil, receiverFault(subTimedOut, "", "no items were produced within the operation timeout")
		}
		h.enums.done(e, false, time.Now())
		h.discard(ctx, e)
		return nil, err
	}
	finished := e.ended && len(e.carry) == 0
	var estimate []byte
	if req.requestEstimate {
		estimate = h.estimate(ctx, e, n)
	}
	if finished {
		h.enums.done(e, false, time.Now())
	} else {
		h.enums.doneAndPrefetch(h, e, key, time.Now())
	}
	head := []byte("<wsen:PullResponse>")
	if !finished {
		// DSP0226 R8.4-8: no context in the last PullResponse.
		head = appendElem(head, "wsen:EnumerationContext", e.id)
	}
	var tail []byte
	if n > 0 {
		head = append(head, "<wsen:Items>"...)
		tail = append(tail, "</wsen:Items>"...)
	}
	if finished {
		tail = append(tail, "<wsen:EndOfSequence/>"...)
	}
	tail = append(tail, "</wsen:PullResponse>"...)
	return &reply{action: actionPull + "Response", header: estimate, body: [][]byte{head, *items, tail}, recycle: []*[]byte{items}}, nil
}

// release is wsen:Release.
func (h *Handler) release(ctx context.Context, req *request) (*reply, error) {
	id, f := enumerationContextOf(req.body, "Release")
	if f != nil {
		return nil, f
	}
	principal, _ := wbem.PrincipalFrom(ctx)
	if s := h.events.pullSub(ctx, id); s != nil {
		// Releasing the context of a Pull-mode subscription ends it, as
		// Unsubscribe does.
		h.events.end(s)
		return &reply{action: actionRelease + "Response"}, nil
	}
	e, f := h.enums.acquire(ctx, id, principal, time.Now())
	if e != nil {
		h.enums.done(e, false, time.Now())
		h.discard(ctx, e)
	}
	if f != nil {
		return nil, f
	}
	return &reply{action: actionRelease + "Response"}, nil
}

// formatDuration writes d as an xs:duration.
func formatDuration(d time.Duration) string {
	return "PT" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S"
}
