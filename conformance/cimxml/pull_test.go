package cimxml

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// client posts CIM-XML operations over one keep-alive connection pool.
type client struct {
	http *http.Client
	url  string
}

func newClient() *client {
	return &client{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}, url: "http://" + srv.httpAddr + "/cimom"}
}

// call runs an intrinsic operation in root/test and returns the body of
// its (HTTP 200) response.
func (c *client) call(t testing.TB, method, params string) []byte {
	t.Helper()
	req, err := http.NewRequest("POST", c.url, strings.NewReader(intrinsicBody(method, "root/test", params)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(adminUser, adminPass)
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	req.Header.Set("CIMOperation", "MethodCall")
	req.Header.Set("CIMMethod", method)
	req.Header.Set("CIMObject", "root%2Ftest")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d, %v\n%.500s", method, resp.StatusCode, err, body)
	}
	return body
}

var (
	keyRE        = regexp.MustCompile(`<KEYBINDING NAME="Id"><KEYVALUE VALUETYPE="string" TYPE="string">([^<]*)</KEYVALUE>`)
	countRE      = regexp.MustCompile(`<PROPERTY NAME="Count" TYPE="uint32"><VALUE>(\d+)</VALUE>`)
	enumCtxRE    = regexp.MustCompile(`<PARAMVALUE NAME="EnumerationContext" PARAMTYPE="string"><VALUE>([^<]*)</VALUE>`)
	endOfSeqRE   = regexp.MustCompile(`<PARAMVALUE NAME="EndOfSequence" PARAMTYPE="boolean"><VALUE>(TRUE|FALSE)</VALUE>`)
	instanceOpen = []byte(`<INSTANCE `)
)

// instances maps each instance's Id to a digest of its INSTANCE element
// and records its Count property.
type instances struct {
	digest map[string][32]byte
	count  map[string]int
}

func newInstances() *instances {
	return &instances{digest: map[string][32]byte{}, count: map[string]int{}}
}

// addResults records the instances of a response whose results are
// wrapper elements (VALUE.NAMEDINSTANCE or VALUE.INSTANCEWITHPATH) holding
// a path then an INSTANCE.
func (s *instances) addResults(t testing.TB, body []byte, wrapper string) {
	t.Helper()
	open, closing := []byte("<"+wrapper+">"), []byte("</"+wrapper+">")
	for {
		i := bytes.Index(body, open)
		if i < 0 {
			return
		}
		j := bytes.Index(body[i:], closing)
		if j < 0 {
			t.Fatalf("unterminated %s", wrapper)
		}
		item := body[i : i+j]
		body = body[i+j+len(closing):]
		m := keyRE.FindSubmatch(item)
		k := bytes.Index(item, instanceOpen)
		if m == nil || k < 0 {
			t.Fatalf("result without Id or INSTANCE: %.300s", item)
		}
		id := string(m[1])
		if _, dup := s.digest[id]; dup {
			t.Fatalf("instance %s returned twice", id)
		}
		s.digest[id] = sha256.Sum256(item[k:])
		if c := countRE.FindSubmatch(item[k:]); c != nil {
			s.count[id], _ = strconv.Atoi(string(c[1]))
		}
	}
}

// paths returns the Ids of the instance names in a response.
func paths(body []byte) []string {
	var ids []string
	for _, m := range keyRE.FindAllSubmatch(body, -1) {
		ids = append(ids, string(m[1]))
	}
	return ids
}

// pullState reads EnumerationContext and EndOfSequence.
func pullState(t testing.TB, body []byte) (ctx string, eos bool) {
	t.Helper()
	c, e := enumCtxRE.FindSubmatch(body), endOfSeqRE.FindSubmatch(body)
	if c == nil || e == nil {
		t.Fatalf("no enumeration state in:\n%.1000s", lastBytes(string(body), 1000))
	}
	return string(c[1]), string(e[1]) == "TRUE"
}

func value(s string) string { return "<VALUE>" + s + "</VALUE>" }

const genClass = `<CLASSNAME NAME="T_Gen"/>`

// TestPullAgreesWithClassic enumerates the 100,000 T_Gen instances with
// the classic operations and with the pull operations and checks that
// both give the same instances, element for element; that FilterQuery
// selects exactly the instances the classic result says match; and that
// an enumeration closed early is gone.
func TestPullAgreesWithClassic(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 instances: not in -short mode")
	}
	c := newClient()

	classic := newInstances()
	body := c.call(t, "EnumerateInstances", iparam("ClassName", genClass)+iparam("LocalOnly", value("FALSE")))
	classic.addResults(t, body, "VALUE.NAMEDINSTANCE")
	if len(classic.digest) != genCount {
		t.Fatalf("EnumerateInstances returned %d instances, want %d", len(classic.digest), genCount)
	}
	if kb := len(body) / genCount; kb < 900 || kb > 1400 {
		t.Errorf("instances are %d bytes each, not about 1 KB", kb)
	}
	body = nil

	pulled := newInstances()
	body = c.call(t, "OpenEnumerateInstances", iparam("ClassName", genClass)+iparam("MaxObjectCount", value("7000")))
	for requests := 1; ; requests++ {
		pulled.addResults(t, body, "VALUE.INSTANCEWITHPATH")
		ctx, eos := pullState(t, body)
		if eos {
			break
		}
		if requests > genCount/7000+2 {
			t.Fatalf("the enumeration does not end after %d pulls", requests)
		}
		body = c.call(t, "PullInstancesWithPath", iparam("EnumerationContext", value(ctx))+iparam("MaxObjectCount", value("7000")))
	}
	if len(pulled.digest) != len(classic.digest) {
		t.Fatalf("pulled %d instances, classic %d", len(pulled.digest), len(classic.digest))
	}
	for id, d := range classic.digest {
		if pulled.digest[id] != d {
			t.Fatalf("instance %s differs between EnumerateInstances and the pull operations", id)
		}
	}

	// Paths.
	names := paths(c.call(t, "EnumerateInstanceNames", iparam("ClassName", genClass)))
	var pulledNames []string
	body = c.call(t, "OpenEnumerateInstancePaths", iparam("ClassName", genClass)+iparam("MaxObjectCount", value("30000")))
	for {
		pulledNames = append(pulledNames, paths(body)...)
		ctx, eos := pullState(t, body)
		if eos {
			break
		}
		body = c.call(t, "PullInstancePaths", iparam("EnumerationContext", value(ctx))+iparam("MaxObjectCount", value("30000")))
	}
	if !sameSet(names, pulledNames) || len(names) != genCount {
		t.Fatalf("EnumerateInstanceNames gave %d paths, the pull operations %d, not the same set", len(names), len(pulledNames))
	}

	// FilterQuery (DSP0212 FQL) against the classic result.
	want := map[string]bool{}
	for id, n := range classic.count {
		if n < 7 || n >= 99000 {
			want[id] = true
		}
	}
	filtered := newInstances()
	body = c.call(t, "OpenEnumerateInstances", iparam("ClassName", genClass)+
		iparam("FilterQueryLanguage", value("DMTF:FQL"))+iparam("FilterQuery", value("Count &lt; 7 OR Count &gt;= 99000"))+
		iparam("MaxObjectCount", value("500")))
	for {
		filtered.addResults(t, body, "VALUE.INSTANCEWITHPATH")
		ctx, eos := pullState(t, body)
		if eos {
			break
		}
		body = c.call(t, "PullInstancesWithPath", iparam("EnumerationContext", value(ctx))+iparam("MaxObjectCount", value("500")))
	}
	if len(filtered.digest) != len(want) || len(want) != 1007 {
		t.Fatalf("FilterQuery selected %d instances, the classic result has %d matching", len(filtered.digest), len(want))
	}
	for id, d := range filtered.digest {
		if !want[id] || classic.digest[id] != d {
			t.Fatalf("FilterQuery returned %s, which the classic result says does not match or differs", id)
		}
	}

	// Closed early: the context is gone, and the server answers at once.
	body = c.call(t, "OpenEnumerateInstances", iparam("ClassName", genClass)+iparam("MaxObjectCount", value("10")))
	ctx, eos := pullState(t, body)
	if eos || ctx == "" {
		t.Fatalf("an enumeration of %d instances ended after 10", genCount)
	}
	if n := bytes.Count(body, []byte("<VALUE.INSTANCEWITHPATH>")); n != 10 {
		t.Fatalf("Open with MaxObjectCount 10 returned %d", n)
	}
	// EnumerationCount succeeds: the number of results left, or NULL
	// while it is not known (DSP0200 5.3.2.39).
	checkEnumerationCount(t, c, ctx, genCount-10)
	if body := c.call(t, "CloseEnumeration", iparam("EnumerationContext", value(ctx))); errorCode(body) != "" {
		t.Fatalf("CloseEnumeration: %s", body)
	}
	body = c.call(t, "PullInstancesWithPath", iparam("EnumerationContext", value(ctx))+iparam("MaxObjectCount", value("10")))
	if got := errorCode(body); got != "21" {
		t.Fatalf("Pull after CloseEnumeration: error %q, want 21 (CIM_ERR_INVALID_ENUMERATION_CONTEXT)", got)
	}
	validateDTD(t, body)
}

// checkEnumerationCount runs EnumerationCount on an open enumeration with
// left results to come: it must succeed with that number or NULL (an
// empty IRETURNVALUE), and leave the enumeration usable.
func checkEnumerationCount(t *testing.T, c *client, ctx string, left int) {
	t.Helper()
	body := c.call(t, "EnumerationCount", iparam("EnumerationContext", value(ctx)))
	validateDTD(t, body)
	m := regexp.MustCompile(`<IMETHODRESPONSE NAME="EnumerationCount"><IRETURNVALUE>(?:<VALUE>(\d+)</VALUE>)?</IRETURNVALUE></IMETHODRESPONSE>`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("EnumerationCount failed or answered neither a count nor NULL:\n%s", body)
	}
	if len(m[1]) > 0 && string(m[1]) != strconv.Itoa(left) {
		t.Errorf("EnumerationCount = %s, want %d (or NULL)", m[1], left)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[string]int, len(a))
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}

// lastBytes returns the last n bytes of s.
func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
