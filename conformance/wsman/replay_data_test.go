package wsmanconformance

import (
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// replayWithData is what the captures of the wsman CLI's unauthenticated
// first tries (wsmancli2) and of the AMT message builder get when sent
// with credentials to a server holding the data they address
// (testdata/amt.mof: the DMTF classes and instances an AMT device has,
// and a disk of host1). The AMT_ and IPS_ vendor resource URIs are not
// this service's and keep faulting.
var replayWithData = map[string]string{
	"wsmancli2/01_Get.txt":                "200 CIM_ComputerSystem",
	"wsmancli2/02_RequestStateChange.txt": "400 wsa:ActionNotSupported ActionMismatch", // a static instance: no method provider
	"wsmancli2/03_Enumerate.txt":          "200 EnumerateResponse",
	"wsmancli2/04_Pull.txt":               "200 PullResponse",
	"wsmancli2/05_Enumerate.txt":          "200 EnumerateResponse",
	"wsmancli2/06_Pull.txt":               "200 PullResponse",
	"wsmancli2/07_Create.txt":             "200 ResourceCreated",
	"wsmancli2/08_Enumerate.txt":          "200 EnumerateResponse",
	"wsmancli2/09_Pull.txt":               "500 wsen:InvalidEnumerationContext", // the optimized Enumerate ended it
	"wsmancli2/10_Pull.txt":               "500 wsen:InvalidEnumerationContext",

	"amt-msgs/amt_AlarmClockService_AddAlarm.xml":                     "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_AuditLog_ReadRecords.xml":                           "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_EthernetPortSettings_Enumerate.xml":                 "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_EthernetPortSettings_Pull.xml":                      "500 wsen:InvalidEnumerationContext",
	"amt-msgs/amt_GeneralSettings_Get.xml":                            "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_GeneralSettings_Put.xml":                            "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_TLSCredentialContext_Create.xml":                    "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/ips_OptInService_Get.xml":                               "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/cim_Chassis_Enumerate.xml":                              "200 EnumerateResponse",
	"amt-msgs/cim_Chassis_Pull.xml":                                   "200 PullResponse",
	"amt-msgs/cim_WiFiEndpointSettings_Delete.xml":                    "200",
	"amt-msgs/cim_ComputerSystemPackage_Get.xml":                      "400 wsman:InvalidSelectors InsufficientSelectors",
	"amt-msgs/cim_BootConfigSetting_ChangeBootOrder.xml":              "400 wsman:InvalidSelectors InsufficientSelectors",
	"amt-msgs/cim_BootService_RequestStateChange.xml":                 "400 wsman:InvalidSelectors InsufficientSelectors",
	"amt-msgs/cim_BootService_SetBootConfigRole.xml":                  "400 wsman:InvalidSelectors InsufficientSelectors",
	"amt-msgs/cim_PowerManagementService_RequestPowerStateChange.xml": "400 wsman:InvalidSelectors InsufficientSelectors",
}

// anyCapturedContext matches the contexts the capture servers handed out
// (wsman CLI: ctx-N, AMT builder: CTX-N), except the one a user typed.
var anyCapturedContext = regexp.MustCompile(`(<(?:\w+:)?EnumerationContext>)((?:ctx|CTX)-\d+)(</(?:\w+:)?EnumerationContext>)`)

// TestReplayWithCredentialsAndData resends the captures the other replay
// only sees refused (no credentials, or no data) as the clients send them
// after a 401 (with Basic) to a server that holds the data, and checks
// the real answers: instances, association results, created and deleted
// resources, and the faults that remain right.
func TestReplayWithCredentialsAndData(t *testing.T) {
	s := startServer(t, "testdata/wsmt.mof", "testdata/amt.mof")
	answers := map[string]string{}
	for _, dir := range captureDirs(t) {
		base := filepath.Base(dir)
		if base != "wsmancli2" && base != "amt-msgs" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		sort.Strings(files)
		live := ""
		for _, f := range files {
			name := base + "/" + filepath.Base(f)
			want, ok := replayWithData[name]
			if !ok {
				t.Errorf("%s: no expectation", name)
				continue
			}
			req := loadCapture(t, f, s)
			// The capture server held host1 in root/cimv2; here it is in
			// root/virt.
			req.body = strings.ReplaceAll(req.body, "root/cimv2", "root/virt")
			if m := anyCapturedContext.FindStringSubmatch(req.body); m != nil && live != "" {
				req.body = anyCapturedContext.ReplaceAllString(req.body, "${1}"+live+"${3}")
			}
			status, raw := s.post(t, req.body)
			d := parse(t, raw)
			if got := replayOutcome(status, d, want); got != want {
				t.Errorf("%s: got %q, want %q\n%.1500s", name, got, want, raw)
			}
			checkAddressing(t, name, req.body, d)
			if c := checkEndRules(d); c != "" {
				t.Errorf("%s: %s\n%.2000s", name, c, raw)
			}
			live = ""
			if c := d.FindElement("//EnumerateResponse/EnumerationContext"); c != nil {
				live = strings.TrimSpace(c.Text())
			}
			answers[name] = raw
		}
	}
	// The answers hold the data, not just the right element.
	for name, wants := range map[string][]string{
		"wsmancli2/01_Get.txt":          {"<p:Name>host1</p:Name>"},
		"wsmancli2/04_Pull.txt":         {"<p:DeviceID>disk0</p:DeviceID>", "CIM_LogicalDisk", "<wsen:EndOfSequence/>"},
		"wsmancli2/06_Pull.txt":         {"<p:CIM_SystemDevice", "disk0", "host1", "<wsen:EndOfSequence/>"},
		"wsmancli2/07_Create.txt":       {`<wsman:Selector Name="Name">f1</wsman:Selector>`},
		"wsmancli2/08_Enumerate.txt":    {"<p:Name>host1</p:Name>", "<wsman:EndOfSequence/>"},
		"amt-msgs/cim_Chassis_Pull.xml": {"<p:Tag>CIM_Chassis</p:Tag>", "<p:Model>NUC</p:Model>", "<wsen:EndOfSequence/>"},
	} {
		for _, w := range wants {
			if !strings.Contains(answers[name], w) {
				t.Errorf("%s: the answer lacks %q\n%.3000s", name, w, answers[name])
			}
		}
	}
	// The Delete really deleted, and the wsman CLI's Create really created.
	wifi := soap(actGet, dmtfPrefix+"CIM_WiFiEndpointSettings", selectorSet("InstanceID", "Intel(r) AMT:WiFi Endpoint Settings home"), "")
	if st, raw := s.post(t, wifi); outcome(t, st, raw) != "400 wsa:DestinationUnreachable" {
		t.Errorf("Get of the deleted WiFi settings: %s\n%.1000s", outcome(t, st, raw), raw)
	}
	filters := enumerate(t, s, dmtfPrefix+"CIM_IndicationFilter", selectorSet("__cimnamespace", "root/interop"), "", 50)
	found := false
	for _, f := range filters {
		if name, query := f.FindElement("Name"), f.FindElement("Query"); name != nil && query != nil {
			found = found || (name.Text() == "f1" && strings.Contains(query.Text(), "CIM_AlertIndication"))
		}
	}
	if !found {
		t.Errorf("the filter f1 the wsman CLI created is not enumerated in root/interop")
	}
}
