// Package wbem is the CIMOM core of hypercim: one Go method per CIM
// operation (Operations), the provider interfaces and the registry that
// routes each namespace and class to a provider or to the repository's
// static instances, the query engine (WQL, CQL, FQL), enumeration contexts
// for the pull operations, and per-namespace authorization.
//
// The protocol adapters (wbem/cimxml, wbem/wsman) turn bytes into calls on
// Operations and stream the results back; they hold no CIM semantics, so a
// behaviour fixed here is fixed for both protocols.
package wbem
