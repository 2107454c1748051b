package wbem

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// InteropNamespace is the interop namespace; clients also reach it as
// "interop" (pywbem tries that name first).
const InteropNamespace = "root/interop"

// CanonicalNamespace returns the canonical spelling of a namespace name as a
// client may send it: surrounding slashes removed, backslashes (WMI style,
// root\virt) turned into slashes, and the alias "interop" mapped to
// root/interop. Case is kept; compare canonical names with cim.EqualNames.
func CanonicalNamespace(name string) string {
	name = strings.Trim(strings.ReplaceAll(strings.TrimSpace(name), `\`, "/"), "/")
	if cim.EqualNames(name, "interop") {
		return InteropNamespace
	}
	return name
}

// Authorizer decides whether a principal may read or write in a namespace.
// The namespace given is canonical (as the repository spells it).
// wbem/auth's Store implements it.
type Authorizer interface {
	Allowed(p Principal, namespace string, write bool) bool
}
