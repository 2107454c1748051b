#!/usr/bin/env bash
# Virtualization provider, measured on a real hypercimd (kvm engine, the
# test guest) over CIM-XML with keep-alive connections:
#   - DefineSystem (no disk) latency p50/p99, against the manager's own
#     Define in the same run (the ratio is what CIM-XML and the core add);
#   - RequestStateChange(start), synchronous (returns once the system
#     runs), p50/p99, against the manager's own start;
#   - systems defined and started per second by 8 concurrent clients;
#   - EnumerateInstances of CIM_ComputerSystem and of
#     CIM_ResourceAllocationSettingData with 1,000 defined systems.
# The Go benchmarks live in conformance/virt_bench_test.go and
# providers/virt/internal/vmm/bench_test.go; each runs once (-benchtime 1x)
# and reports its own percentiles.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ ! -e /dev/kvm ]]; then
	echo "virt: no /dev/kvm on this host; skipped"
	exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'BenchmarkManager' -benchtime 1x -timeout 20m ./providers/virt/internal/vmm/ | grep -E '^Benchmark' | tee -a "$out"
go test -run '^$' -bench 'BenchmarkVirt' -benchtime 1x -timeout 30m ./conformance/ | grep -E '^Benchmark' | tee -a "$out"

# metric BENCH UNIT prints the value a benchmark reported for UNIT.
metric() {
	awk -v b="$1" -v u="$2" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 3; i < NF; i++) if ($(i+1) == u) print $i }' "$out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }

echo "--- summary"
d50=$(metric BenchmarkVirtDefineSystem define-p50-ms); d99=$(metric BenchmarkVirtDefineSystem define-p99-ms)
m50=$(metric BenchmarkManagerDefine define-p50-ms); m99=$(metric BenchmarkManagerDefine define-p99-ms)
echo "DefineSystem (no disk) via CIM-XML: p50 ${d50} ms, p99 ${d99} ms; manager API: p50 ${m50} ms, p99 ${m99} ms; ratio p50 $(ratio "$d50" "$m50")x, p99 $(ratio "$d99" "$m99")x"
s50=$(metric BenchmarkVirtStart start-p50-ms); s99=$(metric BenchmarkVirtStart start-p99-ms)
ms50=$(metric BenchmarkManagerStart start-p50-ms); ms99=$(metric BenchmarkManagerStart start-p99-ms)
echo "RequestStateChange(2) until running via CIM-XML: p50 ${s50} ms, p99 ${s99} ms; manager API: p50 ${ms50} ms, p99 ${ms99} ms; ratio p50 $(ratio "$s50" "$ms50")x"
echo "Defined and started by 8 clients: $(metric BenchmarkVirtDefineStart8 vms/s) systems/s"
echo "EnumerateInstances CIM_ComputerSystem, 1,000 systems: $(metric BenchmarkVirtEnumerate1000 cs-instances) instances, p50 $(metric BenchmarkVirtEnumerate1000 cs-p50-ms) ms ($(metric BenchmarkVirtEnumerate1000 cs-inst/s) instances/s)"
echo "EnumerateInstances CIM_ResourceAllocationSettingData, 1,000 systems: $(metric BenchmarkVirtEnumerate1000 rasd-instances) instances, p50 $(metric BenchmarkVirtEnumerate1000 rasd-p50-ms) ms ($(metric BenchmarkVirtEnumerate1000 rasd-inst/s) instances/s)"
