package cimxml

import (
	"regexp"
	"testing"
)

// GetInstance and EnumerateInstances accept LocalOnly but do not honour
// it, as OpenPegasus and SFCB (DSP0200 deprecated it for instances): a
// request without it, whose DSP0200 default is TRUE, gets the inherited
// properties its PropertyList names, here those HC_RegisteredProfile
// inherits from CIM_RegisteredProfile.
func TestLocalOnlyIgnoredForInstances(t *testing.T) {
	call := func(method, params string) []byte {
		t.Helper()
		r, err := rawRequest(t, "", cimRequest(method, "root%2Finterop", intrinsicBody(method, "root/interop", params)))
		if err != nil || r.StatusCode != 200 || errorCode(r.body) != "" {
			t.Fatalf("%s: %v %v\n%s", method, r, err, r.body)
		}
		validateDTD(t, r.body)
		return r.body
	}
	names := call("EnumerateInstanceNames", iparam("ClassName", `<CLASSNAME NAME="HC_RegisteredProfile"/>`))
	name := regexp.MustCompile(`<INSTANCENAME CLASSNAME="HC_RegisteredProfile">.*?</INSTANCENAME>`).Find(names)
	if name == nil {
		t.Fatalf("no HC_RegisteredProfile:\n%s", names)
	}
	props := iparam("PropertyList", `<VALUE.ARRAY><VALUE>RegisteredName</VALUE><VALUE>RegisteredOrganization</VALUE></VALUE.ARRAY>`)
	// The properties come in the order the class declares them.
	want := regexp.MustCompile(`<INSTANCE CLASSNAME="HC_RegisteredProfile"><PROPERTY NAME="RegisteredOrganization" TYPE="uint16"><VALUE>\d+</VALUE></PROPERTY><PROPERTY NAME="RegisteredName" TYPE="string"><VALUE>[^<]+</VALUE></PROPERTY></INSTANCE>`)
	for _, localOnly := range []string{"", iparam("LocalOnly", value("TRUE"))} {
		if got := call("GetInstance", iparam("InstanceName", string(name))+props+localOnly); !want.Match(got) {
			t.Errorf("GetInstance with PropertyList and LocalOnly %q:\n%s", localOnly, got)
		}
		if got := call("EnumerateInstances", iparam("ClassName", `<CLASSNAME NAME="HC_RegisteredProfile"/>`)+props+localOnly); !want.Match(got) {
			t.Errorf("EnumerateInstances with PropertyList and LocalOnly %q:\n%s", localOnly, got)
		}
	}
}
