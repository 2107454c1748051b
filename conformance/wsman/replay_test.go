package wsmanconformance

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// captureDirs returns the directories of captured requests of wsl 0.2.1,
// openwsman's wsman CLI 2.2 and the AMT message builder: the project's
// shared client captures, which CI keeps beside the repository
// (../shared/fixtures/clients/wsman from the module root).
func captureDirs(t *testing.T) []string {
	t.Helper()
	root := filepath.Join(bins.root, "..", "shared", "fixtures", "clients", "wsman")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("the shared client captures belong at %s: %v", root, err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	return dirs
}

// replayExpect is what each captured request must get: "200" and the
// local name of the body's element, or the HTTP status and the fault
// subcode (and detail); "pull" is a Pull that must succeed when it
// continues a live enumeration and be refused otherwise. Captures are replayed in order within their
// directory, as the client sent them; a Pull's context is the one the
// preceding Enumerate returned. The captured data (CIM_ComputerSystem
// "host1" in root/virt) is in testdata/wsmt.mof; root/cimv2 does not exist
// here, and neither do the AMT classes. The wsmancli2 captures are the
// CLI's first tries, without credentials: TestReplayWithCredentialsAndData
// resends them as the CLI does after the 401.
var replayExpect = map[string]string{
	// wsl: preemptive Basic; bare-UUID MessageIDs.
	"wsl/01_IDENTIFY.txt":                 "200 IdentifyResponse",
	"wsl/02_Enumerate.txt":                "200 EnumerateResponse",
	"wsl/03_Pull.txt":                     "pull",
	"wsl/04_Enumerate.txt":                "200 EnumerateResponse",
	"wsl/05_Pull.txt":                     "pull",
	"wsl/06_Enumerate.txt":                "400 wsa:DestinationUnreachable",
	"wsl/07_Pull.txt":                     "pull",
	"wsl/08_Enumerate.txt":                "200 EnumerateResponse",
	"wsl/09_Pull.txt":                     "pull",
	"wsl/10_Enumerate.txt":                "200 EnumerateResponse",
	"wsl/11_Pull.txt":                     "pull",
	"wsl/12_Enumerate.txt":                "200 EnumerateResponse",
	"wsl/13_Pull.txt":                     "pull",
	"wsl/14_Enumerate.txt":                "200 EnumerateResponse",
	"wsl/15_Pull.txt":                     "pull",
	"wsl/16_Get.txt":                      "200 CIM_ComputerSystem",
	"wsl/17_Enumerate.txt":                "200 EnumerateResponse",
	"wsl/18_Pull.txt":                     "pull",
	"wsl/19_Enumerate.txt":                "200 EnumerateResponse",
	"wsl/20_Pull.txt":                     "pull",
	"wsl/21_EnumerateClassNames.txt":      "200 EnumerateClassNames",
	"wsl/22_GetClass.txt":                 "200 GetClass",
	"wsl/23_Enumerate.txt":                "400 wsa:DestinationUnreachable InvalidResourceURI",
	"wsl/24_Pull.txt":                     "pull",
	"wsl2/01_Enumerate.txt":               "200 EnumerateResponse",
	"wsl2/02_Pull.txt":                    "pull",
	"wsl2/03_NOACTION.txt":                "400 wsman:SchemaValidationError",
	"wsl2/04_Enumerate.txt":               "200 EnumerateResponse",
	"wsl2/05_Pull.txt":                    "pull",
	"wsl2/06_Put.txt":                     "200 XmlFragment",
	"wsl2/07_Enumerate.txt":               "200 EnumerateResponse",
	"wsl2/08_Pull.txt":                    "pull",
	"wsl2/09_RequestStateChange.txt":      "400 wsa:ActionNotSupported ActionMismatch",
	"wsl-emptyctx/01_Enumerate.txt":       "200 EnumerateResponse",
	"wsmancli3/01_Enumerate.txt":          "401",
	"wsmancli3/02_Enumerate.txt":          "200 EnumerateResponse",
	"wsmancli3/03_Enumerate.txt":          "200 EnumerateResponse",
	"wsmancli2/01_Get.txt":                "401",
	"wsmancli2/02_RequestStateChange.txt": "401",
	"wsmancli2/03_Enumerate.txt":          "401",
	"wsmancli2/04_Pull.txt":               "401",
	"wsmancli2/05_Enumerate.txt":          "401",
	"wsmancli2/06_Pull.txt":               "401",
	"wsmancli2/07_Create.txt":             "401",
	"wsmancli2/08_Enumerate.txt":          "401",
	"wsmancli2/09_Pull.txt":               "401",
	"wsmancli2/10_Pull.txt":               "401",
	// AMT builder output: default-namespace envelopes, small-integer
	// MessageIDs, relative wsa:To; neither Intel's classes nor the DMTF
	// ones it addresses exist here (TestReplayWithCredentialsAndData
	// replays them with the DMTF ones present).
	"amt-msgs/amt_AlarmClockService_AddAlarm.xml":                     "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_AuditLog_ReadRecords.xml":                           "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_EthernetPortSettings_Enumerate.xml":                 "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_EthernetPortSettings_Pull.xml":                      "pull",
	"amt-msgs/amt_GeneralSettings_Get.xml":                            "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_GeneralSettings_Put.xml":                            "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/amt_TLSCredentialContext_Create.xml":                    "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/cim_BootConfigSetting_ChangeBootOrder.xml":              "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/cim_BootService_RequestStateChange.xml":                 "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/cim_BootService_SetBootConfigRole.xml":                  "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/cim_Chassis_Enumerate.xml":                              "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/cim_Chassis_Pull.xml":                                   "pull",
	"amt-msgs/cim_ComputerSystemPackage_Get.xml":                      "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/cim_PowerManagementService_RequestPowerStateChange.xml": "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/cim_WiFiEndpointSettings_Delete.xml":                    "400 wsa:DestinationUnreachable InvalidResourceURI",
	"amt-msgs/ips_OptInService_Get.xml":                               "400 wsa:DestinationUnreachable InvalidResourceURI",
}

// wsmancliExpect is what the wsman CLI captures get; the CLI sends every
// request first without credentials (odd files answered 401), then again
// with Basic.
var wsmancliExpect = map[string]string{
	"01_IDENTIFY":           "200 IdentifyResponse",
	"02_IDENTIFY":           "200 IdentifyResponse",
	"04_Enumerate":          "200 EnumerateResponse",
	"05_Pull":               "pull",
	"07_Enumerate":          "200 EnumerateResponse",
	"08_Pull":               "pull",
	"10_Enumerate":          "400 wsa:DestinationUnreachable InvalidResourceURI",
	"11_Pull":               "pull",
	"13_Enumerate":          "200 EnumerateResponse",
	"14_Pull":               "pull",
	"16_Enumerate":          "200 EnumerateResponse",
	"17_Pull":               "pull",
	"19_Enumerate":          "200 EnumerateResponse",
	"20_Pull":               "pull",
	"22_Enumerate":          "200 EnumerateResponse",
	"23_Pull":               "pull",
	"24_Pull":               "401",
	"25_Pull":               "pull",
	"26_Release":            "401",
	"27_Release":            "500 wsen:InvalidEnumerationContext",
	"29_Get":                "400 wsman:InvalidSelectors InsufficientSelectors",
	"31_Get":                "400 wsman:InvalidSelectors InsufficientSelectors",
	"33_Get":                "400 wsman:InvalidSelectors InsufficientSelectors",
	"35_Get":                "400 wsman:InvalidSelectors InsufficientSelectors",
	"36_Put":                "400 wsman:InvalidSelectors InsufficientSelectors",
	"38_RequestStateChange": "400 wsman:InvalidSelectors InsufficientSelectors",
	"40_Delete":             "400 wsman:InvalidSelectors InsufficientSelectors",
	"42_Subscribe":          "200 SubscribeResponse",
	"44_Unsubscribe":        "400 wsa:DestinationUnreachable", // uuid:1234 names no subscription
	"46_Renew":              "400 wse:UnableToRenew",
	"48_Enumerate":          "400 wsa:DestinationUnreachable",
	"49_Pull":               "pull",
	"51_Enumerate":          "200 EnumerateResponse",
	"52_Pull":               "pull",
}

var capturedContext = regexp.MustCompile(`(<(?:wsen:)?EnumerationContext>)(ctx-\d+)(</(?:wsen:)?EnumerationContext>)`)

// TestReplayCapturedClients sends every captured request of the real
// clients to the server (its host and port substituted, credentials
// replaced by the test user's where the client sent some) and checks each
// answer, the WS-Addressing headers and the enumeration end rules.
func TestReplayCapturedClients(t *testing.T) {
	s := startServer(t, "testdata/wsmt.mof")
	dirs := captureDirs(t)
	if len(dirs) < 7 {
		t.Fatalf("captures: only %v", dirs)
	}
	replayed := 0
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		sort.Strings(files)
		live := "" // the last enumeration context the server returned
		for _, f := range files {
			name := filepath.Base(dir) + "/" + filepath.Base(f)
			want, ok := replayExpect[name]
			if strings.HasPrefix(name, "wsmancli/") {
				want, ok = wsmancliExpect[strings.TrimSuffix(filepath.Base(f), ".txt")]
				if !ok {
					want, ok = "401", true // the CLI's first, unauthenticated try
				}
			}
			if !ok {
				t.Errorf("%s: no expectation", name)
				continue
			}
			req := loadCapture(t, f, s)
			// Contexts the capture server handed out stand for the live
			// one; one a user typed (ctx-1234) stays as it is. A Pull of a
			// live context must succeed, any other is refused.
			substituted := false
			if m := capturedContext.FindStringSubmatch(req.body); m != nil && m[2] != "ctx-1234" && live != "" {
				req.body = capturedContext.ReplaceAllString(req.body, "${1}"+live+"${3}")
				substituted = true
			}
			if want == "pull" {
				want = "500 wsen:InvalidEnumerationContext"
				if substituted {
					want = "200 PullResponse"
				}
			}
			status, raw := s.send(t, req)
			got := strconv.Itoa(status)
			if status != 401 {
				d := parse(t, raw)
				got = replayOutcome(status, d, want)
				checkAddressing(t, name, req.body, d)
				if c := checkEndRules(d); c != "" {
					t.Errorf("%s: %s\n%.2000s", name, c, raw)
				}
				if c := d.FindElement("//EnumerateResponse/EnumerationContext"); c != nil && strings.TrimSpace(c.Text()) != "" {
					live = strings.TrimSpace(c.Text())
				}
				if d.FindElement("//PullResponse") != nil {
					live = text(d, "//PullResponse/EnumerationContext")
				}
			}
			if got != want {
				t.Errorf("%s: got %q, want %q\n%.1500s", name, got, want, raw)
			}
			replayed++
		}
	}
	if replayed < 100 {
		t.Errorf("only %d captures replayed", replayed)
	}
	// The data the captures ask for is really served: wsl's Get of host1.
	st, raw := s.post(t, soap(actGet, dmtfPrefix+"CIM_ComputerSystem", selectorSet("CreationClassName", "CIM_ComputerSystem", "Name", "host1"), ""))
	if st != 200 || text(parse(t, raw), "//Body/CIM_ComputerSystem/Name") != "host1" {
		t.Errorf("Get host1: %d %s", st, raw)
	}
}

// capturedRequest is one replayable request.
type capturedRequest struct {
	body string
	auth bool
}

// loadCapture reads a captured request: raw HTTP (.txt) or a bare SOAP
// body (.xml, sent with credentials), with the capture server's address
// replaced by s's.
func loadCapture(t *testing.T, f string, s *server) capturedRequest {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(f, ".xml") {
		return capturedRequest{body: string(data), auth: true}
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	body, _ := io.ReadAll(r.Body)
	return capturedRequest{
		body: strings.ReplaceAll(string(body), "127.0.0.1:15985", s.wsmanAddr),
		auth: r.Header.Get("Authorization") != "",
	}
}

func (s *server) send(t *testing.T, r capturedRequest) (int, string) {
	t.Helper()
	if r.auth {
		return s.post(t, r.body)
	}
	return s.postAs(t, r.body, "", "")
}

// checkAddressing checks the WS-Addressing headers of an answer: it
// relates to the request's MessageID and carries a MessageID of its own.
// replayOutcome sums up an answer as the replay tables expect it: the HTTP
// status, then the fault's subcode (and its detail when want names one)
// or the body's first element.
func replayOutcome(status int, d *etree.Document, want string) string {
	got := strconv.Itoa(status)
	if sub, detail := fault(d); sub != "" {
		got += " " + sub
		if detail != "" && strings.Count(want, " ") == 2 {
			got += " " + detail
		}
	} else if body := d.FindElement("//Body"); body != nil && len(body.ChildElements()) > 0 {
		got += " " + body.ChildElements()[0].Tag
	}
	return got
}

func checkAddressing(t *testing.T, name, request string, d *etree.Document) {
	t.Helper()
	m := requestMessageID.FindStringSubmatch(request)
	if m == nil {
		return
	}
	if got := text(d, "//Header/RelatesTo"); got != strings.TrimSpace(m[1]) {
		t.Errorf("%s: RelatesTo %q, request MessageID %q", name, got, m[1])
	}
	if id := text(d, "//Header/MessageID"); !strings.HasPrefix(id, "uuid:") {
		t.Errorf("%s: answer MessageID %q", name, id)
	}
	if text(d, "//Header/Action") == "" {
		t.Errorf("%s: answer without wsa:Action", name)
	}
}

var requestMessageID = regexp.MustCompile(`<(?:\w+:)?MessageID[^>]*>([^<]*)<`)

// checkEndRules checks DSP0226 R8.2.3-5 and R8.4-8: an optimized
// EnumerateResponse ends with an empty context and EndOfSequence; a
// PullResponse ends with EndOfSequence and no context.
func checkEndRules(d *etree.Document) string {
	if er := d.FindElement("//EnumerateResponse"); er != nil {
		c := er.FindElement("EnumerationContext")
		if c == nil {
			return "EnumerateResponse without EnumerationContext"
		}
		if end := er.FindElement("EndOfSequence") != nil; end != (strings.TrimSpace(c.Text()) == "") {
			return "EnumerateResponse: EndOfSequence and an empty context must come together"
		}
	}
	if pr := d.FindElement("//PullResponse"); pr != nil {
		if end := pr.FindElement("EndOfSequence") != nil; end == (pr.FindElement("EnumerationContext") != nil) {
			return "PullResponse: EndOfSequence exactly when the context is left out"
		}
	}
	return ""
}
