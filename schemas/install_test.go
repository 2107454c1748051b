package schemas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
)

// install runs Install on the repository in dir, as the daemon does at
// start: through a BulkWriter, committed when Install succeeds.
func install(t *testing.T, dir string, opts InstallOptions) *InstallResult {
	t.Helper()
	repo, err := repository.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	w := repo.NewBulkWriter()
	res, err := Install(w, opts)
	if err != nil {
		w.Rollback()
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := repo.Check(); err != nil {
		t.Fatal(err)
	}
	return res
}

func openRepo(t *testing.T, dir string) *repository.Repository {
	t.Helper()
	repo, err := repository.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	return repo
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	res := install(t, dir, InstallOptions{})
	if len(res.Namespaces) != 2 || res.Version == "" {
		t.Fatalf("result %+v", res)
	}
	for _, ns := range res.Namespaces {
		if ns.Skipped || ns.QualifierTypes != 70 || ns.Classes < 20 {
			t.Errorf("%+v", ns)
		}
	}
	// A second start finds everything in place.
	again := install(t, dir, InstallOptions{})
	if again.Version != res.Version || !again.Namespaces[0].Skipped || !again.Namespaces[1].Skipped {
		t.Errorf("second install: %+v", again)
	}

	repo := openRepo(t, dir)
	for _, tc := range []struct{ ns, class string }{
		{InteropNamespace, "CIM_Namespace"}, {InteropNamespace, "HC_ObjectManager"},
		{VirtNamespace, "HC_ComputerSystem"}, {VirtNamespace, "HC_VirtualSystemManagementService"},
	} {
		c, err := repo.GetClass(tc.ns, tc.class)
		if err != nil {
			t.Errorf("%s: %v", tc.ns, err)
			continue
		}
		if len(c.Properties()) == 0 {
			t.Errorf("%s:%s has no properties", tc.ns, tc.class)
		}
	}
	// The namespaces hold exactly what the embedded root files declare.
	for _, ns := range Namespaces() {
		n := 0
		if err := repo.EnumerateClassNames(ns.Name, "", true, func(string) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if want := len(loadNamespace(t, ns.Root).classes); n != want {
			t.Errorf("%s: %d classes, the MOF declares %d", ns.Name, n, want)
		}
	}
}

// TestInstallResumes: a marker left behind by another version (an
// upgrade), or missing for one namespace (an install interrupted before
// its commit), makes Install compile again, which completes the store
// without disturbing what is there.
func TestInstallResumes(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, InstallOptions{})
	repo, err := repository.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.SetMeta(markerPrefix+VirtNamespace, "an older version"); err != nil {
		t.Fatal(err)
	}
	if err := repo.DeleteClass(VirtNamespace, "HC_ComputerSystem", true); err != nil {
		t.Fatal(err)
	}
	repo.Close()
	res := install(t, dir, InstallOptions{})
	if !res.Namespaces[0].Skipped || res.Namespaces[1].Skipped {
		t.Errorf("install after an upgrade: %+v", res)
	}
	repo = openRepo(t, dir)
	if _, err := repo.GetClass(VirtNamespace, "HC_ComputerSystem"); err != nil {
		t.Errorf("the missing class was not put back: %v", err)
	}
	marker, _ := repo.Meta(markerPrefix + VirtNamespace)
	if marker != res.Version {
		t.Errorf("marker %q, want %q", marker, res.Version)
	}
}

func dmtfSchemaDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "schemas", "dmtf-cim-2.49")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("DMTF schema 2.49 not found beside the repository: %v", err)
	}
	return dir
}

// TestInstallDMTFSchema loads the full DMTF 2.49 schema and hypercim's
// overlay files into both namespaces (--dmtf-schema).
func TestInstallDMTFSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the DMTF schema twice")
	}
	dir := t.TempDir()
	var phases []string
	res := install(t, dir, InstallOptions{DMTFSchema: dmtfSchemaDir(t), Progress: func(ns, phase string, done, total int) {
		if len(phases) == 0 || !strings.HasPrefix(phases[len(phases)-1], ns+" "+phase) {
			phases = append(phases, ns+" "+phase)
		}
	}})
	for _, ns := range res.Namespaces {
		if ns.Classes < 1600 {
			t.Errorf("%+v", ns)
		}
	}
	if len(phases) < 4 {
		t.Errorf("progress: %v", phases)
	}
	embedded, err := schemaVersion("")
	if err != nil || res.Version == embedded {
		t.Errorf("the DMTF schema does not change the version: %v", err)
	}
	repo := openRepo(t, dir)
	for _, ns := range Namespaces() {
		for _, name := range []string{"CIM_StorageVolume", "HC_ElementConformsToProfile"} {
			if _, err := repo.GetClass(ns.Name, name); err != nil {
				t.Errorf("%s: %v", ns.Name, err)
			}
		}
	}
	c, err := repo.GetClass(VirtNamespace, "HC_ComputerSystem")
	if err != nil || c.Property("Name") == nil || !c.Property("Name").IsKey() {
		t.Errorf("HC_ComputerSystem: %v", err)
	}
	_, err = repo.GetClass(VirtNamespace, "CIM_NoSuchClass")
	if cim.StatusOf(err) != cim.ErrNotFound {
		t.Errorf("%v", err)
	}
}

func TestInstallBadSchemaDir(t *testing.T) {
	repo, err := repository.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	empty := t.TempDir()
	_, err = Install(repo.NewBulkWriter(), InstallOptions{DMTFSchema: empty})
	if err == nil || !strings.Contains(err.Error(), "holds no cim_schema_<version>.mof") {
		t.Errorf("%v", err)
	}
	_, err = Install(repo.NewBulkWriter(), InstallOptions{DMTFSchema: filepath.Join(empty, "nope")})
	if err == nil {
		t.Error("a missing directory is accepted")
	}
}
