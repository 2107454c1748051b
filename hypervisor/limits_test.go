package hypervisor

import (
	"errors"
	"testing"
)

// ValidateFor refuses a hard limit below the guest RAM (the emulator
// would be killed as the guest touched its memory), and what Validate
// refuses.
func TestValidateFor(t *testing.T) {
	const ram = 128 << 20
	for _, ok := range []Limits{{}, {MemoryHardLimit: ram}, {MemoryHardLimit: 1 << 30, MemorySoftLimit: 64 << 20}, {MemorySoftLimit: 64 << 20}} {
		if err := ok.ValidateFor(ram); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, bad := range []Limits{{MemoryHardLimit: 64 << 20}, {CPUCapPercent: 101}} {
		if err := bad.ValidateFor(ram); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
