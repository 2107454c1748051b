package devices

// The helpers below move register values between a device and an access of
// any width, little-endian, as x86 lays them out.

// Get returns data as an unsigned integer (1 to 8 bytes, little-endian).
func Get(data []byte) uint64 {
	var v uint64
	for i := len(data) - 1; i >= 0; i-- {
		v = v<<8 | uint64(data[i])
	}
	return v
}

// Put stores v into data (1 to 8 bytes, little-endian), truncating.
func Put(data []byte, v uint64) {
	for i := range data {
		data[i] = byte(v)
		v >>= 8
	}
}

// ReadWindow answers a read of len(data) bytes at offset off of the
// register block regs; bytes beyond it read as zero.
func ReadWindow(regs []byte, off uint64, data []byte) {
	for i := range data {
		if o := off + uint64(i); o < uint64(len(regs)) {
			data[i] = regs[o]
		} else {
			data[i] = 0
		}
	}
}
