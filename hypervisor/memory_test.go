package hypervisor

import (
	"errors"
	"strings"
	"testing"
)

func TestHostMemory(t *testing.T) {
	n, err := HostMemory()
	if err != nil {
		t.Fatal(err)
	}
	if n < 64<<20 || n > 1<<50 {
		t.Errorf("host memory %d bytes is implausible", n)
	}
}

func TestCheckMemory(t *testing.T) {
	if err := CheckMemory(1<<30, 2<<30, "X"); err != nil {
		t.Errorf("1 GiB under a 2 GiB limit: %v", err)
	}
	if err := CheckMemory(1<<40, 0, "X"); err != nil {
		t.Errorf("no limit: %v", err)
	}
	err := CheckMemory(4000<<30, 24<<30, "--overcommit")
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "3.9 TiB") ||
		!strings.Contains(err.Error(), "24 GiB") || !strings.Contains(err.Error(), "--overcommit") {
		t.Errorf("4000 GiB on 24 GiB: %v", err)
	}
}
