#!/usr/bin/env bash
# WS-Management against CIM-XML, on one bin/hypercimd and the same data, in
# the same run (conformance/wsman/bench_test.go):
#   - Enumerate + Pull (optimized, MaxElements 1000) of 100,000 instances of
#     about 1 KB, against one streamed CIM-XML EnumerateInstances of them;
#     target: WS-Man takes less than 1.5 times as long;
#   - Get of one instance by 16 concurrent keep-alive clients: requests/s and
#     p50/p99 latency, with CIM-XML GetInstance as the baseline;
#   - the daemon's peak RSS growth while a million instances are enumerated
#     (constant memory: it must not grow with the count).
# Each round runs both protocols back to back; the numbers are the medians
# over the rounds (BENCHTIME, default 5x), so that a load spike on the
# shared machine does not decide them.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(go test -run '^$' -bench 'BenchmarkWSMan(Enumerate100k|Get)$' -benchtime "${BENCHTIME:-5x}" -timeout 20m ./conformance/wsman/)
out+=$'\n'$(go test -run '^$' -bench 'BenchmarkWSManEnumerate1MMemory$' -benchtime 1x -timeout 20m ./conformance/wsman/)
echo "$out" | grep -E '^Benchmark'
metric() { # metric BENCHMARK UNIT
	echo "$out" | awk -v b="$1" -v u="$2" '$1 ~ b { for (i = 3; i < NF; i++) if ($(i+1) == u) print $i }'
}
ws=$(metric Enumerate100k wsman-inst/s)
cx=$(metric Enumerate100k cimxml-inst/s)
ratio=$(metric Enumerate100k time-ratio)
printf 'wsman enumerate+pull 100k: %.0f instances/s; CIM-XML EnumerateInstances (baseline): %.0f instances/s; time ratio %.2f (target < 1.5)\n' "$ws" "$cx" "$ratio"
printf 'wsman Get, 16 clients: %.0f requests/s, p50 %s µs, p99 %s µs; CIM-XML GetInstance (baseline): %.0f requests/s, p50 %s µs, p99 %s µs\n' \
	"$(metric WSManGet wsman-req/s)" "$(metric WSManGet wsman-p50-µs)" "$(metric WSManGet wsman-p99-µs)" \
	"$(metric WSManGet cimxml-req/s)" "$(metric WSManGet cimxml-p50-µs)" "$(metric WSManGet cimxml-p99-µs)"
printf 'wsman enumerate of 1M instances: daemon peak RSS grew %s MiB (from %s MiB)\n' \
	"$(metric Enumerate1MMemory rss-growth-MiB)" "$(metric Enumerate1MMemory rss-before-MiB)"
