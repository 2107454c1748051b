package conformance

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hypercim/hypercim/conformance/internal/daemon"
	"github.com/hypercim/hypercim/wbem/auth"
)

// The virtualization conformance tests drive a real bin/hypercimd with
// real wbemcli: every call below is a wbemcli process.

const (
	virtUser, virtPass = "virtadmin", "virt-secret"
	// virtTimeout bounds each wait on the server or a guest.
	virtTimeout = 90 * time.Second
)

// virtBinaries builds hypercimd, hypercim and the test guest once per
// test binary, into a short directory (the console socket paths derived
// from data directories must stay under 108 bytes) that TestMain removes.
var virtBinaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hcv")
	if err != nil {
		return "", err
	}
	virtBinariesMade.Store(true)
	if _, err := daemon.Build(dir); err != nil {
		return dir, err
	}
	mk := exec.Command("make", "-s", "-C", filepath.Join(daemon.ModuleRoot(), "hypervisor", "testguest"), "OUT="+filepath.Join(dir, "hypercim-testguest"))
	if out, err := mk.CombinedOutput(); err != nil {
		return dir, fmt.Errorf("building the test guest: %v\n%s", err, out)
	}
	return dir, nil
})

// virtBinariesMade says virtBinaries made its directory.
var virtBinariesMade atomic.Bool

// TestMain removes the binaries the tests built (35 MB a run).
func TestMain(m *testing.M) {
	code := m.Run()
	if virtBinariesMade.Load() {
		if dir, _ := virtBinaries(); dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// virtServer is a running hypercimd with the virtualization provider.
type virtServer struct {
	t    testing.TB
	bin  string
	dir  string // data directory
	addr string
	args []string
	d    *daemon.Daemon // nil while stopped
	log  *daemon.Log    // of the last run, for failure reports
}

// newVirtServer prepares a data directory with an administrator and
// starts hypercimd on it with the given extra flags.
func newVirtServer(t testing.TB, args ...string) *virtServer {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil && !slices.Contains(args, "libvirt") {
		t.Skip("no /dev/kvm on this host")
	}
	if _, err := exec.LookPath("wbemcli"); err != nil {
		t.Fatal("wbemcli is not installed (scripts/install-deps.sh installs sblim-wbemcli)")
	}
	bin, err := virtBinaries()
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "hcv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if slices.Contains(args, "libvirt") {
		// QEMU runs as libvirt-qemu: it must reach the kernel and the pool.
		os.Chmod(tmp, 0o711)
		os.Chmod(bin, 0o755)
	}
	s := &virtServer{t: t, bin: bin, dir: filepath.Join(tmp, "d"), args: args}
	users, err := auth.Open(s.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.AddUser(virtUser, virtPass, auth.UserOptions{Admin: true}); err != nil {
		t.Fatal(err)
	}
	// Registered before the start, so that a server that fails to become
	// ready is stopped too.
	t.Cleanup(func() {
		if s.d != nil {
			s.stop()
		}
		if t.Failed() && s.log != nil {
			t.Logf("--- hypercimd log (last 6 KiB) ---\n%s", s.log.Tail(6<<10))
		}
	})
	s.start()
	return s
}

// start runs hypercimd and waits until it is ready.
func (s *virtServer) start() {
	s.t.Helper()
	if s.addr == "" {
		addr, err := daemon.FreeAddr()
		if err != nil {
			s.t.Fatal(err)
		}
		s.addr = addr
	}
	d, err := daemon.Start(daemon.Options{Hypercimd: filepath.Join(s.bin, "hypercimd"), DataDir: s.dir, CIMXMLHTTP: s.addr,
		Args: append([]string{"--virt-boot-dir", s.bin}, s.args...), ReadyTimeout: virtTimeout})
	if d != nil {
		s.log = d.Log
	}
	if err != nil {
		s.log = nil // the error holds it
		s.t.Fatal(err)
	}
	s.d = d
}

// stop ends hypercimd with SIGTERM and expects a clean exit.
func (s *virtServer) stop() {
	s.t.Helper()
	if err := s.d.Stop(virtTimeout); err != nil {
		s.t.Error(err)
	}
	s.d = nil
}

// url makes a wbemcli object path URL from a path as wbemcli prints it
// ("host:port/ns:Class.keys") or from "ns:Class.keys".
func (s *virtServer) url(path string) string {
	if !strings.Contains(strings.SplitN(path, "/", 2)[0], ":") {
		path = s.addr + "/" + path
	}
	return "http://" + virtUser + ":" + virtPass + "@" + path
}

// wbemcli runs wbemcli and returns its output; a failure is fatal unless
// allowFail.
func (s *virtServer) wbemcli(allowFail bool, args ...string) (string, error) {
	s.t.Helper()
	cmd := exec.Command("wbemcli", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(virtTimeout):
		cmd.Process.Kill()
		s.t.Fatalf("wbemcli %s: no answer within %s", strings.Join(args, " "), virtTimeout)
	}
	if err == nil && strings.Contains(out.String()+errb.String(), "wbemcli: Cim: (") {
		err = errors.New(strings.TrimSpace(errb.String() + out.String()))
	}
	if err != nil {
		err = fmt.Errorf("wbemcli %s: %v: %s%s", args[0], err, out.String(), errb.String())
		if !allowFail {
			s.t.Fatal(err)
		}
	}
	return out.String(), err
}

// paths runs an operation that prints one path per line (ein, ain, rin).
func (s *virtServer) paths(args ...string) []string {
	s.t.Helper()
	out, _ := s.wbemcli(false, args...)
	var ps []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ps = append(ps, l)
		}
	}
	return ps
}

// ein lists the instance paths of a class in root/virt.
func (s *virtServer) ein(class string) []string { return s.paths("ein", s.url("root/virt:"+class)) }

// ain lists the paths associated with path through assocClass.
func (s *virtServer) ain(path, assocClass string, extra ...string) []string {
	return s.paths(append(append([]string{"ain", "-ac", assocClass}, extra...), s.url(path))...)
}

// props are an instance's properties as wbemcli prints them.
type props map[string]string

// str returns a string property without its quotes.
func (p props) str(name string) string { return strings.Trim(p[name], `"`) }

func (p props) num(name string) uint64 {
	n, _ := strconv.ParseUint(p[name], 10, 64)
	return n
}

// gi gets an instance.
func (s *virtServer) gi(path string) props {
	s.t.Helper()
	out, _ := s.wbemcli(false, "gi", "-nl", s.url(path))
	return parseProps(out)
}

func parseProps(out string) props {
	p := props{}
	for _, l := range strings.Split(out, "\n") {
		if name, value, ok := strings.Cut(strings.TrimPrefix(l, "-"), "="); ok && strings.HasPrefix(l, "-") {
			p[name] = value
		}
	}
	return p
}

// ---------------------------------------------------------------------------
// Methods

// param is a method parameter as wbemcli takes it: name=value.
type param struct{ name, value string }

// isRef tells reference arguments ("host:port/ns:Class.keys") apart.
var isRef = regexp.MustCompile(`^[^/"]+/[\w/]+:\w+\.`)

// ref is a reference parameter: a path as wbemcli prints it.
func (s *virtServer) ref(name, path string) param {
	if !strings.Contains(strings.SplitN(path, "/", 2)[0], ":") {
		path = s.addr + "/" + path
	}
	return param{name, path}
}

// refArray is a reference array parameter of one element. wbemcli
// splits an array argument at its commas and garbles one holding a host
// (host:port/ns:Class.keys), so the reference goes namespace-relative.
func refArray(name, path string) param {
	if host, rest, ok := strings.Cut(path, "/"); ok && strings.Contains(host, ":") {
		path = rest
	}
	return param{name, path}
}

// methodResult is a METHODRESPONSE.
type methodResult struct {
	rc     uint64
	refs   map[string][]string // reference output parameters, as wbemcli paths
	errMsg string              // Message of the CIM_Error in Error
	// errClass is the class of the embedded instance in Error; hasErr
	// says Error has a value at all.
	errClass string
	hasErr   bool
	raw      string
}

// methodArg writes a method and its parameters as wbemcli's cm takes
// them. wbemcli reads a reference to the end of the argument (its keys are
// separated by commas too), so references go last.
func methodArg(method string, ps []param) string {
	var b strings.Builder
	b.WriteString(method)
	sep := byte('.')
	for _, last := range []bool{false, true} {
		for _, p := range ps {
			if isRef.MatchString(p.value) == last {
				b.WriteByte(sep)
				sep = ','
				b.WriteString(p.name + "=" + p.value)
			}
		}
	}
	return b.String()
}

// call invokes a method with wbemcli cmx and parses the XML answer.
func (s *virtServer) call(path, method string, ps ...param) methodResult {
	s.t.Helper()
	out, _ := s.wbemcli(false, "cmx", s.url(path), methodArg(method, ps))
	r, err := parseMethodResponse(out)
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", method, err, out)
	}
	if r.hasErr && !s.isA(r.errClass, "CIM_Error") {
		s.t.Fatalf("%s returned %d with an Error that is no CIM_Error embedded instance (%q):\n%s", method, r.rc, r.errClass, out)
	}
	return r
}

// isA reports whether class is base or a subclass of it in root/virt,
// following SUPERCLASS through GetClass.
func (s *virtServer) isA(class, base string) bool {
	s.t.Helper()
	superclass := regexp.MustCompile(`<CLASS NAME="\w+" SUPERCLASS="(\w+)"`)
	for depth := 0; class != "" && depth < 32; depth++ {
		if strings.EqualFold(class, base) {
			return true
		}
		// The XML dump goes to standard error.
		out, _ := exec.Command("wbemcli", "gc", "-dx", s.url("root/virt:"+class)).CombinedOutput()
		m := superclass.FindSubmatch(out)
		if m == nil {
			return false
		}
		class = string(m[1])
	}
	return false
}

type xmlMethodResponse struct {
	Return struct {
		Value string `xml:"VALUE"`
	} `xml:"RETURNVALUE"`
	Params []struct {
		Name   string        `xml:"NAME,attr"`
		Value  string        `xml:"VALUE"`
		Ref    *xmlInstPath  `xml:"VALUE.REFERENCE>INSTANCEPATH"`
		RefArr []xmlInstPath `xml:"VALUE.REFARRAY>VALUE.REFERENCE>INSTANCEPATH"`
	} `xml:"PARAMVALUE"`
	Error *struct {
		Code string `xml:"CODE,attr"`
		Desc string `xml:"DESCRIPTION,attr"`
	} `xml:"ERROR"`
}

type xmlInstPath struct {
	Host       string `xml:"NAMESPACEPATH>HOST"`
	Namespaces []struct {
		Name string `xml:"NAME,attr"`
	} `xml:"NAMESPACEPATH>LOCALNAMESPACEPATH>NAMESPACE"`
	Name struct {
		Class string `xml:"CLASSNAME,attr"`
		Keys  []struct {
			Name  string `xml:"NAME,attr"`
			Value struct {
				Type string `xml:"VALUETYPE,attr"`
				Text string `xml:",chardata"`
			} `xml:"KEYVALUE"`
		} `xml:"KEYBINDING"`
	} `xml:"INSTANCENAME"`
}

// wbemcliPath writes an instance path as wbemcli prints and reads it.
func (p xmlInstPath) wbemcliPath() string {
	var ns []string
	for _, n := range p.Namespaces {
		ns = append(ns, n.Name)
	}
	var keys []string
	for _, k := range p.Name.Keys {
		v := k.Value.Text
		if k.Value.Type == "" || k.Value.Type == "string" {
			v = `"` + v + `"`
		}
		keys = append(keys, k.Name+"="+v)
	}
	return p.Host + "/" + strings.Join(ns, "/") + ":" + p.Name.Class + "." + strings.Join(keys, ",")
}

func parseMethodResponse(out string) (methodResult, error) {
	i := strings.Index(out, "<METHODRESPONSE")
	if i < 0 {
		return methodResult{}, errors.New("no METHODRESPONSE")
	}
	var mr xmlMethodResponse
	if err := xml.Unmarshal([]byte(out[i:]), &mr); err != nil {
		return methodResult{}, err
	}
	if mr.Error != nil {
		return methodResult{}, fmt.Errorf("CIM error %s: %s", mr.Error.Code, mr.Error.Desc)
	}
	r := methodResult{refs: map[string][]string{}, raw: out}
	rc, err := strconv.ParseUint(strings.TrimSpace(mr.Return.Value), 10, 32)
	if err != nil {
		return r, fmt.Errorf("return value %q", mr.Return.Value)
	}
	r.rc = rc
	for _, p := range mr.Params {
		switch {
		case p.Ref != nil:
			r.refs[p.Name] = []string{p.Ref.wbemcliPath()}
		case len(p.RefArr) > 0:
			for _, x := range p.RefArr {
				r.refs[p.Name] = append(r.refs[p.Name], x.wbemcliPath())
			}
		case p.Name == "Error" && p.Value != "":
			r.hasErr = true
			var ce struct {
				Class string `xml:"CLASSNAME,attr"`
				Props []struct {
					Name  string `xml:"NAME,attr"`
					Value string `xml:"VALUE"`
				} `xml:"PROPERTY"`
			}
			if err := xml.Unmarshal([]byte(p.Value), &ce); err == nil {
				r.errClass = ce.Class
				for _, cp := range ce.Props {
					if cp.Name == "Message" {
						r.errMsg = cp.Value
					}
				}
			}
		}
	}
	return r, nil
}

// embedded writes an embedded instance as a wbemcli method argument: the
// INSTANCE element, escaped (wbemcli passes the text on verbatim), quoted.
// "=" is escaped too: wbemcli takes an array element holding one for the
// start of the next parameter.
func embedded(class string, ps ...prop) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<INSTANCE CLASSNAME="%s">`, class)
	for _, p := range ps {
		if p.array {
			fmt.Fprintf(&b, `<PROPERTY.ARRAY NAME="%s" TYPE="%s"><VALUE.ARRAY>`, p.name, p.typ)
			for _, v := range p.values {
				fmt.Fprintf(&b, "<VALUE>%s</VALUE>", xmlText(v))
			}
			b.WriteString("</VALUE.ARRAY></PROPERTY.ARRAY>")
			continue
		}
		fmt.Fprintf(&b, `<PROPERTY NAME="%s" TYPE="%s"><VALUE>%s</VALUE></PROPERTY>`, p.name, p.typ, xmlText(p.values[0]))
	}
	b.WriteString("</INSTANCE>")
	return `"` + xmlText(b.String()) + `"`
}

func xmlText(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return strings.NewReplacer("&#34;", "&quot;", "=", "&#61;").Replace(b.String())
}

// prop is a property of an embedded instance.
type prop struct {
	name, typ string
	values    []string
	array     bool
}

func pstr(name, v string) prop { return prop{name: name, typ: "string", values: []string{v}} }
func pu16(name string, v uint64) prop {
	return prop{name: name, typ: "uint16", values: []string{fmt.Sprint(v)}}
}
func pu64(name string, v uint64) prop {
	return prop{name: name, typ: "uint64", values: []string{fmt.Sprint(v)}}
}
func pstrs(name string, vs ...string) prop {
	return prop{name: name, typ: "string", values: vs, array: true}
}

// fromTemplate copies the properties of a fetched template that DSP1041
// clients send back, then applies edits (replacing same-named ones).
func fromTemplate(tpl props, edits ...prop) []prop {
	var out []prop
	for _, name := range []string{"ResourceType", "ResourceSubType", "PoolID", "AllocationUnits", "VirtualQuantityUnits",
		"VirtualQuantity", "ImageFormat", "ImageSubformat"} {
		v, ok := tpl[name]
		if !ok || v == "" {
			continue
		}
		switch name {
		case "ResourceType":
			out = append(out, pu16(name, tpl.num(name)))
		case "VirtualQuantity":
			out = append(out, pu64(name, tpl.num(name)))
		default:
			out = append(out, pstr(name, tpl.str(name)))
		}
	}
	for _, e := range edits {
		replaced := false
		for i := range out {
			if out[i].name == e.name {
				out[i], replaced = e, true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Jobs, states and the console

// waitJob polls a job until it ends and returns it; a job that fails is
// fatal unless wantFail.
func (s *virtServer) waitJob(job string) props {
	s.t.Helper()
	deadline := time.Now().Add(virtTimeout)
	for {
		j := s.gi(job)
		switch j.num("JobState") {
		case 7:
			if j.num("PercentComplete") != 100 || j.num("ErrorCode") != 0 {
				s.t.Fatalf("completed job %s: PercentComplete %s ErrorCode %s", job, j["PercentComplete"], j["ErrorCode"])
			}
			return j
		case 8, 9, 10:
			s.t.Fatalf("job %s ended in state %s: %s", job, j["JobState"], j["ErrorDescription"])
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("job %s still running after %s", job, virtTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finish waits for the job a method started (rc 4096), or accepts rc 0.
func (s *virtServer) finish(what string, r methodResult) {
	s.t.Helper()
	switch r.rc {
	case 0:
	case 4096:
		s.waitJob(r.refs["Job"][0])
	default:
		s.t.Fatalf("%s returned %d: %s", what, r.rc, r.errMsg)
	}
}

// console is a connection to a system's console socket.
type console struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func (s *virtServer) console(uuid string) *console {
	s.t.Helper()
	conn, err := net.Dial("unix", filepath.Join(s.dir, "virt", "state", uuid, "console.sock"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close() })
	return &console{t: s.t, conn: conn, r: bufio.NewReader(conn)}
}

// expect reads until a line containing want.
func (c *console) expect(want string) string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(virtTimeout))
	var seen []string // the last lines, for the failure report
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("console: waiting for %q: %v; the last lines read:\n%s%s", want, err, strings.Join(seen, ""), line)
		}
		if strings.Contains(line, want) {
			return strings.TrimSpace(line)
		}
		if seen = append(seen, line); len(seen) > 30 {
			seen = seen[1:]
		}
	}
}

// cmd types a command and returns the answer line starting with prefix
// (or the "ok" that ends it).
func (c *console) cmd(command, prefix string) string {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(command + "\n")); err != nil {
		c.t.Fatal(err)
	}
	if prefix == "" {
		prefix = "ok"
	}
	return c.expect(prefix)
}

// retry types a command every half second until the answer holds want:
// for a guest that is (re)booting, whose earlier output may be gone.
func (c *console) retry(command, want string) string {
	c.t.Helper()
	deadline := time.Now().Add(virtTimeout)
	for time.Now().Before(deadline) {
		if _, err := c.conn.Write([]byte(command + "\n")); err != nil {
			c.t.Fatal(err)
		}
		c.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			line, err := c.r.ReadString('\n')
			if strings.Contains(line, want) {
				return strings.TrimSpace(line)
			}
			if err != nil {
				break
			}
		}
	}
	c.t.Fatalf("console: no %q in answer to %q within %s", want, command, virtTimeout)
	return ""
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }
