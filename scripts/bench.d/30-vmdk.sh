#!/usr/bin/env bash
# VMDK layer: sequential allocating write vs a raw file and qemu-img bench,
# random 4 KiB reads vs raw, convert to streamOptimized vs qemu-img convert
# (at hypercim's default deflate level and at qemu-img's, each ratio with
# both output sizes); all measured in this run on the same file system (see
# docs/vmdk.md).
# VMDK_BENCH_SIZE (default 1G) and VMDK_BENCH_DIR override the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x bin/hypercim ]] || go build -o bin/hypercim ./cmd/hypercim
dir=$(mktemp -d "${VMDK_BENCH_DIR:-${TMPDIR:-/tmp}}/hypercim-vmdk-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
bin/hypercim vmdk bench --dir "$dir" --size "${VMDK_BENCH_SIZE:-1G}"
echo "--- Go benchmarks (vmdk package)"
go test -run '^$' -bench 'SeqAllocWrite|RawWrite' -benchtime 3x ./vmdk/ | grep -E '^Benchmark'
go test -run '^$' -bench 'RandomRead4K' ./vmdk/ | grep -E '^Benchmark'
