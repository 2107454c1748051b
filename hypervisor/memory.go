package hypervisor

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// HostMemory returns the host's physical memory, MemTotal of
// /proc/meminfo, in bytes.
func HostMemory() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading the host's memory size: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		v, ok := strings.CutPrefix(s.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 2 && fields[1] == "kB" {
			if kib, err := strconv.ParseUint(fields[0], 10, 64); err == nil {
				return kib << 10, nil
			}
		}
		return 0, fmt.Errorf("reading the host's memory size: malformed MemTotal line %q in /proc/meminfo", s.Text())
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("reading the host's memory size: %w", err)
	}
	return 0, fmt.Errorf("reading the host's memory size: no MemTotal in /proc/meminfo")
}

// CheckMemory refuses a machine whose guest RAM exceeds limit, the
// largest guest the host can back (its physical memory unless the caller
// chose another bound). Guest RAM is reserved lazily, so such a machine
// starts, and the host's OOM killer ends the whole VMM once the guest
// touches more than there is. overcommit names the option that lifts the
// check, for the error message.
func CheckMemory(memoryBytes, limit uint64, overcommit string) error {
	if limit == 0 || memoryBytes <= limit {
		return nil
	}
	return fmt.Errorf("%w: %s of guest memory is more than the %s this host can back; a guest using it all would get "+
		"the process running it killed for lack of memory. Give the machine less memory, or set %s to run it anyway",
		ErrInvalidConfig, FormatBytes(memoryBytes), FormatBytes(limit), overcommit)
}

// FormatBytes prints a size in the largest binary unit that keeps one
// decimal: "256 MiB", "23.4 GiB".
func FormatBytes(n uint64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
