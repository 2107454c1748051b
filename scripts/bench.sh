#!/usr/bin/env bash
# Runs every benchmark suite: each scripts/bench.d/*.sh prints its numbers and
# the ratio against the baseline it names, measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for suite in scripts/bench.d/*.sh; do
	[[ -e "$suite" ]] || continue
	echo "=== $(basename "$suite" .sh)"
	bash "$suite" || { echo "bench: $suite failed"; status=1; }
done
exit $status
