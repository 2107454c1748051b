// Package mof compiles MOF, the Managed Object Format of DMTF DSP0221 (the
// MOF v2 grammar the DMTF CIM Schema 2.x is written in), into CIM objects,
// and writes CIM objects back as MOF.
//
// # Compiling
//
// A Compiler reads MOF files, follows their #pragma include, checks every
// declaration and writes the result into a Target:
//
//	target := mof.NewMemTarget(nil)
//	c := &mof.Compiler{Target: target, Namespace: "root/cimv2"}
//	res, err := c.CompileFiles("cim_schema_2.49.0.mof")
//	// res.QualifierTypes, res.Classes, res.Instances; err lists every problem
//
// The compiler handles qualifier declarations, classes, associations and
// indications with properties, references and methods, instances with
// aliases ($name, also referred to before their declaration), every literal
// form (strings with escapes and concatenation, char16, decimal, hex,
// octal and binary integers, reals, datetimes, arrays, NULL), ValueMap and
// Values, and embedded objects (EmbeddedInstance, EmbeddedObject), given as
// "instance of" values or as strings holding MOF.
//
// # Errors
//
// Errors are reported as an ErrorList, one *Error per problem, each with
// the file, line and column of the token at fault, in source order:
//
//	schema.mof:12:18: class T_Dup: duplicate property Name (already declared at schema.mof:11:12)
//
// The compiler does not stop at the first error: the parser resynchronises
// at the next property or declaration, and the checker leaves out a faulty
// element and goes on, so one run reports as many problems as it can
// (ErrorList.Error shows the first MaxShownErrors; a file that is not text
// gets a single message). Class inheritance rules (overrides, keys,
// DisableOverride qualifiers, references only in associations, at least
// two references in an association) are those of cim.ResolveClassAll; the
// compiler reports each of its verdicts at the qualifier or element
// concerned.
//
// # Includes
//
// #pragma include reaches only files in the directory tree of a file named
// to the compiler or of an include directory, symbolic links resolved
// (Loader.AllowOutsideIncludes lifts this), so compiling a MOF file does
// not read, nor quote in its messages, files elsewhere.
//
// # Targets
//
// A Target is the small interface a store implements to receive compiled
// definitions (see Target). MemTarget holds them in memory; the repository
// implements Target for `hypercim mof compile`. The compiler stages its work
// in memory and writes to a Target only when the whole compile succeeded,
// in source order, so that a rerun after an interruption completes it.
//
// # Writing
//
// Writer, WriteTarget and WriteRepository (a repository's namespaces, for
// `hypercim mof export`) turn qualifier declarations, classes and instances
// back into MOF that compiles to the same objects: a compile, write,
// compile round trip of the DMTF schema gives identical classes, through
// memory and through the repository. The text is cim.MOFFormat's, the
// same as the String methods of package cim give, kept within 78 columns;
// the Writer adds buffering, pragmas and an order of classes that
// compiles.
//
// # Parsing only
//
// Parse returns the syntax tree of one source (File, with ClassDecl,
// InstanceDecl, QualifierDecl and Pragma productions, every node with its
// Pos) for tools that need the MOF as written rather than compiled.
package mof
