// Package cimxml holds hypercim's CIM-XML acceptance tests. They build and
// start a real hypercimd on free ports with a fresh data directory, after
// compiling testdata/cimv2.mof into it with `hypercim mof compile`, and
// drive it as its users do: with the real sblim-wbemcli client (all 19
// operations, their error cases, over HTTP, HTTPS and with TE: trailers),
// with the captured wbemcli requests of ../shared/fixtures/clients replayed
// as raw HTTP, with the pull operations against the classic ones on 100,000
// instances, and with a suite of malformed and hostile requests. A second
// daemon checks the benchmarks' prepared instances (--test-provider-prepared)
// against what the generating provider gives.
//
// The package has no code of its own; everything is in its tests (the load
// generator of scripts/bench.d/50-cimxml.sh is the command in bench/).
package cimxml
