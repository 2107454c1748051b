// Package repository is hypercim's CIM repository: namespaces, qualifier
// declarations, classes and static instances, kept in one bbolt database
// (repository.db) in the server's data directory.
//
// # Opening
//
// Only one process at a time may open a data directory; Open fails fast
// with an error wrapping ErrInUse ("the data directory DIR is in use by
// another hypercim process (is hypercimd running?)") when another holds it.
//
//	repo, err := repository.Open("/var/lib/hypercim", nil)
//	defer repo.Close()
//
// # Operations
//
// The Repository has one method per operation: CreateNamespace,
// GetQualifier/SetQualifier, GetClass/CreateClass/ModifyClass/DeleteClass,
// EnumerateClassNames/EnumerateClasses, CreateInstance/GetInstance/
// ModifyInstance/DeleteInstance, EnumerateInstances, References and
// Associators (on instance paths) and ReferenceClasses/AssociatorClasses
// (on classes). Each runs in a transaction of its own; View and Update run
// several in one (a Tx has the same methods), and a BulkWriter batches
// many writes into few commits, which is how the MOF compiler writes (it
// implements mof.Target).
//
// Every error is a *cim.Error with the DSP0200 status a client expects:
// CIM_ERR_INVALID_NAMESPACE, CIM_ERR_NOT_FOUND, CIM_ERR_INVALID_CLASS,
// CIM_ERR_ALREADY_EXISTS, CIM_ERR_INVALID_SUPERCLASS,
// CIM_ERR_CLASS_HAS_CHILDREN, CIM_ERR_CLASS_HAS_INSTANCES,
// CIM_ERR_NAMESPACE_NOT_EMPTY, the validation errors of package cim, and
// CIM_ERR_FAILED for store failures. Each method's documentation lists
// its statuses.
//
// # Classes
//
// Classes are stored as declared and resolved (cim.ResolveClass) when read;
// resolved classes are cached in memory, so GetClass of a known class costs
// a map lookup. Returned classes are shared with the cache: do not modify
// them (cim.FilterClass and Clone make copies). Class changes keep the
// repository valid: a superclass must exist, a class with subclasses or
// instances is deleted only on request (cascade), and a modification is
// refused when a subclass would no longer resolve or an instance would no
// longer fit.
//
// # Instances and associations
//
// Instances are checked and normalized against their class
// (cim.Class.NormalizeInstance) and stored in a compact binary form.
// Enumerations stream through a callback and read in chunks, so that a
// million instances cost constant memory and no long transaction. A
// reference index makes References and Associators of an object cost
// what they return, not a scan.
//
// # Durability
//
// Every committed transaction is on disk (fsync) before its method
// returns, and bbolt's copy-on-write pages keep the file consistent
// whatever moment a process is killed: an acknowledged write survives
// kill -9 and power loss, an unacknowledged one is entirely absent.
// Readers never wait for a writer (bbolt's MVCC); Check verifies the file
// and every index, for tests and for the CLI.
package repository
