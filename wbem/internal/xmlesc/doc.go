// Package xmlesc escapes text for XML 1.0 character data and double-quoted
// attribute values: the one escaping routine of hypercim's XML encoders
// (CIM-XML in wbem/cimxml/xmlcodec, WS-Management in wbem/wsman).
//
// Append writes only the predefined entities (&amp; &lt; &gt; &quot;),
// which every client decodes, and replaces what XML 1.0 cannot carry at
// all (control characters other than tab, line feed and carriage return,
// invalid UTF-8, U+FFFE and U+FFFF) with U+FFFD, so that no value can make
// a document a client fails to parse. Tab, line feed and carriage return
// are kept or written as character references, as the Whitespace mode
// says: a receiver's parser normalizes line ends and attribute
// whitespace, which references survive, but sblim-wbemcli decodes no
// references at all.
//
// The common case, text with nothing to escape, is tested many bytes at a
// time and copied in one piece: 32 and 64 bytes per step with AVX2 on
// amd64 CPUs that have it (prefix_amd64.s), eight to thirty-two with word
// arithmetic elsewhere and for shorter strings.
package xmlesc
