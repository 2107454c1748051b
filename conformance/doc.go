// Package conformance holds hypercim's end-to-end acceptance tests: each
// builds the real programs, starts a real hypercimd on free ports with a
// fresh data directory and drives it with the clients users have (sblim
// wbemcli, wsl, captured requests of other clients replayed as raw HTTP),
// checking what they print or receive.
//
// The tests in this directory cover virtualization (virtual systems
// defined, started and changed through the DMTF profiles, over CIM-XML
// and WS-Management, on the bundled hypervisor and on libvirt). The
// protocol suites have their own packages: cimxml (CIM-XML and wbemcli)
// and wsman (WS-Management). internal/daemon builds and runs hypercimd
// for all of them.
//
// The package has no code of its own; everything is in its tests.
package conformance
