// Package query parses and evaluates the query languages of a WBEM server:
// WQL and DMTF:CQL (DSP0202) for ExecQuery and OpenQueryInstances, and
// DMTF:FQL (DSP0212) for the FilterQuery of the pull operations.
//
// # Languages
//
// CanonicalLanguage maps a client's language name to one of WQL, CQL
// ("DMTF:CQL", also accepted as "CQL" and "CIM:CQL") and FQL ("DMTF:FQL");
// any other name is CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED.
//
// WQL and CQL share one SELECT grammar here, the subset both languages
// have in common and that clients send:
//
//	SELECT * | prop [, prop ...] FROM Class [[AS] alias] [WHERE condition]
//
// Conditions combine with AND, OR, NOT and parentheses; comparisons are
// =, <> (also !=), <, <=, >, >=; LIKE and NOT LIKE; IS [NOT] NULL;
// ISA Class (is an embedded instance, or with the class name or alias on
// the left the instance itself, of that class or a subclass); ANY and EVERY
// over arrays and Prop[index] for one element. Literals are strings in
// single or double quotes (backslash escapes, or a doubled quote), integers
// in decimal, hexadecimal (0x1F) or binary (101B), reals (1.5, 2E3), TRUE,
// FALSE and NULL; DATETIME('...') writes a datetime explicitly, but a
// string compared with a datetime, reference or char16 property is read as
// one too. Property names may be prefixed with the class name or alias
// (CIM_Foo.Name) and may walk into embedded instances (Target.Name).
// WQL's LIKE uses the SQL wildcards % and _ with [set] and [^set]; CQL's and
// FQL's LIKE use the regular expressions of DSP1001 (. * + ? [set]
// alternatives and groups); both must match the whole string.
//
// FQL (DSP0212) has no SELECT: a filter is a condition alone, with the same
// operators and the array forms ANY/EVERY, Prop[index] and Prop = {1, 2}.
//
// String comparisons are case-sensitive in all three languages, as in
// OpenPegasus and SFCB. Comparisons follow SQL's three-valued logic: a
// comparison with a NULL or missing property is unknown, NOT unknown is
// unknown, and only conditions that are true select an instance; "= NULL"
// and "<> NULL" mean IS NULL and IS NOT NULL.
//
// # Checking and evaluating
//
// Parse errors are CIM_ERR_INVALID_QUERY with the position of the fault.
// Select.Check and Filter.Check compare a parsed query with the class it
// runs on, so that unknown properties and literals of the wrong type are
// reported once, before any instance is read. Match evaluates a condition
// on one instance and never fails: what cannot be compared is unknown.
package query
