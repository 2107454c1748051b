#!/usr/bin/env bash
# CIM-XML front door, measured on a real hypercimd over loopback with
# keep-alive connections (orchestrated by conformance/cimxml/bench; see its
# doc comment and docs/cimxml.md):
#   - EnumerateInstances of 100,000 instances of about 1 KB, timed with curl,
#     from a provider with prepared instances and from the test provider
#     generating them, against Go's net/http serving the same bytes from a
#     static file, rounds alternating between the two: time ratio (target
#     < 2, prepared source) and CPU time of each server;
#   - GetInstance with 16 concurrent clients from wrk (requests/s, p50, p90,
#     p99, server CPU per request), without and with 1 ms pauses between a
#     client's requests, against hypercimd and against net/http serving
#     the same answer from a file (ratios printed), and from 16 goroutines
#     with Go's client;
#   - the daemon's RSS growth while it streams 1,000,000 instances.
# Then the encoder, escaping and decoder Go benchmarks, and the handler's
# own cost per GetInstance (allocations per request are the figure that
# other work on the machine does not blur).
# CIMXML_BENCH_ARGS passes options to the load generator (see its -help).
# curl and wrk are installed from Debian when missing (benchmarks only).
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if ((${#missing[@]})); then
	echo "50-cimxml: installing ${missing[*]} (load generators of this benchmark)"
	sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/hypercimd" ./cmd/hypercimd
go build -o "$tmp/bench" ./conformance/cimxml/bench
# shellcheck disable=SC2086
"$tmp/bench" -hypercimd "$tmp/hypercimd" ${CIMXML_BENCH_ARGS:-}
echo "--- Go benchmarks (wbem/cimxml, wbem/cimxml/xmlcodec)"
go test -run '^$' -bench 'EncodeNamedInstance|DecodeGetInstance|GetInstanceServeHTTP' -benchmem -count 3 ./wbem/cimxml/ | grep -E '^Benchmark'
go test -run '^$' -bench 'AppendEscaped|Parse$' -benchmem -count 3 ./wbem/cimxml/xmlcodec/ | grep -E '^Benchmark'
