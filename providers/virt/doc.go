// Package virt serves the DMTF virtualization profiles in root/virt:
// System Virtualization (DSP1042), Virtual System (DSP1057), Resource
// Allocation (DSP1041), Allocation Capabilities (DSP1043), the processor,
// memory, storage and Ethernet resource virtualization profiles, virtual
// system snapshots and Job Control, over the hypervisor engines and the
// VMDK storage layer.
//
// The package is a thin CIM mapping over internal/vmm, which keeps the
// virtual systems (definitions, state machine, storage pool, snapshot
// trees, jobs, persistence and recovery) without knowing CIM. This package
// turns the manager's state into instances of the HC_ classes (each a
// subclass of the DMTF class, so every DMTF enumeration includes them),
// computes the associations between them from the object a request names,
// parses the embedded instances methods take (of the DMTF classes or ours)
// into changes of a system's definition, and maps the manager's failures
// onto each method's DMTF return codes with a CIM_Error.
//
// Open builds the manager and the provider; Register hands the provider to
// the core's registry; Profiles lists the profiles for registration in
// root/interop (DSP1033); SetPublisher makes it send lifecycle indications.
// docs/virtualization.md describes the classes, methods, return codes,
// jobs and their synchronous use, the storage pool and snapshots.
package virt
