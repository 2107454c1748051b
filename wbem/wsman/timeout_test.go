package wsman

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/schemas"
)

// slowMOF declares the class slowProvider serves.
const slowMOF = `
class T_Slow {
    [Key] string Id;
    uint32 Wait();
};
`

const uriSlow = DMTFClassPrefix + "T_Slow"

// slowProvider serves T_Slow as a provider waiting on a slow backend:
// its enumeration yields fast instances at once and the others only once
// released; GetInstance and the method Wait answer only once released.
// While it waits it honours its context, as providers must.
type slowProvider struct {
	fast, count int
	release     chan struct{}
	once        sync.Once
}

func newSlowProvider(fast, count int) *slowProvider {
	return &slowProvider{fast: fast, count: count, release: make(chan struct{})}
}

// free lets every waiting and later call through.
func (p *slowProvider) free() { p.once.Do(func() { close(p.release) }) }

func (p *slowProvider) wait(ctx context.Context) error {
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *slowProvider) instance(class *cim.Class, i int) *cim.Instance {
	inst := class.NewInstance()
	inst.Set("Id", cim.NewString(fmt.Sprintf("slow%d", i)))
	return inst
}

func (p *slowProvider) EnumerateInstances(ctx context.Context, ns string, class *cim.Class, yield func(*cim.Instance) error) error {
	for i := 0; i < p.count; i++ {
		if i >= p.fast {
			if err := p.wait(ctx); err != nil {
				return err
			}
		}
		if err := yield(p.instance(class, i)); err != nil {
			return err
		}
	}
	return nil
}

func (p *slowProvider) GetInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) (*cim.Instance, error) {
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	return p.instance(class, 0), nil
}

func (p *slowProvider) InvokeMethod(ctx context.Context, ns string, class *cim.Class, object *cim.ObjectPath, method *cim.Method, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error) {
	if err := p.wait(ctx); err != nil {
		return cim.Value{}, nil, err
	}
	return cim.NewUint32(0), nil, nil
}

// newSlowServer is a test server with slowProvider serving T_Slow; the
// provider is freed when the test ends.
func newSlowServer(t *testing.T, p *slowProvider) *testServer {
	t.Helper()
	s := newTestServerWith(t, testOptions{mof: slowMOF})
	if err := s.core.Registry().Register(schemas.VirtNamespace, p, "T_Slow"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.free)
	return s
}

const shortTimeout = `<wsman:OperationTimeout>PT0.3S</wsman:OperationTimeout>`

// expectTimedOut checks a wsman:TimedOut fault per DSP0226 (clause 6.1
// and the fault table): HTTP 500, code s:Receiver, subcode
// wsman:TimedOut, the WS-Management fault action; and that it came soon
// after the timeout rather than when the provider finished.
func expectTimedOut(t *testing.T, what string, st int, root *element, raw string, took time.Duration) {
	t.Helper()
	code, sub, _ := faultOf(root)
	if st != 500 || code != "s:Receiver" || sub != "wsman:TimedOut" {
		t.Fatalf("%s: %d %s %s, want 500 s:Receiver wsman:TimedOut\n%.2000s", what, st, code, sub, raw)
	}
	if a := path(root, "Header/Action").TrimmedText(); a != actionWSMANFault {
		t.Errorf("%s: fault action %q", what, a)
	}
	if took > 20*time.Second {
		t.Errorf("%s: the fault came after %s, not at the 0.3 s timeout", what, took)
	}
}

// postTimed is post, measuring how long the answer took.
func (s *testServer) postTimed(t *testing.T, body string) (int, *element, string, time.Duration) {
	t.Helper()
	start := time.Now()
	st, root, raw := s.post(t, body)
	return st, root, raw, time.Since(start)
}

// stillServes checks that the server answers a plain Get after a
// timeout.
func (s *testServer) stillServes(t *testing.T) {
	t.Helper()
	st, root, raw := s.post(t, envelope(actionGet, uriStatic, selectors("Id", "s1"), ""))
	if st != 200 || path(root, "Body/T_Static/Id").TrimmedText() != "s1" {
		t.Fatalf("the server no longer serves after the timeout: %d\n%.2000s", st, raw)
	}
}

// TestOperationTimeoutGetInvoke: a Get, and an extrinsic method, whose
// provider does not answer within wsman:OperationTimeout get
// wsman:TimedOut; once the provider answers, the same request succeeds.
func TestOperationTimeoutGetInvoke(t *testing.T) {
	for _, tc := range []struct {
		name, request, okPath, okValue string
	}{
		{"Get", envelope(actionGet, uriSlow, selectors("Id", "slow0")+shortTimeout, ""), "Body/T_Slow/Id", "slow0"},
		{"Invoke", envelope(uriSlow+"/Wait", uriSlow, selectors("Id", "slow0")+shortTimeout, `<p:Wait_INPUT xmlns:p="`+uriSlow+`"/>`),
			"Body/Wait_OUTPUT/ReturnValue", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newSlowProvider(0, 1)
			s := newSlowServer(t, p)
			st, root, raw, took := s.postTimed(t, tc.request)
			expectTimedOut(t, tc.name, st, root, raw, took)
			s.stillServes(t)
			p.free()
			st, root, raw = s.post(t, tc.request)
			if st != 200 || path(root, tc.okPath).TrimmedText() != tc.okValue {
				t.Fatalf("%s once the provider answers: %d\n%.2000s", tc.name, st, raw)
			}
		})
	}
}

// TestOperationTimeoutEnumerate: an optimized Enumerate whose batch is
// not produced within the timeout gets wsman:TimedOut (and no context);
// once the provider goes on, the same Enumerate returns everything.
func TestOperationTimeoutEnumerate(t *testing.T) {
	p := newSlowProvider(1, 3)
	s := newSlowServer(t, p)
	optimized := `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>5</wsman:MaxElements></wsen:Enumerate>`
	st, root, raw, took := s.postTimed(t, envelope(actionEnumerate, uriSlow, shortTimeout, optimized))
	expectTimedOut(t, "optimized Enumerate", st, root, raw, took)
	s.stillServes(t)
	p.free()
	st, root, raw = s.post(t, envelope(actionEnumerate, uriSlow, shortTimeout, optimized))
	items := all(path(root, "Body/EnumerateResponse/Items"), "T_Slow")
	if st != 200 || len(items) != 3 || path(root, "Body/EnumerateResponse/EndOfSequence") == nil {
		t.Fatalf("optimized Enumerate once the provider goes on: %d, %d items\n%.2000s", st, len(items), raw)
	}
}

// TestOperationTimeoutPull: a Pull that gets no item within the timeout
// (wsman:OperationTimeout or wsen:MaxTime) gets wsman:TimedOut and the
// enumeration context stays valid (DSP0226 clause 8.4): once the provider goes on, a Pull of the same context returns
// the rest. Both ways a Pull waits are covered: on the core (a plain
// enumeration) and on the batch the server prefetches after an optimized
// EnumerateResponse.
func TestOperationTimeoutPull(t *testing.T) {
	pull := func(ctx, headers, options string) string {
		return envelope(actionPull, "", headers,
			`<wsen:Pull><wsen:EnumerationContext>`+ctx+`</wsen:EnumerationContext><wsen:MaxElements>10</wsen:MaxElements>`+options+`</wsen:Pull>`)
	}
	check := func(t *testing.T, p *slowProvider, s *testServer, ctx string, want int) {
		t.Helper()
		st, root, raw, took := s.postTimed(t, pull(ctx, shortTimeout, ""))
		expectTimedOut(t, "Pull", st, root, raw, took)
		s.stillServes(t)
		// wsen:MaxTime bounds the wait the same way.
		st, root, raw, took = s.postTimed(t, pull(ctx, "", "<wsen:MaxTime>PT0.3S</wsen:MaxTime>"))
		expectTimedOut(t, "Pull with wsen:MaxTime", st, root, raw, took)
		p.free()
		st, root, raw = s.post(t, pull(ctx, "", ""))
		items := all(path(root, "Body/PullResponse/Items"), "T_Slow")
		if st != 200 || len(items) != want || path(root, "Body/PullResponse/EndOfSequence") == nil {
			t.Fatalf("Pull of the same context once the provider goes on: %d, %d items (want %d)\n%.2000s", st, len(items), want, raw)
		}
		if path(root, "Body/PullResponse/EnumerationContext") != nil {
			t.Errorf("the last PullResponse carries a context\n%.2000s", raw)
		}
	}
	t.Run("core", func(t *testing.T) {
		p := newSlowProvider(0, 3)
		s := newSlowServer(t, p)
		st, root, raw := s.post(t, envelope(actionEnumerate, uriSlow, "", `<wsen:Enumerate/>`))
		ctx := path(root, "Body/EnumerateResponse/EnumerationContext").TrimmedText()
		if st != 200 || ctx == "" {
			t.Fatalf("Enumerate: %d\n%.2000s", st, raw)
		}
		check(t, p, s, ctx, 3)
	})
	t.Run("prefetch", func(t *testing.T) {
		// Three instances come at once: the optimized answer holds the
		// first, the next two are held over (by the core and by the
		// adapter) to learn that the sequence goes on, and the prefetch
		// of the next batch waits for the fourth.
		p := newSlowProvider(3, 5)
		s := newSlowServer(t, p)
		st, root, raw := s.post(t, envelope(actionEnumerate, uriSlow, "",
			`<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1</wsman:MaxElements></wsen:Enumerate>`))
		ctx := path(root, "Body/EnumerateResponse/EnumerationContext").TrimmedText()
		if st != 200 || ctx == "" || len(all(root, "T_Slow")) != 1 {
			t.Fatalf("optimized Enumerate: %d\n%.2000s", st, raw)
		}
		check(t, p, s, ctx, 4)
	})
}
