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
// Indications (DSP1054): Server.Indications is the indication service.
// Providers publish with PublishIndication and PublishLifecycle (the
// IndicationPublisher interface) and may test IndicationsWanted first; the
// core publishes CIM_InstCreation, CIM_InstModification and
// CIM_InstDeletion for static instances, only while a subscription may
// select them. Subscriptions are CIM objects of root/interop, served by
// providers/interop and stored in the repository's database, or Go
// subscriptions (Indications.Subscribe, for WS-Eventing) with a delivery
// function; Indications.ResolveSubscription decides what a WS-Eventing
// request names (a namespace and query, an indication class, a filter
// instance) and says why it refuses one. Delivery goes through an IndicationExporter per protocol
// (wbem/cimxml/export for CIM-XML), in order per destination, with
// retries, and never blocks a publisher. docs/indications.md describes it.
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
