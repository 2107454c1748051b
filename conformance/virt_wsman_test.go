package conformance

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/conformance/internal/daemon"
)

// WS-Management: the acceptance scenario through wsl and envelopes of the
// shape the openwsman CLI sends, against the same server code.

const (
	nsSOAP  = "http://www.w3.org/2003/05/soap-envelope"
	nsWSA   = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsWSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	nsWSEN  = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
	nsWSMB  = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"
	nsXSI   = "http://www.w3.org/2001/XMLSchema-instance"
	hcURI   = "http://schemas.hypercim.org/wbem/wscim/1/cim-schema/2/"
	dmtfURI = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
)

// classURI is the resource URI of a class.
func classURI(class string) string {
	if strings.HasPrefix(class, "HC_") {
		return hcURI + class
	}
	return dmtfURI + class
}

// epr is a WS-Management endpoint reference: resource URI and selectors.
type epr struct {
	URI       string
	Selectors map[string]string
}

func (e epr) class() string { return e.URI[strings.LastIndex(e.URI, "/")+1:] }

// xml writes the EPR's content (address and reference parameters).
func (e epr) xml(addr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<wsa:Address>http://%s/wsman</wsa:Address><wsa:ReferenceParameters><wsman:ResourceURI>%s</wsman:ResourceURI><wsman:SelectorSet>`, addr, e.URI)
	for k, v := range e.Selectors {
		fmt.Fprintf(&b, `<wsman:Selector Name="%s">%s</wsman:Selector>`, k, xmlEsc(v))
	}
	b.WriteString(`</wsman:SelectorSet></wsa:ReferenceParameters>`)
	return b.String()
}

func xmlEsc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// wsmanClient posts envelopes to a server's /wsman.
type wsmanClient struct {
	t    testing.TB
	addr string
	http *http.Client
}

func (c *wsmanClient) post(action string, target epr, header, body string) string {
	c.t.Helper()
	var id [16]byte
	rand.Read(id[:])
	var sel strings.Builder
	if len(target.Selectors) > 0 {
		sel.WriteString("<wsman:SelectorSet>")
		for k, v := range target.Selectors {
			fmt.Fprintf(&sel, `<wsman:Selector Name="%s">%s</wsman:Selector>`, k, xmlEsc(v))
		}
		sel.WriteString("</wsman:SelectorSet>")
	}
	env := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+
		`<s:Envelope xmlns:s="%s" xmlns:wsa="%s" xmlns:wsman="%s" xmlns:wsen="%s" xmlns:wsmb="%s" xmlns:xsi="%s">`+
		`<s:Header><wsa:To s:mustUnderstand="true">http://%s/wsman</wsa:To>`+
		`<wsman:ResourceURI s:mustUnderstand="true">%s</wsman:ResourceURI>`+
		`<wsa:ReplyTo><wsa:Address s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>`+
		`<wsa:Action s:mustUnderstand="true">%s</wsa:Action>`+
		`<wsa:MessageID s:mustUnderstand="true">uuid:%x-%x-%x-%x-%x</wsa:MessageID>%s`+
		`<wsman:OperationTimeout>PT90S</wsman:OperationTimeout>%s</s:Header><s:Body>%s</s:Body></s:Envelope>`,
		nsSOAP, nsWSA, nsWSMAN, nsWSEN, nsWSMB, nsXSI, c.addr, target.URI, action, id[0:4], id[4:6], id[6:8], id[8:10], id[10:], sel.String(), header, body)
	req, err := http.NewRequest("POST", "http://"+c.addr+"/wsman", strings.NewReader(env))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	req.SetBasicAuth(virtUser, virtPass)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s on %s: HTTP %d\n%s\nrequest:\n%s", action, target.URI, resp.StatusCode, out, env)
	}
	return string(out)
}

// get fetches an instance and returns its properties (last value of each).
func (c *wsmanClient) get(e epr) map[string]string {
	c.t.Helper()
	return elements(c.post("http://schemas.xmlsoap.org/ws/2004/09/transfer/Get", e, "", ""))
}

var (
	elementRE  = regexp.MustCompile(`<p:(\w+)(?: [^>]*)?>([^<]*)</p:\w+>`)
	eprBlockRE = regexp.MustCompile(`(?s)<wsa:ReferenceParameters>(.*?)</wsa:ReferenceParameters>`)
	uriRE      = regexp.MustCompile(`<wsman:ResourceURI>([^<]*)</wsman:ResourceURI>`)
	selectorRE = regexp.MustCompile(`<wsman:Selector Name="([^"]+)">([^<]*)</wsman:Selector>`)
)

// elements reads the simple property elements of an answer.
func elements(body string) map[string]string {
	out := map[string]string{}
	for _, m := range elementRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	return out
}

// eprs reads every endpoint reference of an answer.
func eprs(body string) []epr {
	var out []epr
	for _, m := range eprBlockRE.FindAllStringSubmatch(body, -1) {
		e := epr{Selectors: map[string]string{}}
		if u := uriRE.FindStringSubmatch(m[1]); u != nil {
			e.URI = u[1]
		}
		for _, s := range selectorRE.FindAllStringSubmatch(m[1], -1) {
			e.Selectors[s[1]] = html.UnescapeString(s[2])
		}
		out = append(out, e)
	}
	return out
}

// associated enumerates the EPRs of the instances associated with e.
func (c *wsmanClient) associated(e epr, assocClass string) []epr {
	c.t.Helper()
	ns := e.Selectors["__cimnamespace"]
	if ns == "" {
		ns = "root/virt"
	}
	body := `<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1000</wsman:MaxElements>` +
		`<wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode>` +
		`<wsman:Filter Dialect="http://schemas.dmtf.org/wbem/wsman/1/cimbinding/associationFilter"><wsmb:AssociatedInstances><wsmb:Object>` +
		e.xml(c.addr) + `</wsmb:Object><wsmb:AssociationClassName>` + assocClass + `</wsmb:AssociationClassName></wsmb:AssociatedInstances></wsman:Filter></wsen:Enumerate>`
	out := c.post("http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate",
		epr{URI: "http://schemas.dmtf.org/wbem/wscim/1/*", Selectors: map[string]string{"__cimnamespace": ns}}, "", body)
	if !strings.Contains(out, "EndOfSequence") {
		c.t.Fatalf("the association enumeration did not end in one answer:\n%s", out)
	}
	return eprs(out)
}

// enumerate lists the EPRs of a class's instances in root/virt.
func (c *wsmanClient) enumerate(class string) []epr {
	c.t.Helper()
	out := c.post("http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate", epr{URI: classURI(class)}, "",
		`<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>1000</wsman:MaxElements><wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode></wsen:Enumerate>`)
	return eprs(out)
}

// invoke calls a method; params are the parameter elements' content.
func (c *wsmanClient) invoke(target epr, method string, params ...[2]string) (rc string, out string) {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `<p:%s_INPUT xmlns:p="%s">`, method, target.URI)
	for _, p := range params {
		fmt.Fprintf(&b, `<p:%s>%s</p:%s>`, p[0], p[1], p[0])
	}
	fmt.Fprintf(&b, `</p:%s_INPUT>`, method)
	out = c.post(target.URI+"/"+method, target, "", b.String())
	m := regexp.MustCompile(`<p:ReturnValue>(\d+)</p:ReturnValue>`).FindStringSubmatch(out)
	if m == nil {
		c.t.Fatalf("%s: no ReturnValue:\n%s", method, out)
	}
	return m[1], out
}

// wsEmbedded writes an embedded instance as a parameter's content.
func wsEmbedded(class string, ps ...prop) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<q:%s xmlns:q="%s" xsi:type="q:%s_Type">`, class, classURI(class), class)
	for _, p := range ps {
		for _, v := range p.values {
			fmt.Fprintf(&b, `<q:%s>%s</q:%s>`, p.name, xmlEsc(v), p.name)
		}
	}
	fmt.Fprintf(&b, `</q:%s>`, class)
	return b.String()
}

// waitWSJob polls a job with Get until it completes.
func (c *wsmanClient) waitJob(job epr) {
	c.t.Helper()
	deadline := time.Now().Add(virtTimeout)
	for {
		j := c.get(job)
		switch j["JobState"] {
		case "7":
			return
		case "8", "9", "10":
			c.t.Fatalf("job %v: %v", job.Selectors, j)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("job %v still running", job.Selectors)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finish accepts 0, or waits for the job of a 4096.
func (c *wsmanClient) finish(what, rc, out string) {
	c.t.Helper()
	switch rc {
	case "0":
	case "4096":
		for _, e := range eprs(out) {
			if e.class() == "HC_ConcreteJob" {
				c.waitJob(e)
				return
			}
		}
		c.t.Fatalf("%s: 4096 without a job:\n%s", what, out)
	default:
		c.t.Fatalf("%s: %s\n%s", what, rc, out)
	}
}

// runWsl runs a wsl command against the server.
func (s *virtServer) runWsl(wsAddr string, args ...string) string {
	s.t.Helper()
	dir := s.t.TempDir()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "WSENDPOINT=" + wsAddr, "WSUSER=" + virtUser,
		"WSPASS=" + virtPass, "WSNOSSL=true", "KEEPHISTORY=0", "WSAUTOMATED=1", "WSDEFAULTSCHEMA=schemas.hypercim.org"}
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "_OUTPUT") {
		s.t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(string(out), "")
}

// TestVirtWSMan runs the acceptance scenario through WS-Management: wsl
// for enumeration, Get and RequestStateChange, envelopes for the methods
// that take embedded instances and references.
func TestVirtWSMan(t *testing.T) {
	if _, err := exec.LookPath("wsl"); err != nil {
		t.Fatal("wsl is not installed (scripts/install-deps.sh installs it)")
	}
	wsAddr, err := daemon.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := newVirtServer(t, "--wsman-http", wsAddr)
	c := &wsmanClient{t: t, addr: wsAddr, http: &http.Client{Timeout: virtTimeout}}

	// Discovery through root/interop.
	var sv epr
	out := c.post("http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate",
		epr{URI: classURI("CIM_RegisteredProfile"), Selectors: map[string]string{"__cimnamespace": "root/interop"}}, "",
		`<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>100</wsman:MaxElements><wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode></wsen:Enumerate>`)
	for _, e := range eprs(out) {
		if strings.Contains(e.Selectors["InstanceID"], "SystemVirtualization") {
			sv = e
		}
	}
	if sv.URI == "" {
		t.Fatalf("no System Virtualization profile:\n%s", out)
	}
	hosts := c.associated(sv, "CIM_ElementConformsToProfile")
	if len(hosts) != 1 || hosts[0].class() != "HC_HostSystem" {
		t.Fatalf("central instances: %v", hosts)
	}
	var vsms, snapsvc epr
	for _, e := range c.associated(hosts[0], "CIM_HostedService") {
		switch e.class() {
		case "HC_VirtualSystemManagementService":
			vsms = e
		case "HC_VirtualSystemSnapshotService":
			snapsvc = e
		}
	}
	if vsms.URI == "" || snapsvc.URI == "" {
		t.Fatal("no services found from the host")
	}

	// The default templates, by pool.
	templates := map[string]map[string]string{}
	for _, pool := range c.associated(hosts[0], "CIM_HostedResourcePool") {
		caps := c.associated(pool, "CIM_ElementCapabilities")
		if len(caps) != 1 {
			t.Fatalf("capabilities of %v: %v", pool.Selectors, caps)
		}
		for _, tpl := range c.associated(caps[0], "CIM_SettingsDefineCapabilities") {
			if strings.HasSuffix(tpl.Selectors["InstanceID"], "/default") {
				p := c.get(tpl)
				templates[p["ResourceType"]] = p
			}
		}
	}
	if len(templates) != 6 {
		t.Fatalf("default templates for %d resource types", len(templates))
	}
	fromTpl := func(rt string, edits ...prop) []prop {
		var ps []prop
		for _, name := range []string{"ResourceType", "PoolID", "AllocationUnits", "VirtualQuantity", "ImageFormat", "ImageSubformat"} {
			if v := templates[rt][name]; v != "" {
				ps = append(ps, pstr(name, v))
			}
		}
		for _, e := range edits {
			for i := range ps {
				if ps[i].name == e.name {
					ps[i] = e
				}
			}
			if !hasProp(ps, e.name) {
				ps = append(ps, e)
			}
		}
		return ps
	}
	guest := filepath.Join(s.bin, "hypercim-testguest")
	rc, out := c.invoke(vsms, "DefineSystem",
		[2]string{"SystemSettings", wsEmbedded("HC_VirtualSystemSettingData", pstr("ElementName", "over-wsman"),
			pstr("KernelPath", guest), pstr("KernelCommandLine", "testguest.interactive"))},
		[2]string{"ResourceSettings", wsEmbedded("CIM_ResourceAllocationSettingData", fromTpl("3", pstr("VirtualQuantity", "2"))...)},
		[2]string{"ResourceSettings", wsEmbedded("CIM_ResourceAllocationSettingData", fromTpl("4", pstr("VirtualQuantity", "64"))...)},
		[2]string{"ResourceSettings", wsEmbedded("CIM_ResourceAllocationSettingData", fromTpl("17")...)},
		[2]string{"ResourceSettings", wsEmbedded("HC_StorageAllocationSettingData", fromTpl("31", pstr("VirtualQuantity", fmt.Sprint(64<<20)))...)},
		[2]string{"ResourceSettings", wsEmbedded("CIM_ResourceAllocationSettingData", fromTpl("10")...)},
		[2]string{"ResourceSettings", wsEmbedded("CIM_EthernetPortAllocationSettingData", fromTpl("33")...)})
	if rc != "0" {
		t.Fatalf("DefineSystem: %s\n%s", rc, out)
	}
	var vm epr
	for _, e := range eprs(out) {
		if e.class() == "HC_ComputerSystem" {
			vm = e
		}
	}
	uuid := vm.Selectors["Name"]
	state := func(want string) {
		t.Helper()
		if got := c.get(vm)["EnabledState"]; got != want {
			t.Fatalf("EnabledState %s, want %s", got, want)
		}
		devs := c.associated(vm, "CIM_SystemDevice")
		if len(devs) < 5 {
			t.Fatalf("devices: %v", devs)
		}
	}
	state("3")
	if n := len(c.associated(c.associated(vm, "CIM_SettingsDefineState")[0], "CIM_VirtualSystemSettingDataComponent")); n != 6 {
		t.Fatalf("%d allocations", n)
	}

	// wsl: enumerate, get and start (asynchronously: 4096 and a job).
	if got := s.runWsl(wsAddr, "wslenum", "HC_ComputerSystem"); !strings.Contains(got, "<p:ElementName>over-wsman</p:ElementName>") {
		t.Fatalf("wslenum:\n%s", got)
	}
	filter := "select * from HC_ComputerSystem where Name='" + uuid + "'"
	got := s.runWsl(wsAddr, "wslinvoke", "HC_ComputerSystem", "RequestStateChange", "RequestedState=2", "-filter", filter)
	if !strings.Contains(got, "<p:ReturnValue>4096</p:ReturnValue>") {
		t.Fatalf("wslinvoke start:\n%s", got)
	}
	for _, e := range eprs(got) {
		if e.class() == "HC_ConcreteJob" {
			c.waitJob(e)
		}
	}
	state("2")
	con := s.console(uuid)
	if line := con.expect("testguest: cpus="); line != "testguest: cpus=2 disks=1" {
		t.Fatalf("guest: %q", line)
	}
	con.expect("testguest: ready")
	con.cmd("write 0 1 before-snapshot", "")
	for _, to := range []string{"9", "2"} {
		got := s.runWsl(wsAddr, "wslinvoke", "HC_ComputerSystem", "RequestStateChange", "RequestedState="+to, "-filter", filter)
		if !strings.Contains(got, "<p:ReturnValue>0</p:ReturnValue>") {
			t.Fatalf("RequestStateChange(%s):\n%s", to, got)
		}
		state(map[string]string{"9": "9", "2": "2"}[to])
	}
	if got := s.runWsl(wsAddr, "wslget", "HC_ComputerSystem", "CreationClassName=HC_ComputerSystem", "Name="+uuid); !strings.Contains(got, "<p:EnabledState>2</p:EnabledState>") {
		t.Fatalf("wslget:\n%s", got)
	}

	// Snapshot, write, apply.
	rc, out = c.invoke(snapsvc, "CreateSnapshot", [2]string{"AffectedSystem", vm.xml(wsAddr)}, [2]string{"SnapshotType", "2"})
	c.finish("CreateSnapshot", rc, out)
	snaps := c.associated(vm, "CIM_SnapshotOfVirtualSystem")
	if len(snaps) != 1 {
		t.Fatalf("snapshots: %v", snaps)
	}
	con.cmd("write 0 1 after-snapshot", "")
	rc, out = c.invoke(snapsvc, "ApplySnapshot", [2]string{"Snapshot", snaps[0].xml(wsAddr)})
	c.finish("ApplySnapshot", rc, out)
	state("2")
	if line := con.cmd("read 0 1", "crc="); !strings.Contains(line, hexOf("before-snapshot")) {
		t.Fatalf("after ApplySnapshot: %q", line)
	}
	if got := c.associated(vm, "CIM_LastAppliedSnapshot"); len(got) != 1 {
		t.Fatalf("last applied: %v", got)
	}

	// Hot-plug a disk.
	vssd := c.associated(vm, "CIM_SettingsDefineState")[0]
	rc, out = c.invoke(vsms, "AddResourceSettings", [2]string{"AffectedConfiguration", vssd.xml(wsAddr)},
		[2]string{"ResourceSettings", wsEmbedded("CIM_StorageAllocationSettingData", fromTpl("31", pstr("VirtualQuantity", fmt.Sprint(32<<20)))...)})
	if rc != "0" {
		t.Fatalf("AddResourceSettings: %s\n%s", rc, out)
	}
	if line := con.cmd("rescan", "disks="); !strings.HasPrefix(line, "disks=2") {
		t.Fatalf("after the hot-plug: %q", line)
	}

	// Memory while off.
	var mem epr
	for _, a := range c.associated(vssd, "CIM_VirtualSystemSettingDataComponent") {
		if strings.HasSuffix(a.Selectors["InstanceID"], "/mem") {
			mem = a
		}
	}
	change := [2]string{"ResourceSettings", wsEmbedded("HC_ResourceAllocationSettingData", pstr("InstanceID", mem.Selectors["InstanceID"]),
		pstr("ResourceType", "4"), pstr("VirtualQuantity", "96"))}
	if rc, out := c.invoke(vsms, "ModifyResourceSettings", change); rc != "5" || !strings.Contains(out, "stopped") {
		t.Fatalf("memory of a running system: %s\n%s", rc, out)
	}
	rc, out = c.invoke(vm, "RequestStateChange", [2]string{"RequestedState", "3"})
	c.finish("turn off", rc, out)
	state("3")
	if rc, out := c.invoke(vsms, "ModifyResourceSettings", change); rc != "0" {
		t.Fatalf("ModifyResourceSettings: %s\n%s", rc, out)
	}
	if got := c.get(mem)["VirtualQuantity"]; got != "96" {
		t.Fatalf("memory %s", got)
	}
	rc, out = c.invoke(vm, "RequestStateChange", [2]string{"RequestedState", "2"}, [2]string{"TimeoutPeriod", "PT90S"})
	c.finish("start", rc, out)
	con.expect("testguest: ready")
	if line := con.cmd("mem", "ram="); ramMiB(line) < 90 || ramMiB(line) > 96 {
		t.Fatalf("guest memory %q", line)
	}

	// Reboot, shutdown, destroy.
	rc, out = c.invoke(vm, "RequestStateChange", [2]string{"RequestedState", "10"})
	c.finish("reboot", rc, out)
	con.expect("testguest: ready")
	state("2")
	rc, out = c.invoke(vm, "RequestStateChange", [2]string{"RequestedState", "4"})
	c.finish("shutdown", rc, out)
	state("3")
	rc, out = c.invoke(vsms, "DestroySystem", [2]string{"AffectedSystem", vm.xml(wsAddr)})
	if rc != "0" {
		t.Fatalf("DestroySystem: %s\n%s", rc, out)
	}
	if got := c.enumerate("HC_ComputerSystem"); len(got) != 0 {
		t.Fatalf("systems left: %v", got)
	}
}

func hasProp(ps []prop, name string) bool {
	for _, p := range ps {
		if p.name == name {
			return true
		}
	}
	return false
}
