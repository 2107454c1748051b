// Package wbem is the CIMOM core of hypercim: one Go method per CIM
// operation (Operations, implemented by Server), the provider interfaces
// and the Registry that routes each namespace and class to a provider or
// to the repository's static instances, enumeration contexts for the pull
// operations, and per-namespace authorization through an Authorizer.
//
// The protocol adapters (wbem/cimxml, wbem/wsman) turn bytes into calls on
// Operations and stream the results back; they hold no CIM semantics, so a
// behaviour fixed here is fixed for both protocols.
//
// A server is a repository, an authorizer and providers:
//
//	srv, err := wbem.NewServer(wbem.Config{Repository: repo, Authorizer: users})
//	err = srv.Registry().Register("root/virt", vmProvider, "HC_ComputerSystem")
//	ctx := wbem.WithPrincipal(ctx, principal)
//	err = srv.EnumerateInstances(ctx, "root/virt", "CIM_ComputerSystem", wbem.InstanceOptions{DeepInheritance: true},
//		func(inst *cim.Instance) error { ...; return nil })
//
// A provider implements InstanceProvider (and, for what it supports,
// InstanceNameEnumerator, InstanceCreator, InstanceModifier,
// InstanceDeleter, AssociationProvider) and/or MethodProvider; it is asked
// for exactly the classes it is registered for, with classes resolved and
// paths normalized, and returns whole instances that the core filters and
// shapes. Core is what providers may call back. Subpackages: query (WQL,
// CQL, FQL), auth (users, rights, Basic, Digest, client certificates),
// testprovider (a provider of every interface, for tests).
//
// docs/core.md describes the semantics of each operation, the query
// languages and the pull limits.
package wbem
