package export

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

// dtdPath is the DSP0203 2.4.0 DTD in the shared fixtures, which CI keeps
// next to the repository (../shared relative to its root), as the CIM-XML
// adapter's tests expect.
func dtdPath(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "fixtures", "dtd", "DSP0203_2.4.0.dtd")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the DSP0203 DTD is missing (%v): the shared fixtures belong at ../shared next to the repository", err)
	}
	return p
}

func validate(t *testing.T, what string, doc []byte) {
	t.Helper()
	cmd := exec.Command("xmllint", "--noout", "--nonet", "--dtdvalid", dtdPath(t), "-")
	cmd.Stdin = bytes.NewReader(doc)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s is not DTD-valid: %v\n%s\n--- document ---\n%s", what, err, out, doc)
	}
}

// The export messages follow DSP0203 2.4.0: the request with an
// indication holding every kind of value, its embedded instance, and both
// kinds of response.
func TestExportMessagesAreDTDValid(t *testing.T) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint is not installed (scripts/install-deps.sh installs libxml2-utils)")
	}
	src := cim.NewInstance("HC_ComputerSystem")
	src.Set("Name", cim.NewString(`vm "1" <&>`))
	src.Set("Roles", cim.NewStringArray([]string{"a", "b"}))
	ind := cim.NewInstance("CIM_InstModification")
	ind.Set("SourceInstance", cim.NewEmbeddedInstance(src))
	ind.Set("PreviousInstance", cim.NewEmbeddedInstance(src))
	ind.Set("ChangedPropertyNames", cim.NewStringArray([]string{"Name"}))
	ind.Set("SequenceNumber", cim.NewSint64(7))
	ind.Set("Nothing", cim.Null(cim.TypeUint16))
	ind.Set("Holes", cim.NewUint16Array([]uint16{1, 2}))
	ref := cim.NewInstancePath("root/virt", "HC_ComputerSystem", cim.KeyBinding{Name: "Name", Value: cim.NewString("vm")},
		cim.KeyBinding{Name: "Id", Value: cim.NewUint32(3)})
	ind.Set("Local", cim.NewReference(ref))
	remote := ref.Clone()
	remote.Host = "h:5989"
	ind.Set("Remote", cim.NewReference(remote))
	ind.Set("Model", cim.NewReference(cim.NewInstancePath("", "T_A", cim.KeyBinding{Name: "B", Value: cim.NewBoolean(true)})))
	ind.Set("Class", cim.NewReference(cim.NewClassPath("root/virt", "T_A")))
	ind.Set("Refs", cim.NewReferenceArray([]*cim.ObjectPath{ref, remote}))
	validate(t, "the ExportIndication request", exportRequest("1001", ind))
	inner := newEncoder(0)
	inner.Instance(src)
	validate(t, "the embedded instance", inner.B)
	validate(t, "the success response", exportResponse("1001", "ExportIndication", nil))
	validate(t, "the error response", exportResponse("1001", "ExportIndication", cim.NewError(cim.ErrNotSupported, "no")))
}
