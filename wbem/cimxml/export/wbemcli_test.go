package export_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/providers/interop"
	"github.com/hypercim/hypercim/schemas"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/cimxml"
	"github.com/hypercim/hypercim/wbem/cimxml/export"
)

// TestWbemcliSubscription subscribes with sblim-wbemcli, as
// docs/indications.md shows, over the real CIM-XML adapter: the three
// instances are created with "wbemcli ci", and a static instance created
// with wbemcli reaches the listener as a CIM_InstCreation export.
func TestWbemcliSubscription(t *testing.T) {
	wbemcli, err := exec.LookPath("wbemcli")
	if err != nil {
		t.Skip("wbemcli is not installed (scripts/install-deps.sh installs sblim-wbemcli)")
	}
	repo, err := repository.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	w := repo.NewBulkWriter()
	if _, err := schemas.Install(w, schemas.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, err := wbem.NewServer(wbem.Config{Repository: repo, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := newClient(t, export.Config{})
	srv.Indications().SetExporter(wbem.ProtocolCIMXML, client)
	ip, err := interop.New(srv, interop.Config{Product: "hypercim", Version: "test", SystemName: "testhost"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ip.Register(srv.Registry()); err != nil {
		t.Fatal(err)
	}
	h, err := cimxml.NewHandler(cimxml.Config{Operations: srv, NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	cimom := httptest.NewServer(h)
	defer cimom.Close()
	listener, got := newListener(t, export.ListenerConfig{})

	base := strings.Replace(cimom.URL, "http://", "http://user:pass@", 1) + "/root/interop:"
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, wbemcli, args...).CombinedOutput()
		if err != nil || strings.Contains(string(out), "*") && strings.Contains(string(out), "Exception") {
			t.Fatalf("wbemcli %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	filter := `CIM_IndicationFilter.CreationClassName="CIM_IndicationFilter",Name="hosts",SystemCreationClassName="HC_HostSystem",SystemName="testhost"`
	run("ci", base+filter,
		`Name="hosts",Query="SELECT * FROM CIM_InstCreation WHERE SourceInstance ISA CIM_ComputerSystem",QueryLanguage="WQL",SourceNamespaces="root/virt"`)
	dest := `CIM_ListenerDestinationCIMXML.CreationClassName="CIM_ListenerDestinationCIMXML",Name="mylistener",SystemCreationClassName="HC_HostSystem",SystemName="testhost"`
	run("ci", base+dest, `Name="mylistener",Destination="`+listener.URL+`/cimlistener"`)
	// wbemcli writes a reference key as Role=Class.key="v",... in the
	// object path and in the property list alike; in the property list a
	// reference runs to the end unless another property follows, so
	// other properties go first.
	refs := `Filter=` + filter + `,Handler=` + dest
	sub := `CIM_IndicationSubscription.` + refs
	run("ci", base+sub, `SubscriptionState=2,`+refs)
	if out := run("ein", base+"CIM_IndicationSubscription"); !strings.Contains(out, "mylistener") {
		t.Fatalf("the subscription is not listed:\n%s", out)
	}

	virt := strings.Replace(base, "/root/interop:", "/root/virt:", 1)
	run("ci", virt+`HC_HostSystem.CreationClassName="HC_HostSystem",Name="made-by-wbemcli"`, `CreationClassName="HC_HostSystem",Name="made-by-wbemcli"`)
	deadline := time.Now().Add(10 * time.Second)
	for len(got.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	all := got.all()
	if len(all) != 1 {
		t.Fatalf("%d indications received", len(all))
	}
	ind := all[0].Instance
	if ind.ClassName != "CIM_InstCreation" || ind.Get("SourceInstance").Instance().Get("Name").Str() != "made-by-wbemcli" ||
		ind.Get("IndicationFilterName").Str() != "hosts" {
		t.Errorf("received %v", ind)
	}

	// Pause it, as docs/indications.md shows.
	run("sp", base+sub, "SubscriptionState=4")
	if out := run("gi", base+sub); !strings.Contains(out, "SubscriptionState=4") {
		t.Errorf("after sp SubscriptionState=4:\n%s", out)
	}

	run("di", base+sub)
	run("di", base+filter)
	run("di", base+dest)
	var n int
	if err := srv.EnumerateInstanceNames(wbem.Internal(context.Background()), "root/interop", "CIM_IndicationFilter", func(*cim.ObjectPath) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("filters left: %d %v", n, err)
	}
}
