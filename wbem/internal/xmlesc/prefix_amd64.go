package xmlesc

import "golang.org/x/sys/cpu"

// plainPrefixAVX2 returns the index of the first byte of s that is not
// plain (see table), or len(s); len(s) must be at least 32. It tests 32
// and 64 bytes per step with AVX2.
//
//go:noescape
func plainPrefixAVX2(s string) int

// vectorPrefix returns the index of the first byte of s that is not
// plain, or len(s), and true; false when this CPU cannot (no AVX2) or s
// is shorter than vectorMin.
func vectorPrefix(s string) (int, bool) {
	if len(s) < vectorMin || !cpu.X86.HasAVX2 {
		return 0, false
	}
	return plainPrefixAVX2(s), true
}
