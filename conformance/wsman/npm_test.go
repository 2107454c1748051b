package wsmanconformance

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// npmPackage is the AMT message builder the test installs, pinned.
const npmPackage = "@device-management-toolkit/wsman-messages@5.14.1"

// installWSManMessages installs the package into var/npm/wsman-messages
// under the repository (git-ignored), once: later runs find it there.
// node and npm are part of the test environment (scripts/install-deps.sh
// installs them): without them the test fails rather than skips.
func installWSManMessages(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"npm", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run scripts/install-deps.sh (Debian packages nodejs and npm) to build envelopes with %s", tool, npmPackage)
		}
	}
	dir, err := filepath.Abs(filepath.Join(bins.root, "var", "npm", "wsman-messages"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@device-management-toolkit", "wsman-messages", "package.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", npmPackage)
	cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, ".npm-cache"), "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s: %v\n%s", npmPackage, err, out)
	}
	return dir
}

// npmSelector is one selector of a request's header.
type npmSelector struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// npmMessage is one envelope for the generator script.
type npmMessage struct {
	Name      string         `json:"name"`
	Action    string         `json:"action"`
	Base      string         `json:"base"`
	Class     string         `json:"class"`
	Selectors []npmSelector  `json:"selectors,omitempty"`
	Body      map[string]any `json:"body"`
}

// sels makes selectors of name/value pairs.
func sels(kv ...string) []npmSelector {
	var out []npmSelector
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, npmSelector{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// npmMsg is a message for a class of the resource URI base.
func npmMsg(name, action, base, class string, selectors []npmSelector, body map[string]any) npmMessage {
	return npmMessage{Name: name, Action: action, Base: base, Class: class, Selectors: selectors, Body: body}
}

// buildWithNPM runs testdata/wsman-messages.js and returns the envelopes.
func buildWithNPM(t *testing.T, dir string, msgs []npmMessage) map[string]string {
	t.Helper()
	in, err := json.Marshal(msgs)
	if err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("testdata/wsman-messages.js")
	cmd := exec.Command("node", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = strings.NewReader(string(in))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var envs map[string]string
	if err := json.Unmarshal(out, &envs); err != nil {
		t.Fatal(err)
	}
	return envs
}

// sendNPM posts an envelope built by the package and checks the outcome:
// "200", or the HTTP status and fault subcode ("400 wsa:ActionNotSupported");
// check, when not nil, looks at the answer too. Every answer relates to
// the package's small-integer MessageID.
func sendNPM(t *testing.T, s *server, name, env, want string, check func(raw string) bool) string {
	t.Helper()
	if env == "" {
		t.Fatalf("no envelope %s", name)
	}
	st, raw := s.post(t, env)
	d := parse(t, raw)
	got := "200"
	if sub, _ := fault(d); sub != "" {
		got = itoa(st) + " " + sub
	} else if st != 200 {
		got = itoa(st)
	}
	if got != want || (check != nil && !check(raw)) {
		t.Errorf("%s: got %s, want %s\n%.3000s", name, got, want, raw)
	}
	if rel := text(d, "//Header/RelatesTo"); rel == "" {
		t.Errorf("%s: no RelatesTo for the integer MessageID", name)
	}
	return raw
}

// contains returns a check that the answer holds every string.
func contains(subs ...string) func(string) bool {
	return func(raw string) bool {
		for _, s := range subs {
			if !strings.Contains(raw, s) {
				return false
			}
		}
		return true
	}
}

// TestAMTMessageBuilder sends envelopes built by the npm package for
// hypercim's classes: default-namespace SOAP, small-integer MessageIDs, no
// mustUnderstand, relative wsa:To.
func TestAMTMessageBuilder(t *testing.T) {
	dir := installWSManMessages(t)
	s := startServer(t, "testdata/wsmt.mof")
	msg := func(name, action, class string, selectors []npmSelector, body map[string]any) npmMessage {
		return npmMsg(name, action, dmtfPrefix, class, selectors, body)
	}
	const (
		get    = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
		put    = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put"
		create = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
		del    = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
	)
	envs := buildWithNPM(t, dir, []npmMessage{
		msg("get", get, "WSMT_Widget", sels("InstanceID", "w1"), map[string]any{"kind": "get"}),
		msg("get-missing-key", get, "CIM_ComputerSystem", sels("Name", "host1"), map[string]any{"kind": "get"}),
		msg("enumerate", actEnumerate, "WSMT_Widget", nil, map[string]any{"kind": "enumerate"}),
		msg("pull", actPull, "WSMT_Widget", nil, map[string]any{"kind": "pull", "context": "__CTX__", "maxElements": 999, "maxCharacters": 99999}),
		msg("put", put, "WSMT_Widget", sels("InstanceID", "w2"), map[string]any{"kind": "put", "data": map[string]any{"InstanceID": "w2", "ElementName": "from-npm", "State": 4}}),
		msg("create", create, "WSMT_Part", nil, map[string]any{"kind": "put", "data": map[string]any{"Name": "washer", "Count": 12}}),
		msg("delete", del, "WSMT_Part", sels("Name", "washer"), map[string]any{"kind": "delete"}),
		msg("get-deleted", get, "WSMT_Part", sels("Name", "washer"), map[string]any{"kind": "get"}),
		msg("create-dynamic", create, "T_Dynamic", nil, map[string]any{"kind": "put", "data": map[string]any{"Id": "amt1", "Size": 5}}),
		msg("invoke", dmtfPrefix+"T_Dynamic/Resize", "T_Dynamic", sels("Id", "amt1"), map[string]any{"kind": "custom", "method": "Resize_INPUT", "data": map[string]any{"NewSize": 6, "Note": "amt"}}),
		msg("rsc", dmtfPrefix+"T_Dynamic/RequestStateChange", "T_Dynamic", sels("Id", "amt1"), map[string]any{"kind": "rsc", "state": 2}),
	})
	expect := func(name, want string, check func(raw string) bool) string {
		t.Helper()
		return sendNPM(t, s, name, envs[name], want, check)
	}
	expect("get", "200", contains("<p:InstanceID>w1</p:InstanceID>", "<p:ElementName>first</p:ElementName>"))
	expect("get-missing-key", "400 wsman:InvalidSelectors", nil)
	raw := expect("enumerate", "200", nil)
	ctx := text(parse(t, raw), "//EnumerateResponse/EnumerationContext")
	envs["pull"] = strings.Replace(envs["pull"], "__CTX__", ctx, 1)
	expect("pull", "200", func(raw string) bool {
		d := parse(t, raw)
		return len(d.FindElements("//PullResponse/Items/*")) == 3 && d.FindElement("//PullResponse/EndOfSequence") != nil &&
			d.FindElement("//PullResponse/EnumerationContext") == nil
	})
	expect("put", "200", contains("<p:ElementName>from-npm</p:ElementName>", "<p:State>4</p:State>", "<p:Ratio>2.25</p:Ratio>"))
	expect("create", "200", contains("<wsman:Selector Name=\"Name\">washer</wsman:Selector>"))
	expect("delete", "200", nil)
	expect("get-deleted", "400 wsa:DestinationUnreachable", nil)
	expect("create-dynamic", "200", nil)
	expect("invoke", "200", contains("<p:Resize_OUTPUT", "<p:OldSize>5</p:OldSize>", "<p:Note>amt!</p:Note>"))
	expect("rsc", "400 wsa:ActionNotSupported", nil)
}
