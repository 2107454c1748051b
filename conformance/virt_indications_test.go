package conformance

import (
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// indicationListener is a CIM-XML listener (DSP0200 clause 8) that keeps
// the ExportIndication requests it receives.
type indicationListener struct {
	url  string
	mu   sync.Mutex
	got  []string
	wake chan struct{}
}

func newIndicationListener(t *testing.T) *indicationListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &indicationListener{url: "http://" + ln.Addr().String() + "/cimlistener", wake: make(chan struct{}, 1)}
	msgID := regexp.MustCompile(`MESSAGE ID="([^"]*)"`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		l.got = append(l.got, string(body))
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
		id := "1"
		if m := msgID.FindStringSubmatch(string(body)); m != nil {
			id = m[1]
		}
		w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
		w.Header().Set("CIMExport", "MethodResponse")
		io.WriteString(w, `<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="`+id+
			`" PROTOCOLVERSION="1.0"><SIMPLEEXPRSP><EXPMETHODRESPONSE NAME="ExportIndication"><IRETURNVALUE></IRETURNVALUE></EXPMETHODRESPONSE></SIMPLEEXPRSP></MESSAGE></CIM>`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return l
}

// wait returns the first indication (unescaped) for which match holds.
func (l *indicationListener) wait(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	deadline := time.After(virtTimeout)
	for seen := 0; ; {
		l.mu.Lock()
		got := l.got[seen:]
		seen = len(l.got)
		l.mu.Unlock()
		for _, b := range got {
			if u := html.UnescapeString(b); match(u) {
				return u
			}
		}
		select {
		case <-l.wake:
		case <-deadline:
			t.Fatalf("no indication of %s within %s", what, virtTimeout)
		}
	}
}

// TestVirtIndications: a client subscribed to lifecycle indications of
// virtual systems and jobs (DSP1054, with wbemcli) is told when a system is
// defined, changes state (with its previous state) and is destroyed, and
// when a job starts and ends; the management capabilities say so.
func TestVirtIndications(t *testing.T) {
	s := newVirtServer(t)
	_, vsms, _ := s.discoverVSMS()
	l := newIndicationListener(t)
	host, _ := os.Hostname()
	sys := `SystemCreationClassName="HC_HostSystem",SystemName="` + host + `"`
	filter := `CIM_IndicationFilter.CreationClassName="CIM_IndicationFilter",Name="vm-changes",` + sys
	dest := `CIM_ListenerDestinationCIMXML.CreationClassName="CIM_ListenerDestinationCIMXML",Name="virt-test",` + sys
	s.wbemcli(false, "ci", s.url("root/interop:"+filter),
		`Name="vm-changes",QueryLanguage="WQL",Query="SELECT * FROM CIM_InstIndication WHERE SourceInstance ISA HC_ComputerSystem OR SourceInstance ISA HC_ConcreteJob",SourceNamespaces="root/virt"`)
	s.wbemcli(false, "ci", s.url("root/interop:"+dest), `Name="virt-test",Destination="`+l.url+`"`)
	s.wbemcli(false, "ci", s.url("root/interop:CIM_IndicationSubscription.Filter="+filter+",Handler="+dest),
		"SubscriptionState=2,Filter="+filter+",Handler="+dest)

	caps := s.ain(vsms, "CIM_ElementCapabilities")
	if got := s.gi(caps[0])["IndicationsSupported"]; got != "3,4" {
		t.Fatalf("IndicationsSupported %q", got)
	}
	r := s.call(vsms, "DefineSystem", param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", "watched"),
		pstr("KernelPath", filepath.Join(s.bin, "hypercim-testguest")), pstr("KernelCommandLine", "testguest.interactive"))})
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	uuid := keyOf(r.refs["ResultingSystem"][0], "Name")
	l.wait(t, "the definition", func(b string) bool {
		return strings.Contains(b, `CLASSNAME="CIM_InstCreation"`) && strings.Contains(b, uuid)
	})
	r = s.call(r.refs["ResultingSystem"][0], "RequestStateChange", param{"RequestedState", "2"})
	if r.rc != 4096 {
		t.Fatalf("start: %d %s", r.rc, r.errMsg)
	}
	job := keyOf(r.refs["Job"][0], "InstanceID")
	l.wait(t, "the job's start", func(b string) bool {
		return strings.Contains(b, `CLASSNAME="CIM_InstCreation"`) && strings.Contains(b, job)
	})
	l.wait(t, "the job's end", func(b string) bool {
		return strings.Contains(b, `CLASSNAME="CIM_InstModification"`) && strings.Contains(b, job) &&
			strings.Contains(b, `<PROPERTY NAME="JobState" TYPE="uint16"><VALUE>7</VALUE>`)
	})
	enabled := regexp.MustCompile(`<PROPERTY NAME="EnabledState" TYPE="uint16"><VALUE>(\d+)</VALUE>`)
	l.wait(t, "the state change", func(b string) bool {
		m := enabled.FindAllStringSubmatch(b, -1)
		// SourceInstance comes before PreviousInstance.
		return strings.Contains(b, `CLASSNAME="CIM_InstModification"`) && strings.Contains(b, uuid) &&
			len(m) == 2 && m[0][1] == "2" && m[1][1] != "2"
	})
	if r := s.call(vsms, "DestroySystem", s.ref("AffectedSystem", s.ein("HC_ComputerSystem")[0])); r.rc != 0 {
		t.Fatalf("DestroySystem: %d %s", r.rc, r.errMsg)
	}
	l.wait(t, "the destruction", func(b string) bool {
		return strings.Contains(b, `CLASSNAME="CIM_InstDeletion"`) && strings.Contains(b, uuid)
	})
}
