package testprovider

import (
	"fmt"
	"testing"
)

// genIndex accepts exactly the Ids gen writes.
func TestGenIndex(t *testing.T) {
	for _, i := range []int{0, 7, 123, 9999999, 10000000, 12345678} {
		id := fmt.Sprintf("g%07d", i)
		if got, ok := genIndex(id); !ok || got != i {
			t.Errorf("genIndex(%q) = %d, %v; want %d", id, got, ok, i)
		}
	}
	for _, id := range []string{"", "g", "g000012", "g01234567", "g+000012", "g-000001", "g00000a1", "x0000001", "G0000001", "g0000001 "} {
		if i, ok := genIndex(id); ok {
			t.Errorf("genIndex(%q) = %d, want no index", id, i)
		}
	}
}
