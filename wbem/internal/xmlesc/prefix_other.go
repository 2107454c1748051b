//go:build !amd64

package xmlesc

// vectorPrefix has no vector implementation on this architecture: Append
// uses its word-at-a-time loops.
func vectorPrefix(s string) (int, bool) { return 0, false }
