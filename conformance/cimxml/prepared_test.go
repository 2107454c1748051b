package cimxml

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hypercim/hypercim/conformance/internal/daemon"
	"github.com/hypercim/hypercim/wbem/auth"
)

// The benchmarks' prepared instances (--test-provider-prepared) are shared
// by every request: they must come out as the generating provider makes
// them, and stay so when requests filter them or run at the same time.
func TestPreparedInstances(t *testing.T) {
	const count, payload = 2000, 300
	dir := t.TempDir()
	users, err := auth.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.AddUser(adminUser, adminPass, auth.UserOptions{Admin: true}); err != nil {
		t.Fatal(err)
	}
	addr, err := daemon.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(daemon.Options{Hypercimd: srv.bins.Hypercimd, DataDir: dir, CIMXMLHTTP: addr,
		Args: []string{"--hypervisor", "none", "--test-provider", "root/test",
			"--test-provider-gen", strconv.Itoa(count), "--test-provider-payload", strconv.Itoa(payload), "--test-provider-prepared"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(30 * time.Second); err != nil {
			t.Errorf("%v\n%s", err, d.Log.Tail(4<<10))
		}
	})
	c := &client{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}, url: "http://" + addr + "/cimom"}
	enumerate := func(t *testing.T, params string) []byte {
		return c.call(t, "EnumerateInstances", iparam("ClassName", `<CLASSNAME NAME="T_Gen"/>`)+params)
	}

	all := enumerate(t, iparam("LocalOnly", value("FALSE")))
	validateDTD(t, all)
	elems := regexp.MustCompile(`<VALUE.NAMEDINSTANCE>.*?</VALUE.NAMEDINSTANCE>`).FindAll(all, -1)
	if len(elems) != count {
		t.Fatalf("%d instances, want %d", len(elems), count)
	}
	for i, e := range elems {
		id := fmt.Sprintf("g%07d", i)
		want := []string{`<KEYVALUE VALUETYPE="string" TYPE="string">` + id + `</KEYVALUE>`,
			`<PROPERTY NAME="Count" TYPE="uint32"><VALUE>` + strconv.Itoa(i) + `</VALUE>`,
			`<VALUE>` + strings.Repeat(string(rune('a'+i%26)), payload) + `</VALUE>`}
		for _, w := range want {
			if !bytes.Contains(e, []byte(w)) {
				t.Fatalf("instance %d lacks %s:\n%s", i, w, e)
			}
		}
	}

	// A filtered enumeration gets copies; the shared instances keep all
	// their properties.
	filtered := enumerate(t, iparam("LocalOnly", value("FALSE"))+iparam("PropertyList", `<VALUE.ARRAY><VALUE>Count</VALUE></VALUE.ARRAY>`))
	if n := bytes.Count(filtered, []byte(`<PROPERTY NAME="Count"`)); n != count || bytes.Contains(filtered, []byte(`NAME="Payload"`)) {
		t.Errorf("PropertyList=Count: %d Count properties, Payload present: %v\n%.600s", n, bytes.Contains(filtered, []byte(`NAME="Payload"`)), filtered)
	}
	var wg sync.WaitGroup
	bodies := make([][]byte, 4)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", c.url, strings.NewReader(intrinsicBody("EnumerateInstances", "root/test",
				iparam("ClassName", `<CLASSNAME NAME="T_Gen"/>`)+iparam("LocalOnly", value("FALSE")))))
			req.SetBasicAuth(adminUser, adminPass)
			req.Header.Set("Content-Type", "application/xml")
			req.Header.Set("CIMOperation", "MethodCall")
			req.Header.Set("CIMMethod", "EnumerateInstances")
			req.Header.Set("CIMObject", "root/test")
			if resp, err := c.http.Do(req); err == nil {
				bodies[i], _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for i, b := range bodies {
		if !bytes.Equal(b, all) {
			t.Errorf("concurrent enumeration %d differs from the first (%d bytes, want %d)", i, len(b), len(all))
		}
	}

	got := c.call(t, "GetInstance", iparam("InstanceName", `<INSTANCENAME CLASSNAME="T_Gen"><KEYBINDING NAME="Id"><KEYVALUE VALUETYPE="string">g0000007</KEYVALUE></KEYBINDING></INSTANCENAME>`)+
		iparam("LocalOnly", value("FALSE")))
	inst := regexp.MustCompile(`<INSTANCE .*?</INSTANCE>`)
	if g, w := inst.Find(got), inst.Find(elems[7]); g == nil || !bytes.Equal(g, w) {
		t.Errorf("GetInstance g0000007:\n%s\nEnumerateInstances gave:\n%s", g, w)
	}
	missing := c.call(t, "GetInstance", iparam("InstanceName", `<INSTANCENAME CLASSNAME="T_Gen"><KEYBINDING NAME="Id"><KEYVALUE VALUETYPE="string">g9999999</KEYVALUE></KEYBINDING></INSTANCENAME>`))
	if code := errorCode(missing); code != "6" {
		t.Errorf("GetInstance of a missing instance: CODE %q, want 6 (CIM_ERR_NOT_FOUND)", code)
	}
}
