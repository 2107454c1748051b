package vmdk

import (
	"fmt"
	"strconv"
	"strings"
)

// maxDescriptorBytes bounds every descriptor read, embedded or separate, so
// a hostile header cannot make us allocate more (qemu uses the same cap).
const maxDescriptorBytes = 1 << 20

// maxVirtualSectors bounds the virtual size of a disk (1 PiB) so sums and
// products of sector counts never overflow an int64 byte offset.
const maxVirtualSectors = 1 << 41

// Extent types as written in descriptor extent lines.
const (
	extFlat       = "FLAT"
	extSparse     = "SPARSE"
	extZero       = "ZERO"
	extVMFS       = "VMFS"
	extVMFSSparse = "VMFSSPARSE"
	extSESparse   = "SESPARSE"
	extVMFSRDM    = "VMFSRDM"
	extVMFSRaw    = "VMFSRAW"
)

// Access modes of extent lines.
const (
	accessRW       = "RW"
	accessRDONLY   = "RDONLY"
	accessNOACCESS = "NOACCESS"
)

// noParentCID is the parentCID of an image without a parent.
const noParentCID = 0xffffffff

// descriptor is the text that names a disk's extents and properties.
type descriptor struct {
	version    int
	encoding   string
	cid        uint32
	parentCID  uint32
	createType string
	parentHint string
	extents    []extentLine
	// ddb holds the disk database in file order; keys keep their case.
	ddb []keyValue
	// extra holds header keys this package does not interpret, so a
	// rewritten descriptor keeps them.
	extra []keyValue
}

type keyValue struct{ key, value string }

// extentLine is one "ACCESS SECTORS TYPE ["FILE" [OFFSET]]" line.
type extentLine struct {
	access  string
	sectors int64
	kind    string
	file    string
	offset  int64 // in sectors; FLAT and VMFS only
}

// sectorsTotal is the virtual size the extent lines describe.
func (d *descriptor) sectorsTotal() int64 {
	var n int64
	for _, e := range d.extents {
		n += e.sectors
	}
	return n
}

func (d *descriptor) ddbGet(key string) string {
	for _, kv := range d.ddb {
		if strings.EqualFold(kv.key, key) {
			return kv.value
		}
	}
	return ""
}

// looksLikeDescriptor reports whether b starts like a text descriptor: the
// "# Disk DescriptorFile" banner, or a first meaningful line "version=N".
func looksLikeDescriptor(b []byte) bool {
	s := string(b)
	for len(s) > 0 {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if strings.Contains(strings.ToLower(line), "disk descriptorfile") {
				return true
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "version") {
			return false
		}
		_, err := strconv.Atoi(unquote(strings.TrimSpace(v)))
		return err == nil
	}
	return false
}

// parseDescriptor reads descriptor text leniently: any key order, spaces
// around '=', CRLF, comments, keys in any case, 3 to 7 field extent lines.
// Every number is range-checked; errors name the offending line.
func parseDescriptor(text []byte) (*descriptor, error) {
	if len(text) > maxDescriptorBytes {
		return nil, fmt.Errorf("%w: descriptor is %d bytes, more than the %d allowed", ErrCorrupt, len(text), maxDescriptorBytes)
	}
	// Embedded descriptors are NUL padded.
	if i := strings.IndexByte(string(text), 0); i >= 0 {
		text = text[:i]
	}
	d := &descriptor{parentCID: noParentCID}
	var sawVersion, sawCID bool
	for n, raw := range strings.Split(string(text), "\n") {
		line := strings.TrimSpace(strings.TrimRight(raw, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lineNo := n + 1
		if e, ok, err := parseExtentLine(line); ok || err != nil {
			if err != nil {
				return nil, fmt.Errorf("%w: descriptor line %d: %w", ErrCorrupt, lineNo, err)
			}
			d.extents = append(d.extents, e)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%w: descriptor line %d: %q is neither key=value nor an extent", ErrCorrupt, lineNo, clip(line))
		}
		key := strings.TrimSpace(k)
		val := unquote(strings.TrimSpace(v))
		bad := func(what string) error {
			return fmt.Errorf("%w: descriptor line %d: %s %q", ErrCorrupt, lineNo, what, clip(val))
		}
		switch strings.ToLower(key) {
		case "version":
			ver, err := strconv.Atoi(val)
			if err != nil || ver < 1 || ver > 3 {
				return nil, bad("unsupported descriptor version")
			}
			d.version, sawVersion = ver, true
		case "encoding":
			d.encoding = val
		case "cid":
			c, err := strconv.ParseUint(val, 16, 32)
			if err != nil {
				return nil, bad("CID is not 32-bit hex:")
			}
			d.cid, sawCID = uint32(c), true
		case "parentcid":
			c, err := strconv.ParseUint(val, 16, 32)
			if err != nil {
				return nil, bad("parentCID is not 32-bit hex:")
			}
			d.parentCID = uint32(c)
		case "createtype":
			d.createType = val
		case "parentfilenamehint":
			d.parentHint = val
		default:
			if strings.HasPrefix(strings.ToLower(key), "ddb.") {
				d.ddb = append(d.ddb, keyValue{key, val})
			} else {
				d.extra = append(d.extra, keyValue{key, val})
			}
		}
	}
	if !sawVersion {
		d.version = 1
	}
	if !sawCID {
		// A missing CID is tolerated (some generators omit it); the disk
		// then simply has CID 0 until its first write.
		d.cid = 0
	}
	if d.createType == "" {
		return nil, fmt.Errorf("%w: descriptor has no createType", ErrCorrupt)
	}
	if len(d.extents) == 0 {
		return nil, fmt.Errorf("%w: descriptor has no extent lines", ErrCorrupt)
	}
	if d.sectorsTotal() > maxVirtualSectors {
		return nil, fmt.Errorf("%w: descriptor extents add up to %d sectors, more than the %d supported", ErrCorrupt, d.sectorsTotal(), int64(maxVirtualSectors))
	}
	return d, nil
}

// parseExtentLine parses line if it starts with an access mode. ok is false
// for lines that are not extent lines at all.
func parseExtentLine(line string) (e extentLine, ok bool, err error) {
	first, rest, _ := strings.Cut(line, " ")
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		first, rest = line[:i], strings.TrimSpace(line[i:])
	}
	switch strings.ToUpper(first) {
	case accessRW, accessRDONLY, accessNOACCESS:
	default:
		return e, false, nil
	}
	if strings.Contains(first, "=") {
		return e, false, nil
	}
	e.access = strings.ToUpper(first)
	var quoted string
	hasFile := false
	if q := strings.IndexByte(rest, '"'); q >= 0 {
		end := strings.LastIndexByte(rest, '"')
		if end == q {
			return e, true, fmt.Errorf("unterminated file name in extent line %q", clip(line))
		}
		quoted, hasFile = rest[q+1:end], true
		rest = rest[:q] + " \x00 " + rest[end+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) < 2 {
		return e, true, fmt.Errorf("extent line %q has fewer than 3 fields", clip(line))
	}
	if len(fields) > 6 {
		return e, true, fmt.Errorf("extent line %q has more than 7 fields", clip(line))
	}
	e.sectors, err = strconv.ParseInt(fields[0], 10, 64)
	if err != nil || e.sectors < 0 || e.sectors > maxVirtualSectors {
		return e, true, fmt.Errorf("extent size %q is not a sector count up to %d", fields[0], int64(maxVirtualSectors))
	}
	e.kind = strings.ToUpper(fields[1])
	switch e.kind {
	case extFlat, extSparse, extVMFS, extVMFSSparse, extSESparse, extVMFSRDM, extVMFSRaw:
		if !hasFile || len(fields) < 3 || fields[2] != "\x00" {
			return e, true, fmt.Errorf("%s extent line %q needs a quoted file name", e.kind, clip(line))
		}
		if quoted == "" {
			return e, true, fmt.Errorf("%s extent line %q has an empty file name", e.kind, clip(line))
		}
		e.file = quoted
		if len(fields) >= 4 {
			e.offset, err = strconv.ParseInt(fields[3], 10, 64)
			if err != nil || e.offset < 0 || e.offset > maxVirtualSectors {
				return e, true, fmt.Errorf("extent offset %q is not a sector count", fields[3])
			}
		}
	case extZero:
		if hasFile {
			e.file = quoted
		}
	default:
		return e, true, fmt.Errorf("unknown extent type %q", fields[1])
	}
	return e, true, nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// clip shortens hostile text before it goes into an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// String renders the descriptor canonically, in the key order and spelling
// qemu-img's strstr-based parser needs (CID before parentCID, %08x CIDs,
// explicit FLAT offsets, no spaces around '=' in the header).
func (d *descriptor) String() string {
	var b strings.Builder
	b.WriteString("# Disk DescriptorFile\n")
	fmt.Fprintf(&b, "version=%d\n", max(d.version, 1))
	if d.encoding != "" {
		fmt.Fprintf(&b, "encoding=%q\n", d.encoding)
	}
	fmt.Fprintf(&b, "CID=%08x\n", d.cid)
	fmt.Fprintf(&b, "parentCID=%08x\n", d.parentCID)
	for _, kv := range d.extra {
		fmt.Fprintf(&b, "%s=%s\n", kv.key, quoteIfNeeded(kv.value))
	}
	fmt.Fprintf(&b, "createType=\"%s\"\n", d.createType)
	if d.parentHint != "" {
		fmt.Fprintf(&b, "parentFileNameHint=\"%s\"\n", d.parentHint)
	}
	b.WriteString("\n# Extent description\n")
	for _, e := range d.extents {
		fmt.Fprintf(&b, "%s %d %s", e.access, e.sectors, e.kind)
		if e.kind != extZero {
			fmt.Fprintf(&b, " \"%s\"", e.file)
		}
		if e.kind == extFlat || (e.kind == extVMFS && e.offset != 0) {
			fmt.Fprintf(&b, " %d", e.offset)
		}
		b.WriteByte('\n')
	}
	b.WriteString("\n# The Disk Data Base\n#DDB\n\n")
	for _, kv := range d.ddb {
		fmt.Fprintf(&b, "%s = \"%s\"\n", kv.key, kv.value)
	}
	return b.String()
}

func quoteIfNeeded(v string) string {
	if _, err := strconv.ParseInt(v, 0, 64); err == nil {
		return v
	}
	return `"` + v + `"`
}
