package wsmanconformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// TestAMTMessageBuilderVirt sends envelopes built by the npm package for
// hypercim's own classes on a server running the KVM engine: Get,
// Enumerate and Pull of HC_HostSystem, HC_ComputerSystem and
// CIM_ComputerSystem in root/virt and of CIM_RegisteredProfile in
// root/interop, and RequestStateChange on a virtual system defined
// through the CIM API, which then runs.
func TestAMTMessageBuilderVirt(t *testing.T) {
	dir := installWSManMessages(t)
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skip("no /dev/kvm on this host: the KVM engine cannot run")
	}
	boot := t.TempDir()
	mk := exec.Command("make", "-s", "-C", filepath.Join(bins.root, "hypervisor", "testguest"), "OUT="+filepath.Join(boot, "hypercim-testguest"))
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("building the test guest: %v\n%s", err, out)
	}
	s := startServerWith(t, serverOptions{genCount: 3, genPayload: 16, shortDataDir: true,
		args: []string{"--hypervisor", "kvm", "--virt-boot-dir", boot}})
	vm := defineVM(t, s, filepath.Join(boot, "hypercim-testguest"))

	const hc = "HC_ComputerSystem"
	get := map[string]any{"kind": "get"}
	enum := map[string]any{"kind": "enumerate"}
	interop := sels("__cimnamespace", "root/interop")
	envs := buildWithNPM(t, dir, []npmMessage{
		npmMsg("enumerate-hosts", actEnumerate, vendorPrefix, "HC_HostSystem", nil, enum),
		npmMsg("enumerate-systems", actEnumerate, dmtfPrefix, "CIM_ComputerSystem", nil, enum),
		npmMsg("enumerate-vms", actEnumerate, vendorPrefix, hc, nil, enum),
		npmMsg("enumerate-profiles", actEnumerate, dmtfPrefix, "CIM_RegisteredProfile", interop, enum),
		npmMsg("get-vm", actGet, vendorPrefix, hc, sels("CreationClassName", hc, "Name", vm), get),
		npmMsg("get-vm-as-cim", actGet, dmtfPrefix, "CIM_ComputerSystem", sels("CreationClassName", hc, "Name", vm), get),
		npmMsg("start", vendorPrefix+hc+"/RequestStateChange", vendorPrefix, hc, sels("CreationClassName", hc, "Name", vm), map[string]any{"kind": "rsc", "state": 2}),
		npmMsg("start-unknown", vendorPrefix+hc+"/RequestStateChange", vendorPrefix, hc, sels("CreationClassName", hc, "Name", "00000000-0000-0000-0000-000000000000"), map[string]any{"kind": "rsc", "state": 2}),
	})
	expect := func(name, want string, check func(string) bool) string {
		t.Helper()
		return sendNPM(t, s, name, envs[name], want, check)
	}
	// pullAll pulls an enumeration the package opened, with a Pull the
	// package builds, and returns the items of the one PullResponse.
	pullAll := func(name, base, class string, selectors []npmSelector) []*etree.Element {
		t.Helper()
		ctx := text(parse(t, expect(name, "200", nil)), "//EnumerateResponse/EnumerationContext")
		if ctx == "" {
			t.Fatalf("%s: no enumeration context", name)
		}
		pull := buildWithNPM(t, dir, []npmMessage{npmMsg("pull", actPull, base, class, selectors, map[string]any{"kind": "pull", "context": ctx})})
		d := parse(t, sendNPM(t, s, name+" pull", pull["pull"], "200", nil))
		if d.FindElement("//PullResponse/EndOfSequence") == nil || d.FindElement("//PullResponse/EnumerationContext") != nil {
			t.Errorf("%s: the Pull of 999 did not end the enumeration", name)
		}
		return d.FindElements("//PullResponse/Items/*")
	}
	tags := func(items []*etree.Element) string {
		var out []string
		for _, i := range items {
			out = append(out, i.Tag+"="+prop(i, "Name"))
		}
		return strings.Join(out, " ")
	}

	hosts := pullAll("enumerate-hosts", vendorPrefix, "HC_HostSystem", nil)
	if len(hosts) != 1 || hosts[0].Tag != "HC_HostSystem" || prop(hosts[0], "Name") == "" {
		t.Fatalf("HC_HostSystem: %s", tags(hosts))
	}
	host := prop(hosts[0], "Name")
	getHost := buildWithNPM(t, dir, []npmMessage{npmMsg("get-host", actGet, vendorPrefix, "HC_HostSystem", sels("CreationClassName", "HC_HostSystem", "Name", host), get)})
	sendNPM(t, s, "get-host", getHost["get-host"], "200", contains("<p:Name>"+host+"</p:Name>", "<p:CreationClassName>HC_HostSystem</p:CreationClassName>"))

	// CIM_ComputerSystem holds the host and the virtual system, each in
	// its own class; HC_ComputerSystem only the virtual system.
	if got, want := tags(pullAll("enumerate-systems", dmtfPrefix, "CIM_ComputerSystem", nil)), "HC_HostSystem="+host+" HC_ComputerSystem="+vm; !sameWords(got, want) {
		t.Errorf("CIM_ComputerSystem: %s, want %s", got, want)
	}
	if got := tags(pullAll("enumerate-vms", vendorPrefix, hc, nil)); got != hc+"="+vm {
		t.Errorf("HC_ComputerSystem: %s", got)
	}

	// The registered profiles of root/interop, and one of them by its key
	// and the class the answer names.
	var profileID, profileClass string
	profiles := pullAll("enumerate-profiles", dmtfPrefix, "CIM_RegisteredProfile", interop)
	for _, p := range profiles {
		if prop(p, "RegisteredName") == "System Virtualization" {
			profileID, profileClass = prop(p, "InstanceID"), p.Tag
		}
	}
	if profileID == "" || profileClass != "HC_RegisteredProfile" {
		t.Fatalf("no System Virtualization profile among %d registered profiles (%s)", len(profiles), profileClass)
	}
	getProfile := buildWithNPM(t, dir, []npmMessage{npmMsg("get-profile", actGet, vendorPrefix, profileClass, sels("__cimnamespace", "root/interop", "InstanceID", profileID), get)})
	sendNPM(t, s, "get-profile", getProfile["get-profile"], "200", contains("<p:RegisteredName>System Virtualization</p:RegisteredName>", "<p:RegisteredVersion>"))

	// The virtual system, defined and stopped, then started by the
	// package's RequestStateChange: 0, or 4096 with a job that completes.
	expect("get-vm", "200", contains("<p:ElementName>npm-vm</p:ElementName>", "<p:EnabledState>3</p:EnabledState>"))
	expect("get-vm-as-cim", "200", contains("<p:Name>"+vm+"</p:Name>"))
	expect("start-unknown", "400 wsa:DestinationUnreachable", nil)
	d := parse(t, expect("start", "200", contains("<p:RequestStateChange_OUTPUT")))
	switch rc := text(d, "//RequestStateChange_OUTPUT/ReturnValue"); rc {
	case "0":
	case "4096":
		job := d.FindElement("//RequestStateChange_OUTPUT/Job")
		if job == nil {
			t.Fatal("RequestStateChange answered 4096 without a Job")
		}
		waitJob(t, s, job)
	default:
		t.Fatalf("RequestStateChange(2) returned %s", rc)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, raw := s.post(t, envs["get-vm"])
		state := text(parse(t, raw), "//Body/HC_ComputerSystem/EnabledState")
		if state == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("EnabledState %s a minute after RequestStateChange(2):\n%s", state, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// prop returns the text of an instance's property element.
func prop(inst *etree.Element, name string) string {
	if p := inst.FindElement(name); p != nil {
		return strings.TrimSpace(p.Text())
	}
	return ""
}

// sameWords reports whether two space-separated lists hold the same words
// in any order.
func sameWords(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	if len(x) != len(y) {
		return false
	}
	seen := map[string]int{}
	for _, w := range x {
		seen[w]++
	}
	for _, w := range y {
		if seen[w]--; seen[w] < 0 {
			return false
		}
	}
	return true
}

// defineVM defines a virtual system booting kernel through
// HC_VirtualSystemManagementService.DefineSystem and returns its Name.
func defineVM(t *testing.T, s *server, kernel string) string {
	t.Helper()
	services := enumerate(t, s, vendorPrefix+"HC_VirtualSystemManagementService", "", `<wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode>`, 10)
	if len(services) != 1 {
		t.Fatalf("%d HC_VirtualSystemManagementService instances", len(services))
	}
	var keys []string
	for _, sel := range services[0].FindElements(".//SelectorSet/Selector") {
		keys = append(keys, sel.SelectAttrValue("Name", ""), strings.TrimSpace(sel.Text()))
	}
	const vsms = vendorPrefix + "HC_VirtualSystemManagementService"
	const vssd = vendorPrefix + "HC_VirtualSystemSettingData"
	body := `<p:DefineSystem_INPUT xmlns:p="` + vsms + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><p:SystemSettings>` +
		`<q:HC_VirtualSystemSettingData xmlns:q="` + vssd + `" xsi:type="q:HC_VirtualSystemSettingData_Type">` +
		`<q:ElementName>npm-vm</q:ElementName><q:KernelPath>` + kernel + `</q:KernelPath>` +
		`<q:KernelCommandLine>testguest.interactive</q:KernelCommandLine></q:HC_VirtualSystemSettingData></p:SystemSettings></p:DefineSystem_INPUT>`
	st, raw := s.post(t, soap(vsms+"/DefineSystem", vsms, selectorSet(keys...), body))
	d := parse(t, raw)
	if st != 200 || text(d, "//DefineSystem_OUTPUT/ReturnValue") != "0" {
		t.Fatalf("DefineSystem: %d\n%.3000s", st, raw)
	}
	for _, sel := range d.FindElements("//DefineSystem_OUTPUT/ResultingSystem//Selector") {
		if sel.SelectAttrValue("Name", "") == "Name" {
			return strings.TrimSpace(sel.Text())
		}
	}
	t.Fatalf("DefineSystem returned no ResultingSystem:\n%.3000s", raw)
	return ""
}

// waitJob polls the job an EPR names until it completes.
func waitJob(t *testing.T, s *server, epr *etree.Element) {
	t.Helper()
	uri := ""
	if u := epr.FindElement(".//ResourceURI"); u != nil {
		uri = strings.TrimSpace(u.Text())
	}
	var keys []string
	for _, sel := range epr.FindElements(".//SelectorSet/Selector") {
		keys = append(keys, sel.SelectAttrValue("Name", ""), strings.TrimSpace(sel.Text()))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, raw := s.post(t, soap(actGet, uri, selectorSet(keys...), ""))
		if st != 200 {
			t.Fatalf("Get of the job: %d\n%.2000s", st, raw)
		}
		switch state := text(parse(t, raw), "//JobState"); state {
		case "7":
			return
		case "8", "9", "10":
			t.Fatalf("the job ended in state %s:\n%.2000s", state, raw)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job has not completed after a minute:\n%.2000s", raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
