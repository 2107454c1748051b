#!/usr/bin/env bash
# Hypervisor (hypercim's own VMM on /dev/kvm, see docs/hypervisor.md), all
# measured in this run on this machine with the test guest:
#   - start to first serial byte, p50 of 20: `hypercim vm run` process vs
#     QEMU's microvm machine (-accel kvm; tcg when KVM does not work for
#     QEMU here), and Machine.Start in process;
#   - VMM memory per machine outside guest RAM (Firecracker's 5 MiB bar),
#     as RSS, PSS and private memory, read from smaps without the guest RAM
#     mapping: `vm run` as shipped (it executes bin/hypercim-vmm), the whole
#     CLI running the VMM in process, and QEMU; and the marginal cost of
#     one more machine inside one process (how hypercimd runs them);
#   - machines per second on two workers (boot, report, power off), against
#     Firecracker's published 5 per host core per second;
#   - virtio-blk: the guest writing 32 MiB into a VMDK vs the vmdk package
#     writing the same bytes directly.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -e /dev/kvm ]] || { echo "40-hypervisor: no /dev/kvm, skipped"; exit 0; }
make -s build >/dev/null
export HYPERCIM_BIN=$PWD/bin/hypercim
pkg=./hypervisor/kvm/

accel=kvm
# isa-debug-exit makes QEMU exit with status 1 for the guest's 0: look at
# the output instead.
qemu_out=$(timeout 30 qemu-system-x86_64 -accel kvm -M microvm -cpu qemu64 -m 64M -nodefaults -no-user-config \
	-nographic -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=1 \
	-kernel bin/hypercim-testguest 2>/dev/null || true)
if ! grep -q 'testguest: done' <<<"$qemu_out"; then
	accel=tcg
	echo "note: QEMU cannot run the test guest with -accel kvm here; its numbers use -accel tcg"
fi
export QEMU_ACCEL=$accel

out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() { go test -run '^$' -bench "$1" -benchtime "$2" "$pkg" | grep -E '^Benchmark' | tee -a "$out"; }
run 'ProcessFirstSerialByte|QEMUFirstSerialByte|StartToFirstSerialByte' 20x
run 'VMMMemoryOverhead' 1x
run 'InProcessOverhead' 2x
run 'MachinesPerSecond' 50x
run 'VirtioBlkWrite|VMDKPackageWrite' 3x
run 'FirmwareBoot' 20x

echo "--- summary"
awk -v accel="$accel" '
function metric(name, unit,   i) { for (i = 3; i < NF; i++) if ($(i+1) == unit) v[name "/" unit] = $i }
BEGIN { split("vmm cli qemu", who); split("rss pss private", kind) }
/^BenchmarkProcessFirstSerialByte/ { metric("proc", "p50-ms") }
/^BenchmarkQEMUFirstSerialByte/    { metric("qemu", "p50-ms") }
/^BenchmarkStartToFirstSerialByte/ { metric("inproc", "p50-ms") }
/^BenchmarkVMMMemoryOverhead/      { for (w in who) for (k in kind) metric("mem", who[w] "-" kind[k] "-MiB") }
/^BenchmarkInProcessOverhead/      { metric("inmem", "MiB/machine") }
/^BenchmarkMachinesPerSecond/      { metric("rate", "machines/s") }
/^BenchmarkFirmwareBoot/           { metric("fw", "first-byte-p50-ms"); metric("fw", "poweroff-p50-ms") }
/^BenchmarkVirtioBlkWrite/         { metric("blk", "MiB/s") }
/^BenchmarkVMDKPackageWrite/       { metric("pkg", "MiB/s") }
END {
	p = v["proc/p50-ms"]; q = v["qemu/p50-ms"]
	printf "start to first serial byte, p50 of 20: hypercim vm run %.2f ms, QEMU microvm (-accel %s) %.2f ms: %.1fx faster (target 5x, under 20 ms)\n", p, accel, q, q / p
	printf "  Machine.Start in process: %.2f ms\n", v["inproc/p50-ms"]
	printf "VMM memory outside guest RAM (1 vCPU, 128 MiB), RSS / PSS / private MiB:\n"
	printf "  hypercim vm run (hypercim-vmm): %.2f / %.2f / %.2f; Firecracker bar 5 MiB: %.2fx of it\n", v["mem/vmm-rss-MiB"], v["mem/vmm-pss-MiB"], v["mem/vmm-private-MiB"], v["mem/vmm-rss-MiB"] / 5
	printf "  the whole CLI in process: %.2f / %.2f / %.2f\n", v["mem/cli-rss-MiB"], v["mem/cli-pss-MiB"], v["mem/cli-private-MiB"]
	printf "  QEMU: %.2f / %.2f / %.2f (%.1fx hypercim-vmm RSS)\n", v["mem/qemu-rss-MiB"], v["mem/qemu-pss-MiB"], v["mem/qemu-private-MiB"], v["mem/qemu-rss-MiB"] / v["mem/vmm-rss-MiB"]
	printf "  one more machine inside a running process: %.2f MiB\n", v["inmem/MiB/machine"]
	printf "machines per second on 2 cores (boot to power-off): %.1f, Firecracker 5/core/s = 10: %.1fx\n", v["rate/machines/s"], v["rate/machines/s"] / 10
	printf "firmware boot (hypercim BIOS, boot sector from a VMDK), p50 of 20: first serial byte %.2f ms, loader powered off %.2f ms (two timer ticks of it deliberate)\n", v["fw/first-byte-p50-ms"], v["fw/poweroff-p50-ms"]
	printf "virtio-blk, guest writing 32 MiB into a VMDK: %.0f MiB/s, vmdk package directly: %.0f MiB/s (%.2fx)\n", v["blk/MiB/s"], v["pkg/MiB/s"], v["blk/MiB/s"] / v["pkg/MiB/s"]
}' "$out"
