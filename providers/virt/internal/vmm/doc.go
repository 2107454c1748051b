// Package vmm manages hypercim's virtual systems independently of CIM: it
// keeps their definitions, drives their state machine on a
// hypervisor.Engine, owns the storage pool and the VMDK delta chains of
// snapshots, runs long operations as jobs, and persists all of it in a
// transactional Store so that it survives restarts and kill -9.
// providers/virt maps it onto the DMTF virtualization profiles.
//
// # State and durability
//
// Every change is committed to the Store in one transaction after its side
// effects (image files, engine calls) succeeded. An operation that creates
// files or engine objects first records an intent; the commit deletes it.
// On Open, an intent left by a crash is rolled back (or, for a destruction
// that had passed its point of no return, finished), files that committed
// changes stopped using are deleted from the trash list, and the engine is
// reconciled with the stored definitions: missing machines are defined,
// stale definitions updated, and systems started as their
// AutomaticStartupAction says. A system that was running when the server
// died is reported stopped unless it restarts.
//
// # Concurrency
//
// One operation at a time holds a system; a second request is refused as
// Busy instead of queueing behind a job that may take minutes. Reads
// (Systems, Snapshots, Jobs) never wait for operations.
//
// # Storage and snapshots
//
// Images live in the pool directory; paths from clients are resolved in it
// and refused when they lead out, symbolic links included. A snapshot
// freezes each disk's current image and continues the system on a new
// monolithicSparse delta beside it; applying a snapshot discards the
// current deltas and continues on new deltas of the frozen images, so the
// snapshots form a tree of any shape. Images no snapshot or disk needs are
// deleted, and an image that only one delta depends on is merged into it,
// so destroying snapshots shortens chains again.
package vmm
