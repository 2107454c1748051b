#!/usr/bin/env bash
# CIMOM core (package wbem), without a protocol: EnumerateInstances of
# 20,000 static instances of about 1 KB against the repository's own
# enumeration of the same instances (the baseline: the ratio is the core's
# overhead), provider enumerations and pulls of 100,000 instances,
# GetInstance, and ExecQuery. OpenPegasus's published figure for
# EnumerateInstances is about 9,500 instances/s (over HTTP, cimcli).
# The CIM-XML and WS-Man suites measure the same paths over HTTP.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(go test -run '^$' -bench . -benchmem -count 3 ./wbem/ | grep -E '^Benchmark')
echo "$out"
echo "$out" | awk '
	/RepositoryBaseline/ { for (i = 1; i <= NF; i++) if ($(i+1) == "instances/s" && $i > base) base = $i }
	/EnumerateInstancesStatic/ { for (i = 1; i <= NF; i++) if ($(i+1) == "instances/s" && $i > core) core = $i }
	END {
		if (base > 0 && core > 0) {
			printf "EnumerateInstances (static, best of 3): %.0f instances/s; repository alone %.0f instances/s; core/baseline time ratio %.2f\n", core, base, base / core
			printf "against OpenPegasus published 9,500 instances/s: %.1fx\n", core / 9500
		}
	}'
echo "--- query and auth packages"
go test -run '^$' -bench . -benchmem ./wbem/query/ ./wbem/auth/ | grep -E '^Benchmark' || true
