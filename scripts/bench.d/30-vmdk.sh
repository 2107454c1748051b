#!/usr/bin/env bash
# VMDK layer: sequential allocating write vs a raw file and qemu-img bench,
# random 4 KiB reads vs raw, convert to streamOptimized vs qemu-img convert
# (every compression level, with time, rate, output size and both ratios;
# the headline is hypercim's default level), and convert of that stream
# back to raw vs qemu-img; all measured in this run on the same file system
# (see docs/vmdk.md).
# VMDK_BENCH_SIZE (default 1G), VMDK_BENCH_DIR and VMDK_BENCH_LEVELS
# (default fast,default,best,6) override the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x bin/hypercim ]] || go build -o bin/hypercim ./cmd/hypercim
dir=$(mktemp -d "${VMDK_BENCH_DIR:-${TMPDIR:-/tmp}}/hypercim-vmdk-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
bin/hypercim vmdk bench --dir "$dir" --size "${VMDK_BENCH_SIZE:-1G}" --levels "${VMDK_BENCH_LEVELS:-fast,default,best,6}"
echo "--- Go benchmarks (vmdk package)"
go test -run '^$' -bench 'SeqAllocWrite|RawWrite' -benchtime 3x ./vmdk/ | grep -E '^Benchmark'
go test -run '^$' -bench 'RandomRead4K' ./vmdk/ | grep -E '^Benchmark'
go test -run '^$' -bench 'ConvertStream|ConvertFromStream' -benchtime 3x ./vmdk/ | grep -E '^Benchmark'
