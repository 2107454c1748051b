package wsmanconformance

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// wslResult is what one wsl command did: its exit status, its output
// (colours stripped) and the last response it saved.
type wslResult struct {
	rc       int
	out      string
	response string
}

var ansiColour = regexp.MustCompile("\x1b\\[[0-9;]*m")

// runWSL runs a wsl command (Debian wsl 0.2.1) against s, configured as
// its README says: endpoint and credentials in the environment, plain
// HTTP (runWSLAt: or HTTPS), no history, a private HOME (wsl writes
// ~/.wsl-config) and working directory (it writes request-N.xml and
// response-N.xml there). Class
// names without a slash and not starting with CIM_ get the prefix
// WSDEFAULTSCHEMA, here hypercim's vendor prefix.
func runWSL(t *testing.T, s *server, args ...string) wslResult {
	t.Helper()
	u, err := url.Parse(s.wsmanURL())
	if err != nil {
		t.Fatal(err)
	}
	return runWSLAt(t, s, wslEndpoint{host: u.Host}, args...)
}

// wslEndpoint is where wsl connects: host:port, over HTTPS when caCert
// names the server's certificate (wsl passes <endpoint>.crt in its
// working directory to curl as --cacert), else plain HTTP.
type wslEndpoint struct {
	host, caCert string
}

func runWSLAt(t *testing.T, s *server, ep wslEndpoint, args ...string) wslResult {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"WSENDPOINT=" + ep.host,
		"WSUSER=" + s.user,
		"WSPASS=" + s.password,
		"KEEPHISTORY=0",
		"WSAUTOMATED=1",
		"WSDEFAULTSCHEMA=schemas.hypercim.org",
	}
	if ep.caCert == "" {
		cmd.Env = append(cmd.Env, "WSNOSSL=true")
	} else {
		pem, err := os.ReadFile(ep.caCert)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ep.host+".crt"), pem, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := cmd.CombinedOutput()
	r := wslResult{out: ansiColour.ReplaceAllString(string(out), "")}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%v: %v", args, err)
		}
		r.rc = ee.ExitCode()
	}
	if b, err := os.ReadFile(filepath.Join(dir, "response.xml")); err == nil {
		r.response = string(b)
	}
	return r
}

// count returns how many times sub occurs in s.
func count(s, sub string) int { return strings.Count(s, sub) }

func TestWSLClient(t *testing.T) {
	if _, err := exec.LookPath("wsl"); err != nil {
		t.Skip("wsl is not installed (scripts/install-deps.sh installs it)")
	}
	s := startServer(t, "testdata/wsmt.mof")
	check := func(name string, r wslResult, wantRC int, want ...string) {
		t.Helper()
		if r.rc != wantRC {
			t.Errorf("%s: exit status %d, want %d\n%s", name, r.rc, wantRC, r.out)
			return
		}
		for _, w := range want {
			if !strings.Contains(r.out, w) {
				t.Errorf("%s: output lacks %q\n%s", name, w, r.out)
			}
		}
	}

	r := runWSL(t, s, "wslid", "check")
	check("identify", r, 0, "<wsmid:ProductVendor>hypercim</wsmid:ProductVendor>", "<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion>")

	// Plain enumeration: one Pull per instance (WS-Enumeration's default
	// of one element), the last one carrying EndOfSequence.
	r = runWSL(t, s, "wslenum", "WSMT_Widget")
	check("enumerate", r, 0, "<p:InstanceID>w1</p:InstanceID>", "<p:InstanceID>w2</p:InstanceID>", "<p:InstanceID>g1</p:InstanceID>",
		"<p:HC_WSMTGadget xmlns:p=\"http://schemas.hypercim.org/wbem/wscim/1/cim-schema/2/HC_WSMTGadget\">",
		"<cim:Datetime xmlns:cim=\"http://schemas.dmtf.org/wbem/wscim/1/common\">2024-01-31T23:59:58+01:00</cim:Datetime>",
		"<cim:Interval xmlns:cim=\"http://schemas.dmtf.org/wbem/wscim/1/common\">P1DT2H3M4S</cim:Interval>",
		"<p:Note xsi:nil=\"true\"/>", "<wsen:EndOfSequence/>")
	if n := count(r.out, "<wsen:PullResponse>"); n != 3 {
		t.Errorf("enumerate: %d PullResponses for 3 instances\n%s", n, r.out)
	}

	r = runWSL(t, s, "wslenum", "WSMT_Widget", "-mode", "epr")
	check("enumerate EPR", r, 0, `<wsman:Selector Name="InstanceID">w1</wsman:Selector>`, `<wsman:Selector Name="__cimnamespace">root/virt</wsman:Selector>`)
	if n := count(r.out, "<wsa:EndpointReference>"); n != 3 {
		t.Errorf("enumerate EPR: %d EPRs\n%s", n, r.out)
	}

	// Optimized, two per response: the EnumerateResponse holds two, the
	// one Pull the last, without context.
	r = runWSL(t, s, "wslenum", "WSMT_Widget", "-mode", "objepr", "-opti", "2")
	check("enumerate optimized", r, 0, "<wsman:Item", "<wsman:Items>", "<wsen:EndOfSequence/>")
	if n, m := count(r.out, "<wsman:Item "), count(r.out, "<wsen:PullResponse>"); n != 3 || m != 1 {
		t.Errorf("enumerate optimized: %d items, %d pulls\n%s", n, m, r.out)
	}
	r = runWSL(t, s, "wslenum", "WSMT_Widget", "-opti", "10")
	check("enumerate optimized, all at once", r, 0, "<wsen:EnumerationContext/>", "<wsman:EndOfSequence/>")
	if count(r.out, "PullResponse") != 0 {
		t.Errorf("wsl pulled after the empty context\n%s", r.out)
	}

	// Filters: CQL (wsl's default dialect), WQL, SelectorFilter.
	r = runWSL(t, s, "wslenum", "WSMT_Widget", "-filter", "select * from WSMT_Widget where State = 2")
	check("CQL filter", r, 0, "<p:InstanceID>w1</p:InstanceID>", "<p:InstanceID>g1</p:InstanceID>")
	if strings.Contains(r.out, ">w2<") {
		t.Errorf("CQL filter let w2 through\n%s", r.out)
	}
	r = runWSL(t, s, "wslenum", "WSMT_Widget", "-filter", "select * from HC_WSMTGadget", "-dialect", "http://schemas.microsoft.com/wbem/wsman/1/WQL")
	check("WQL filter", r, 0, "<p:InstanceID>g1</p:InstanceID>")
	if strings.Contains(r.out, ">w1<") {
		t.Errorf("WQL filter let w1 through\n%s", r.out)
	}
	r = runWSL(t, s, "wslenum", "WSMT_Widget", "-filter", "InstanceID=w2", "-dialect", "http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter")
	check("SelectorFilter", r, 0, "<p:InstanceID>w2</p:InstanceID>")
	if count(r.out, "<p:InstanceID>") != 1 {
		t.Errorf("SelectorFilter returned more than w2\n%s", r.out)
	}

	// Associations; wsl swaps the two filter kinds, so -references lists
	// the associated parts and -associators the association instances.
	r = runWSL(t, s, "wslenum", "WSMT_Widget", "-references", "InstanceID=w1")
	check("associated instances", r, 0, "<p:Name>bolt</p:Name>", "<p:Name>nut</p:Name>")
	r = runWSL(t, s, "wslenum", "WSMT_Widget", "-associators", "InstanceID=w1", "-mode", "objepr")
	check("association instances", r, 0, "<p:WSMT_WidgetPart>", "<p:Widget>", "<wsman:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/WSMT_Part</wsman:ResourceURI>")
	if n := count(r.out, "<p:WSMT_WidgetPart>"); n != 2 {
		t.Errorf("association instances: %d, want 2\n%s", n, r.out)
	}

	r = runWSL(t, s, "wslget", "WSMT_Widget", "InstanceID=w1")
	check("get", r, 0, "<p:ElementName>first</p:ElementName>", "<p:Codes>1</p:Codes>", "<p:Codes>3</p:Codes>", "<p:Ratio>0.5</p:Ratio>",
		"<p:Enabled>true</p:Enabled>", "<p:Delta>-7</p:Delta>", "<p:Grade>A</p:Grade>")

	// Put: wsl enumerates the instance (CQL filter), edits it line by line
	// and puts it back; it exits 1 whatever the answer (it looks for
	// "_OUTPUT"), so the effect is checked with a Get.
	runWSL(t, s, "wslput", "WSMT_Widget", "State=7", "-filter", "select * from WSMT_Widget where InstanceID='w2'")
	r = runWSL(t, s, "wslget", "WSMT_Widget", "InstanceID=w2")
	check("get after put", r, 0, "<p:State>7</p:State>", "<p:ElementName>second</p:ElementName>")
	r = runWSL(t, s, "wslput", "WSMT_Widget", "ElementName=fragmented", "-fragment", "-filter", "select * from WSMT_Widget where InstanceID='w2'")
	if !strings.Contains(r.out, "<ElementName>fragmented</ElementName>") {
		t.Errorf("fragment put answer:\n%s", r.out)
	}
	r = runWSL(t, s, "wslget", "WSMT_Widget", "InstanceID=w2")
	check("get after fragment put", r, 0, "<p:ElementName>fragmented</p:ElementName>", "<p:State>7</p:State>")

	// Invoke: wsl finds the instance by an enumeration of EPRs, then calls
	// the method on it (the test provider's T_Dynamic.Resize, with an
	// IN/OUT parameter).
	td := dmtfPrefix + "T_Dynamic"
	st, raw := s.post(t, soap("http://schemas.xmlsoap.org/ws/2004/09/transfer/Create", td, "",
		`<p:T_Dynamic xmlns:p="`+td+`"><p:Id>d1</p:Id><p:Name>dynamic</p:Name><p:Size>10</p:Size></p:T_Dynamic>`))
	if st != 200 {
		t.Fatalf("Create T_Dynamic: %d %s", st, raw)
	}
	r = runWSL(t, s, "wslinvoke", "T_Dynamic", "Resize", "NewSize=20", "Note=hi", "-filter", "select * from T_Dynamic where Id='d1'")
	check("invoke", r, 0, "<p:Resize_OUTPUT", "<p:ReturnValue>0</p:ReturnValue>", "<p:OldSize>10</p:OldSize>", "<p:Note>hi!</p:Note>")
	r = runWSL(t, s, "wslget", "T_Dynamic", "Id=d1")
	check("get after invoke", r, 0, "<p:Size>20</p:Size>")

	r = runWSL(t, s, "wslecn", "check")
	check("EnumerateClassNames", r, 0, "<n1:name>root/virt:WSMT_Widget</n1:name>", "<n1:name>root/virt:HC_WSMTGadget</n1:name>")
	r = runWSL(t, s, "wslecn", "getclass", "WSMT_Widget")
	check("GetClass", r, 0, "<n1:name>WSMT_Widget</n1:name>", "<n1:name>Codes</n1:name>", "<n1:array>uint16</n1:array>")
}
