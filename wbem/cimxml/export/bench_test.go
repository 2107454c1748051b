package export_test

import (
	"context"
	"io"
	"net/http/httptest"
	"sync/atomic"
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

func benchAlert(i int) *cim.Instance {
	a := cim.NewInstance("CIM_AlertIndication")
	a.Set("Description", cim.NewString("benchmark alert"))
	a.Set("AlertType", cim.NewUint16(5))
	a.Set("PerceivedSeverity", cim.NewUint16(6))
	a.Set("ProbableCause", cim.NewUint16(0))
	a.Set("EventID", cim.NewString("bench"))
	a.Set("RecommendedActions", cim.NewStringArray([]string{"none"}))
	a.Set("SystemName", cim.NewString("host"))
	a.Set("MessageArguments", cim.NewStringArray([]string{"a", "b"}))
	_ = i
	return a
}

// countingListener counts the indications it receives.
func countingListener(b *testing.B) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	l, err := export.NewListener(export.ListenerConfig{Handle: func(context.Context, export.Indication) error {
		n.Add(1)
		return nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(l)
	b.Cleanup(srv.Close)
	return srv, &n
}

// BenchmarkExportClient is the baseline: one goroutine exporting to a
// local listener, one request at a time, as one destination's delivery
// goroutine does, without the indication service.
func BenchmarkExportClient(b *testing.B) {
	srv, got := countingListener(b)
	c, err := export.NewClient(export.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ind := benchAlert(0)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := c.Export(context.Background(), export.Target{URL: srv.URL}, ind); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(got.Load())/time.Since(start).Seconds(), "indications/s")
}

// BenchmarkIndicationDelivery publishes alerts in root/virt matched by a
// subscription created through the Operations API, and measures until the
// listener has received them all.
func BenchmarkIndicationDelivery(b *testing.B) {
	repo, err := repository.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer repo.Close()
	w := repo.NewBulkWriter()
	if _, err := schemas.Install(w, schemas.InstallOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, err := wbem.NewServer(wbem.Config{Repository: repo, Logger: log, Indications: wbem.IndicationConfig{MaxQueueLength: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c, err := export.NewClient(export.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	srv.Indications().SetExporter(wbem.ProtocolCIMXML, c)
	ip, err := interop.New(srv, interop.Config{Product: "hypercim", Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := ip.Register(srv.Registry()); err != nil {
		b.Fatal(err)
	}
	listener, got := countingListener(b)
	ctx := wbem.Internal(context.Background())
	f := cim.NewInstance("CIM_IndicationFilter")
	f.Set("Name", cim.NewString("bench"))
	f.Set("Query", cim.NewString("SELECT * FROM CIM_AlertIndication WHERE PerceivedSeverity >= 5"))
	f.Set("QueryLanguage", cim.NewString("WQL"))
	f.Set("SourceNamespaces", cim.NewStringArray([]string{"root/virt"}))
	fp, err := srv.CreateInstance(ctx, "root/interop", f)
	if err != nil {
		b.Fatal(err)
	}
	d := cim.NewInstance("CIM_ListenerDestinationCIMXML")
	d.Set("Name", cim.NewString("bench"))
	d.Set("Destination", cim.NewString(listener.URL))
	dp, err := srv.CreateInstance(ctx, "root/interop", d)
	if err != nil {
		b.Fatal(err)
	}
	s := cim.NewInstance("CIM_IndicationSubscription")
	s.Set("Filter", cim.NewReference(fp))
	s.Set("Handler", cim.NewReference(dp))
	if _, err := srv.CreateInstance(ctx, "root/interop", s); err != nil {
		b.Fatal(err)
	}
	ind := benchAlert(0)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := srv.PublishIndication(context.Background(), "root/virt", ind); err != nil {
			b.Fatal(err)
		}
	}
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "indications/s")
}
