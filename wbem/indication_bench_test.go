package wbem_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hypercim/hypercim/cim"
	. "github.com/hypercim/hypercim/wbem"
)

// BenchmarkStaticCreateWithoutSubscribers is the cost lifecycle
// indications add to a static CreateInstance when nobody subscribes
// (compare BenchmarkStaticCreateWithSubscriber).
func BenchmarkStaticCreateWithoutSubscribers(b *testing.B) {
	benchStaticCreate(b, false)
}

// BenchmarkStaticCreateWithSubscriber creates static instances while a
// subscription selects their CIM_InstCreation (built, matched, queued,
// delivered to a Go function).
func BenchmarkStaticCreateWithSubscriber(b *testing.B) {
	benchStaticCreate(b, true)
}

func benchStaticCreate(b *testing.B, subscribed bool) {
	e, done := newIndEnv(b, b.TempDir(), IndicationConfig{MaxQueueLength: 1 << 30})
	defer done()
	if subscribed {
		if _, err := e.srv.Indications().Subscribe(e.ctx, SubscribeRequest{QueryLanguage: "WQL", SourceNamespaces: []string{indNS},
			Query:   "SELECT * FROM CIM_InstCreation WHERE SourceInstance ISA T_Widget",
			Deliver: func(context.Context, *cim.Instance) error { return nil }}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := e.srv.CreateInstance(e.ctx, indNS, widget("T_Widget", fmt.Sprint(i), "red", 1)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishTenFilters publishes an indication against ten
// subscriptions with WHERE clauses, one of which selects it: the matching
// cost a provider pays in its own goroutine.
func BenchmarkPublishTenFilters(b *testing.B) {
	e, done := newIndEnv(b, b.TempDir(), IndicationConfig{MaxQueueLength: 1 << 30})
	defer done()
	for i := range 10 {
		if _, err := e.srv.Indications().Subscribe(e.ctx, SubscribeRequest{QueryLanguage: "WQL", SourceNamespaces: []string{indNS},
			Query:   fmt.Sprintf("SELECT * FROM T_Event WHERE Level = %d AND Kind LIKE 'disk%%'", i),
			Deliver: func(context.Context, *cim.Instance) error { return nil }}); err != nil {
			b.Fatal(err)
		}
	}
	ev := cim.NewInstance("T_Event")
	ev.Set("Kind", cim.NewString("disk failure"))
	ev.Set("Level", cim.NewUint32(3))
	b.ResetTimer()
	for range b.N {
		if err := e.srv.PublishIndication(context.Background(), indNS, ev); err != nil {
			b.Fatal(err)
		}
	}
}
