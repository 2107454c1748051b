// Package cim is hypercim's CIM data model (DSP0004): types and values,
// datetimes, qualifiers, classes, instances, object paths and the CIM status
// codes. Every other part of the server builds on it: the repository stores
// its classes and instances, the MOF compiler produces them, the CIM-XML and
// WS-Management adapters encode them, and providers return them. It is pure
// Go with no I/O.
//
// # Values
//
// A Value is a typed scalar, a typed array or a typed NULL. Values are small
// immutable structs, copied freely; scalars need no heap allocation.
//
//	v := cim.NewUint16(2)                     // uint16 2
//	s := cim.NewStringArray([]string{"a"})    // string[] {"a"}
//	n := cim.Null(cim.TypeDatetime)           // datetime NULL
//	w, err := cim.ValueOfType(cim.TypeUint8, false, 300) // error: out of range
//	x, err := cim.ParseValue(cim.TypeSint32, "-0x10")   // CIM-XML text form
//
// Text gives the CIM-XML text of a scalar and String the MOF literal.
// ParseNumeric and ParseNumberLiteral read untyped numbers as CIM-XML and
// MOF write them, Convert changes a value's type with range checks, and
// Compare orders values for queries.
//
// The embedded objects of DSP0004 are string-typed: NewEmbeddedInstance
// makes a string Value that holds an *Instance, and Property.EmbeddedKind
// tells whether a property is declared as one (EmbeddedObject or
// EmbeddedInstance qualifier, or CIM-XML's EmbeddedObject attribute).
//
// # Datetime
//
// Datetime is either a timestamp (yyyymmddhhmmss.mmmmmmsutc) or an interval
// (ddddddddhhmmss.mmmmmm:000), with the asterisk wildcards DSP0004 allows.
// TimestampOf, IntervalOf, Time and Duration convert to and from the time
// package.
//
// # Names
//
// CIM names are case-insensitive but keep their spelling. EqualNames
// compares them and FoldName gives the form to use as a map key. Lookups of
// properties, methods, qualifiers and keys all ignore case.
//
// # Classes and instances
//
// A Class as declared holds only its own elements; ResolveClass combines it
// with its resolved superclass into the class the server works with, with
// inherited properties and methods, ClassOrigin and Propagated set, and
// qualifiers propagated by flavor. It enforces the inheritance rules of
// DSP0004 (Override, DisableOverride, keys, references only in
// associations, and on request at least two references in an association)
// and reports violations as *Error values. ResolveClassAll reports every
// violation instead of the first, each as an *ElementError naming the
// property, method, parameter or qualifier concerned.
//
// Instances are best made from their resolved class, which gives them every
// property with its declared type and default and lets them share the
// class's name index:
//
//	inst := class.NewInstance()
//	inst.Set("Name", cim.NewString("vm1"))
//	err := inst.Assign("EnabledState", 2) // converted to the declared uint16
//	path, err := class.InstancePath("root/virt", inst)
//
// # Object paths
//
// ObjectPath names a class or an instance. ParseObjectPath reads WBEM URIs
// (DSP0207) and model paths such as CIM_Foo.Name="a",Id=5; String prints
// them back; Canonical gives a case-folded, key-sorted form for map keys and
// equality; Class.NormalizePath types the keys of a parsed path as the class
// declares them.
//
// # Operations
//
// FilterClass and FilterInstance apply the DSP0200 LocalOnly,
// IncludeQualifiers, IncludeClassOrigin, PropertyList and DeepInheritance
// parameters. Class.CheckInstance and Class.NormalizeInstance validate the
// instances a client creates, Class.ModifyInstance applies a modification,
// Class.InstancePath and Class.NormalizePath build and check instance
// paths. ValueMap interprets the ValueMap/Values qualifiers.
//
// # Errors
//
// Every error of this package is an *Error carrying a DSP0200 Status
// (CIM_ERR_INVALID_PARAMETER, CIM_ERR_NOT_FOUND...). Status values are
// errors too, so errors.Is(err, cim.ErrNotFound) works on any *Error with
// that code, and StatusOf maps any error to the code to send.
//
// # Printing
//
// Every type prints itself as MOF with String (a class as its declaration,
// an instance as "instance of ... { ... };", a value as a MOF literal) and in
// a debugging form with GoString (the %#v verb). Qualifiers print the
// flavors they hold, so that a class's text compiles back to the same
// class.
//
// MOFFormat is the one MOF printer behind String and the mof package's
// Writer: given the qualifier declarations it leaves out flavors that only
// repeat them, given a line width it splits long strings and lists, and it
// reports what MOF cannot express (a NaN or infinite real), which String
// prints anyway (NaN, INF) for logs.
//
// # Concurrency
//
// Classes, instances and paths are safe for concurrent reads. Writers must
// not share an object with readers; Clone gives an independent deep copy.
package cim
