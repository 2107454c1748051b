package kvm

import "encoding/binary"

// ioData returns the bytes of a KVM_EXIT_IO: direction, access size, port
// and the data buffer inside the kvm_run mapping.
func (r *kvmRunData) ioData(mapping []byte) (dir uint8, size uint8, port uint16, data []byte) {
	// struct { __u8 direction; __u8 size; __u16 port; __u32 count; __u64 data_offset; }
	e := r.Exit[:]
	dir, size = e[0], e[1]
	port = binary.LittleEndian.Uint16(e[2:4])
	count := binary.LittleEndian.Uint32(e[4:8])
	off := binary.LittleEndian.Uint64(e[8:16])
	n := uint64(size) * uint64(count)
	if off > uint64(len(mapping)) || n > uint64(len(mapping))-off {
		return dir, size, port, nil
	}
	return dir, size, port, mapping[off : off+n]
}

// mmioData returns the fields of a KVM_EXIT_MMIO; data aliases kvm_run so
// writing it answers a read.
func (r *kvmRunData) mmioData() (addr uint64, data []byte, isWrite bool) {
	// struct { __u64 phys_addr; __u8 data[8]; __u32 len; __u8 is_write; }
	e := r.Exit[:]
	addr = binary.LittleEndian.Uint64(e[0:8])
	n := binary.LittleEndian.Uint32(e[16:20])
	if n > 8 {
		n = 8
	}
	return addr, e[8 : 8+n], e[20] != 0
}
