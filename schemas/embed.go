package schemas

import (
	"embed"
	"io/fs"
)

// The MOF tree. An embed.FS is read-only, so sharing it is safe.
//
//go:embed mof
var embedded embed.FS

// Namespace names hypercim creates.
const (
	InteropNamespace = "root/interop"
	VirtNamespace    = "root/virt"
)

// Files returns the embedded MOF tree. Paths are relative to its root, as
// in Namespace ("interop.mof", "cim/core.mof", ...).
func Files() fs.FS {
	sub, err := fs.Sub(embedded, "mof")
	if err != nil {
		// fs.Sub fails only for an invalid path, and "mof" is valid.
		panic("schemas: " + err.Error())
	}
	return sub
}

// Namespace says what hypercim compiles into one namespace.
type Namespace struct {
	// Name is the namespace, such as "root/interop".
	Name string
	// Root is the file that holds everything the namespace needs: the
	// qualifier declarations, the DMTF classes and the HC_ classes. Its
	// #pragma include names are relative to the root of Files.
	Root string
	// Overlay lists, in compile order, the files to compile after a
	// complete DMTF schema when one replaces hypercim's DMTF classes
	// (--dmtf-schema): the HC_ classes and the DMTF classes that are not
	// part of the final schema release.
	Overlay []string
}

// Namespaces returns hypercim's namespaces in the order they are compiled.
// Each call returns a fresh slice the caller may change.
func Namespaces() []Namespace {
	return []Namespace{
		{
			Name:    InteropNamespace,
			Root:    "interop.mof",
			Overlay: []string{"hc/profile.mof", "hc/interop.mof"},
		},
		{
			Name:    VirtNamespace,
			Root:    "virt.mof",
			Overlay: []string{"cim/experimental.mof", "hc/profile.mof", "hc/virt.mof"},
		},
	}
}
