// Package testprovider is a provider for tests of the CIMOM core, of the
// protocol adapters and of the daemon (hypercimd --test-provider NS): it
// serves the T_ classes of its MOF from memory with every provider
// interface of package wbem.
//
// Its classes cover what the tests need to drive through a real server:
// a writable class with methods of every parameter kind (T_Dynamic: IN and
// OUT scalars, a static method, embedded instances, a reference, arrays
// and an OUT reference array), generated instances in any number and size
// (T_Gen, for streaming and benchmarks), a provider-computed association
// (T_DynLink) and an enumeration that fails after part of its results
// (T_Flaky, for errors in the middle of a streamed response). It is not
// part of the server a user runs.
package testprovider
