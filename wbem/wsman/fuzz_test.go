package wsman

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
)

// captureBodies returns the SOAP bodies of the captured client requests
// (HTTP headers stripped), by their path under the captures directory.
func captureBodies(t testing.TB) map[string][]byte {
	t.Helper()
	dir := capturesDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil || len(files) < 100 {
		t.Fatalf("%d captures in %s: %v", len(files), dir, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".txt") {
			if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
				data = data[i+4:]
			} else if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
				data = data[i+2:]
			}
		}
		rel, _ := filepath.Rel(dir, f)
		out[rel] = data
	}
	return out
}

// FuzzDecodeEnvelope feeds arbitrary bytes to the envelope decoder and the
// parsers behind it: they must never panic, and whatever they accept must
// have a consistent shape.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, body := range captureBodies(f) {
		f.Add(body)
	}
	f.Add([]byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><x mustUnderstand="1"/></s:Header><s:Body/></s:Envelope>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, fault := decodeEnvelope(data, Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxElements: 5000})
		if req == nil {
			t.Fatal("nil request")
		}
		if fault != nil {
			if fault.Reason == "" || fault.status() < 400 {
				t.Fatalf("fault without reason or status: %+v", fault)
			}
			return
		}
		if req.hasResourceURI {
			if res, f := parseResourceURI(req.resourceURI); f == nil && res.kind == resourceClass && res.class == "" {
				t.Fatal("class resource without a class")
			}
		}
		sels, f := parseSelectorSet(req.selectorSet)
		if f == nil {
			_, keys := namespaceOf(sels)
			_, _ = keyBindings(keys, 0)
		}
		if req.body != nil {
			_, _ = parseEnumerate(req.body)
			for _, g := range groupChildren(req.body) {
				for _, arr := range []bool{false, true} {
					for _, typ := range []cim.Type{cim.TypeString, cim.TypeUint16, cim.TypeDatetime, cim.TypeReference} {
						_, _ = decodeValue(g.elems, typ, arr)
					}
				}
			}
		}
	})
}

func TestCapturesDecode(t *testing.T) {
	for name, body := range captureBodies(t) {
		req, fault := decodeEnvelope(body, Limits{})
		if strings.Contains(name, "NOACTION") {
			if fault == nil {
				t.Errorf("%s: an empty body was accepted", name)
			}
			continue
		}
		if fault != nil {
			t.Errorf("%s: %v", name, fault)
			continue
		}
		if req.body == nil && req.action != actionGet && req.action != actionDelete {
			t.Errorf("%s: no body element", name)
		}
	}
}

// FuzzParseSubscribe feeds arbitrary envelopes to the WS-Eventing
// decoders: they must never panic, what they accept must be consistent,
// and the reference parameters they keep must be XML that reads back as
// the same elements.
func FuzzParseSubscribe(f *testing.F) {
	for name, body := range captureBodies(f) {
		if strings.Contains(name, "Subscribe") || strings.Contains(name, "Renew") {
			f.Add(body)
		}
	}
	f.Add([]byte(subscribeEnvelope(AllClassesURI, `<wst:IssuedTokens xmlns:wst="`+nsTrust+`" xmlns:wsse="`+nsWSSE+`"><wst:RequestSecurityTokenResponse><wst:TokenType>`+tokenUsername+
		`</wst:TokenType><wst:RequestedSecurityToken><wsse:UsernameToken><wsse:Username>u</wsse:Username><wsse:Password>p</wsse:Password></wsse:UsernameToken></wst:RequestedSecurityToken></wst:RequestSecurityTokenResponse></wst:IssuedTokens>`,
		`<wse:Delivery Mode="`+deliveryEvents+`"><wse:NotifyTo><wsa:Address>https://h:1/x</wsa:Address><wsa:ReferenceProperties><q:K xmlns:q="urn:q" q:a="1">v<q:L/></q:K></wsa:ReferenceProperties></wse:NotifyTo>`+
			`<wsman:Heartbeats>PT30S</wsman:Heartbeats><wsman:Auth Profile="`+secProfileHTTPSBasic+`"/><wsman:MaxEnvelopeSize Policy="Skip">153600</wsman:MaxEnvelopeSize></wse:Delivery>`,
		`<wse:EndTo><wsa:Address>http://h/end</wsa:Address></wse:EndTo><wse:Expires>2030-01-01T00:00:00Z</wse:Expires>`+wql("select * from CIM_InstCreation")+`<wsman:SendBookmarks/>`)))
	f.Add([]byte(subscribeEnvelope(AllClassesURI, "", `<wse:Delivery Mode="`+deliveryPull+`"/>`, `<wse:Expires>-P1D</wse:Expires>`)))
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, fault := decodeEnvelope(data, Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxElements: 5000})
		if fault != nil || req.body == nil {
			return
		}
		if e := req.body.ChildNS(nsWSE, "Expires"); e != nil {
			if x, f := parseExpires(e.Text, now); f == nil && (!x.set || !x.at.After(now)) {
				t.Fatalf("expiry %+v accepted", x)
			}
		}
		sr, f := parseSubscribe(req.body, req.issuedTokens, now)
		if f != nil {
			if f.Reason == "" || f.status() < 400 {
				t.Fatalf("fault without reason or status: %+v", f)
			}
			return
		}
		switch sr.mode {
		case deliveryPush, deliveryPushWithAck, deliveryEvents:
			if sr.notifyTo == nil {
				t.Fatal("push without NotifyTo")
			}
		case deliveryPull:
			if sr.notifyTo != nil {
				t.Fatal("pull with NotifyTo")
			}
		default:
			t.Fatalf("mode %q", sr.mode)
		}
		for _, ep := range []*endpoint{sr.notifyTo, sr.endTo} {
			if ep == nil {
				continue
			}
			if _, err := parseXML([]byte("<w>"+ep.Params+"</w>"), Limits{}); err != nil {
				t.Fatalf("reference parameters %q do not parse: %v", ep.Params, err)
			}
		}
		if sr.profile != "" && (sr.notifyTo == nil || sr.notifyTo.User == "") {
			t.Fatal("a profile without credentials")
		}
		checkRewrite(t, req.body)
	})
}

// checkRewrite writes e with appendElementXML and checks that it reads
// back as the same element: names, attributes, text and children.
func checkRewrite(t *testing.T, e *element) {
	t.Helper()
	out := appendElementXML(nil, e)
	back, err := parseXML(out, Limits{MaxBytes: 1 << 22, MaxDepth: 128, MaxElements: 1 << 20})
	if err != nil {
		t.Fatalf("rewritten element does not parse: %v\n%s", err, out)
	}
	var same func(a, b *element) bool
	same = func(a, b *element) bool {
		if a.Space != b.Space || a.Local != b.Local || a.Text != b.Text || len(a.Children) != len(b.Children) || len(a.Attrs) != len(b.Attrs) {
			return false
		}
		for _, x := range a.Attrs {
			if v, ok := b.AttrNS(x.Name.Space, x.Name.Local); !ok || v != x.Value {
				return false
			}
		}
		for i := range a.Children {
			if !same(a.Children[i], b.Children[i]) {
				return false
			}
		}
		return true
	}
	if !same(e, back) {
		t.Fatalf("rewritten element differs:\n%s", out)
	}
}
