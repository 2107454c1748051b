#!/usr/bin/env bash
# CIM-XML front door, measured on a real hypercimd over loopback with
# keep-alive connections (load generator: conformance/cimxml/bench):
# EnumerateInstances of 100,000 instances of about 1 KB, against Go's
# net/http serving the same bytes from a static file; GetInstance with 16
# concurrent clients (requests/s, p50, p99); the daemon's RSS growth while
# it streams 1,000,000 instances. Then the encoder/decoder Go benchmarks.
# CIMXML_BENCH_ARGS passes options to the load generator (see its -help).
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/hypercimd" ./cmd/hypercimd
go build -o "$tmp/bench" ./conformance/cimxml/bench
# shellcheck disable=SC2086
"$tmp/bench" -hypercimd "$tmp/hypercimd" ${CIMXML_BENCH_ARGS:-}
echo "--- Go benchmarks (wbem/cimxml)"
go test -run '^$' -bench 'EncodeNamedInstance|DecodeGetInstance' -benchmem -count 3 ./wbem/cimxml/ | grep -E '^Benchmark'
