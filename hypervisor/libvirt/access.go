package libvirt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"libvirt.org/go/libvirtxml"

	"github.com/hypercim/hypercim/hypervisor"
)

// qemuIdentity is the user and group QEMU runs as: libvirt's DAC base
// label for the domain type ("+64055:+64055" for Debian's libvirt-qemu).
type qemuIdentity struct {
	uid, gid int
	known    bool // false: libvirt reports no DAC model; nothing is granted
}

// root reports whether QEMU runs as root, which needs no grants.
func (q qemuIdentity) root() bool { return q.known && q.uid == 0 }

func (q qemuIdentity) String() string {
	return fmt.Sprintf("uid %d, gid %d", q.uid, q.gid)
}

// qemuIdentityFrom reads the DAC base label of domainType from libvirt's
// capabilities.
func qemuIdentityFrom(caps *libvirtxml.Caps, domainType string) qemuIdentity {
	for _, sm := range caps.Host.SecModel {
		if sm.Name != "dac" {
			continue
		}
		for _, l := range sm.Labels {
			if l.Type != domainType {
				continue
			}
			u, g, ok := strings.Cut(strings.TrimSpace(l.Value), ":")
			uid, errU := strconv.Atoi(strings.TrimPrefix(u, "+"))
			gid, errG := strconv.Atoi(strings.TrimPrefix(g, "+"))
			if ok && errU == nil && errG == nil {
				return qemuIdentity{uid: uid, gid: gid, known: true}
			}
		}
	}
	return qemuIdentity{}
}

// Access bits, as in a mode's rwx triplets and ACL entries.
const (
	permRead  = 4
	permWrite = 2
)

// POSIX ACL entry tags and the extended attribute that holds a file's
// access ACL (the kernel's posix_acl_xattr format: a version word, then
// little-endian tag, permission and id triplets sorted by tag and id).
const (
	aclXattr      = "system.posix_acl_access"
	aclVersion    = 2
	aclUserObj    = 0x01
	aclUser       = 0x02
	aclGroupObj   = 0x04
	aclGroup      = 0x08
	aclMask       = 0x10
	aclOther      = 0x20
	aclUndefined  = 0xffffffff
	aclEntryBytes = 8
)

type aclEntry struct {
	tag  uint16
	perm uint16
	id   uint32
}

// grantAccess makes sure QEMU's user can open path with perm (permRead,
// or permRead|permWrite). libvirt relabels only the files its domain XML
// names (a disk's top image, while the machine runs); QEMU also opens the
// extent files of a VMDK descriptor and, through hypercim's backingStore
// elements marked relabel="no", the parents of a delta, which keep their
// owner. When the file's mode and ACL do not already allow the access, an
// ACL entry for QEMU's user is added; the owner, group and mode stay.
func grantAccess(path string, q qemuIdentity, perm uint16) error {
	if !q.known || q.root() {
		return nil
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return &os.PathError{Op: "stat", Path: path, Err: err}
	}
	entries, hasACL, err := readACL(path)
	if err != nil {
		return err
	}
	if !hasACL {
		entries = []aclEntry{
			{aclUserObj, uint16(st.Mode>>6) & 7, aclUndefined},
			{aclGroupObj, uint16(st.Mode>>3) & 7, aclUndefined},
			{aclOther, uint16(st.Mode) & 7, aclUndefined},
		}
	}
	if allowed(entries, st.Uid, st.Gid, q)&perm == perm {
		return nil
	}
	i := slices.IndexFunc(entries, func(e aclEntry) bool { return e.tag == aclUser && e.id == uint32(q.uid) })
	if i < 0 {
		entries = append(entries, aclEntry{aclUser, 0, uint32(q.uid)})
		i = len(entries) - 1
	}
	entries[i].perm |= perm
	// The mask bounds every named entry and the owning group: make it the
	// union of them, as setfacl does.
	mask := uint16(0)
	entries = slices.DeleteFunc(entries, func(e aclEntry) bool { return e.tag == aclMask })
	for _, e := range entries {
		if e.tag == aclUser || e.tag == aclGroup || e.tag == aclGroupObj {
			mask |= e.perm
		}
	}
	entries = append(entries, aclEntry{aclMask, mask, aclUndefined})
	slices.SortFunc(entries, func(a, b aclEntry) int {
		if a.tag != b.tag {
			return int(a.tag) - int(b.tag)
		}
		return int(int64(a.id) - int64(b.id))
	})
	buf := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range entries {
		buf = binary.LittleEndian.AppendUint16(buf, e.tag)
		buf = binary.LittleEndian.AppendUint16(buf, e.perm)
		buf = binary.LittleEndian.AppendUint32(buf, e.id)
	}
	if err := unix.Setxattr(path, aclXattr, buf, 0); err != nil {
		what := "read"
		if perm&permWrite != 0 {
			what = "read and write"
		}
		hint := "its file system does not support POSIX ACLs"
		if !errors.Is(err, unix.EOPNOTSUPP) {
			hint = err.Error()
		}
		return fmt.Errorf("%w: QEMU (%s) must %s %s, and hypercim could not grant it with an ACL (%s): "+
			"give that user access (for instance chown the file to it), or convert the disk to a monolithicSparse or monolithicFlat VMDK",
			hypervisor.ErrInvalidConfig, q, what, path, hint)
	}
	return nil
}

// readACL returns a file's access ACL; hasACL is false when it has none
// beyond its mode.
func readACL(path string) (entries []aclEntry, hasACL bool, err error) {
	buf := make([]byte, 512)
	for {
		n, err := unix.Getxattr(path, aclXattr, buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, 2*len(buf))
			continue
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.EOPNOTSUPP):
			return nil, false, nil
		case err != nil:
			return nil, false, &os.PathError{Op: "getxattr " + aclXattr, Path: path, Err: err}
		}
		buf = buf[:n]
		break
	}
	if len(buf) < 4 || binary.LittleEndian.Uint32(buf) != aclVersion || (len(buf)-4)%aclEntryBytes != 0 {
		return nil, false, fmt.Errorf("%s: unreadable access ACL (%d bytes)", path, len(buf))
	}
	for b := buf[4:]; len(b) > 0; b = b[aclEntryBytes:] {
		entries = append(entries, aclEntry{binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])})
	}
	return entries, true, nil
}

// allowed evaluates an ACL for QEMU's user as the kernel does (owner,
// named user, groups, other), considering its primary group only.
func allowed(entries []aclEntry, owner, group uint32, q qemuIdentity) uint16 {
	find := func(tag uint16, id uint32) (uint16, bool) {
		for _, e := range entries {
			if e.tag == tag && (id == aclUndefined || e.id == id) {
				return e.perm, true
			}
		}
		return 0, false
	}
	mask, hasMask := find(aclMask, aclUndefined)
	if !hasMask {
		mask = 7
	}
	if owner == uint32(q.uid) {
		p, _ := find(aclUserObj, aclUndefined)
		return p
	}
	if p, ok := find(aclUser, uint32(q.uid)); ok {
		return p & mask
	}
	if group == uint32(q.gid) {
		p, _ := find(aclGroupObj, aclUndefined)
		return p & mask
	}
	if p, ok := find(aclGroup, uint32(q.gid)); ok {
		return p & mask
	}
	p, _ := find(aclOther, aclUndefined)
	return p
}
