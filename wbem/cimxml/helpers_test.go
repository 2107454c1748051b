package cimxml

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/mof"
	"github.com/hypercim/hypercim/schemas"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

const testNS = "root/test"

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// dtdPath is the DSP0203 2.4.0 DTD in the shared fixtures, which CI keeps
// next to the repository (../shared relative to its root).
func dtdPath(t testing.TB) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "..", "shared", "fixtures", "dtd", "DSP0203_2.4.0.dtd")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the DSP0203 DTD is missing (%v): the shared fixtures belong at ../shared next to the repository", err)
	}
	return p
}

// validateDTD checks doc against DSP0203 2.4.0 with xmllint.
func validateDTD(t testing.TB, doc []byte) {
	t.Helper()
	cmd := exec.Command("xmllint", "--noout", "--nonet", "--dtdvalid", dtdPath(t), "-")
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("response is not DTD-valid: %v\n%s\n--- document ---\n%s", err, out, doc)
	}
}

// wbemcliRejects matches what sblim-wbemcli's response parser cannot
// read: self-closing elements it expects content for, character
// references, VALUE.NULL (checked separately inside arrays) and xml:lang.
var wbemcliRejects = regexp.MustCompile(`<(PROPERTY|PROPERTY\.ARRAY|PROPERTY\.REFERENCE|PARAMETER|PARAMETER\.ARRAY|PARAMETER\.REFERENCE|PARAMETER\.REFARRAY|PARAMVALUE|RETURNVALUE|VALUE|VALUE\.ARRAY|IRETURNVALUE|IMETHODRESPONSE|METHODRESPONSE|QUALIFIER|ERROR|INSTANCE|INSTANCENAME|KEYVALUE|KEYBINDING)(\s[^<>]*)?/>|&#|xml:lang|<!\[CDATA\[`)

// checkWbemcliReadable fails when doc holds a construct wbemcli rejects.
func checkWbemcliReadable(t testing.TB, doc []byte, nullInArrays bool) {
	t.Helper()
	if m := wbemcliRejects.Find(doc); m != nil {
		t.Fatalf("response holds %q, which wbemcli rejects:\n%s", m, doc)
	}
	if !nullInArrays && bytes.Contains(doc, []byte("<VALUE.NULL/>")) {
		t.Fatalf("VALUE.NULL sent to a client that did not declare DTD 2.3:\n%s", doc)
	}
}

// loadModel compiles the DSP0004 qualifiers and testdata/model.mof.
func loadModel(t testing.TB) *mof.MemTarget {
	t.Helper()
	target := mof.NewMemTarget(nil)
	c := &mof.Compiler{Target: target, Namespace: testNS}
	quals, err := fs.ReadFile(schemas.Files(), "qualifiers.mof")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompileSource("qualifiers.mof", quals); err != nil {
		t.Fatalf("qualifiers: %v", err)
	}
	model, err := os.ReadFile(filepath.Join("testdata", "model.mof"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompileSource("model.mof", model); err != nil {
		t.Fatalf("model.mof: %v", err)
	}
	return target
}

func mustClass(t testing.TB, m *mof.MemTarget, name string) *cim.Class {
	t.Helper()
	c, err := m.Class(testNS, name)
	if err != nil || c == nil {
		t.Fatalf("class %s: %v", name, err)
	}
	return c
}

func mustDatetime(t testing.TB, s string) cim.Datetime {
	t.Helper()
	d, err := cim.ParseDatetime(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sampleInstance is a Test_All instance with every property set, values
// that need escaping, a NULL array element, references and embedded
// instances.
func sampleInstance(t testing.TB, m *mof.MemTarget) *cim.Instance {
	t.Helper()
	all := mustClass(t, m, "Test_All")
	base := mustClass(t, m, "Test_Base")
	inst := all.NewInstance()
	emb := base.NewInstance()
	emb.Set("Name", cim.NewString(`inner <"&">`))
	emb.Set("Caption", cim.NewString("embedded"))
	strWithNull, err := cim.NewArray(cim.TypeString, []cim.Value{cim.NewString("a"), cim.Null(cim.TypeString), cim.NewString("c&d")})
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]cim.Value{
		"Name":    cim.NewString(`key with <markup> & "quotes" and ünïcode ✓`),
		"Caption": cim.NewString("tab\tnewline\nend"),
		"PBool":   cim.NewBoolean(true),
		"PStr":    cim.NewString("]]> and >"),
		"PChar":   cim.NewChar16('<'),
		"PU8":     cim.NewUint8(255),
		"PS8":     cim.NewSint8(-128),
		"PU16":    cim.NewUint16(65535),
		"PS16":    cim.NewSint16(-32768),
		"PU32":    cim.NewUint32(4294967295),
		"PS32":    cim.NewSint32(-2147483648),
		"PU64":    cim.NewUint64(18446744073709551615),
		"PS64":    cim.NewSint64(-9223372036854775808),
		"PR32":    cim.NewReal32(1.5),
		"PR64":    cim.NewReal64(-2.25e-10),
		"PDt":     cim.NewDatetime(mustDatetime(t, "20240131235959.123456-300")),
		"PIv":     cim.NewDatetime(mustDatetime(t, "00000001120032.000000:000")),
		"ABool":   cim.NewBooleanArray([]bool{true, false}),
		"AStr":    strWithNull,
		"AChar":   cim.NewChar16Array([]uint16{'x', '&'}),
		"AU8":     cim.NewUint8Array([]uint8{1, 2, 3, 4}),
		"AS64":    cim.NewSint64Array([]int64{-1, 0, 1}),
		"AR64":    cim.NewReal64Array([]float64{0.5, 1e300}),
		"ADt":     cim.NewDatetimeArray([]cim.Datetime{mustDatetime(t, "20240101000000.000000+000")}),
		"PEmb":    cim.NewEmbeddedInstance(emb),
		"AEmb":    cim.NewEmbeddedInstanceArray([]*cim.Instance{emb, emb}),
		"PObj":    cim.NewEmbeddedInstance(emb),
	}
	for name, v := range set {
		if !inst.Has(name) {
			t.Fatalf("Test_All has no property %s", name)
		}
		inst.Set(name, v)
	}
	path, err := all.InstancePath(testNS, inst)
	if err != nil {
		t.Fatal(err)
	}
	inst.Path = path
	return inst
}

// message wraps body in a response envelope.
func message(e *xmlcodec.Encoder, elem, method string, body func()) []byte {
	beginMessage(e, "1001", "1.0", elem, method)
	body()
	endMessage(e, elem)
	return e.B
}

func contains(t testing.TB, doc []byte, want ...string) {
	t.Helper()
	for _, w := range want {
		if !bytes.Contains(doc, []byte(w)) {
			t.Errorf("response lacks %q:\n%s", w, doc)
		}
	}
}
