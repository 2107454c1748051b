package linuxguest

import (
	"fmt"
	"io"
	"strings"
)

// cpioWriter writes a "newc" (SVR4, no CRC) cpio archive, the format the
// kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst). Times and owners are zero, so the same input always
// gives the same bytes.
type cpioWriter struct {
	w   io.Writer
	ino uint32
	off int64
	err error
}

// File type bits of cpio's mode field, as in <sys/stat.h>.
const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
	modeRegular  = 0o100000
	modeSymlink  = 0o120000
	modeCharDev  = 0o020000
)

const cpioTrailer = "TRAILER!!!"

func (c *cpioWriter) dir(name string) { c.entry(name, modeDir|0o755, 0, 0, nil) }

func (c *cpioWriter) file(name string, perm uint32, data []byte) {
	c.entry(name, modeRegular|perm, 0, 0, data)
}

func (c *cpioWriter) symlink(name, target string) {
	c.entry(name, modeSymlink|0o777, 0, 0, []byte(target))
}

func (c *cpioWriter) charDev(name string, perm, major, minor uint32) {
	c.entry(name, modeCharDev|perm, major, minor, nil)
}

// close writes the trailer entry that ends the archive.
func (c *cpioWriter) close() error {
	c.entry(cpioTrailer, 0, 0, 0, nil)
	return c.err
}

func (c *cpioWriter) entry(name string, mode, rdevMajor, rdevMinor uint32, data []byte) {
	if c.err != nil {
		return
	}
	name = strings.TrimPrefix(name, "/")
	c.ino++
	nlink := uint32(1)
	if mode&modeTypeMask == modeDir {
		nlink = 2
	}
	// Fields, in order: magic, ino, mode, uid, gid, nlink, mtime, filesize,
	// devmajor, devminor, rdevmajor, rdevminor, namesize, check.
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
	c.write(data)
	c.pad()
}

// pad aligns the next header or data to 4 bytes, as newc requires.
func (c *cpioWriter) pad() {
	if n := c.off % 4; n != 0 {
		c.write(make([]byte, 4-n))
	}
}

func (c *cpioWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(p)
	c.off += int64(n)
	c.err = err
}
