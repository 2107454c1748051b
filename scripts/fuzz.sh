#!/usr/bin/env bash
# Runs every Go fuzz target for the given time each (default 30s).
# `make test` already runs the seed corpora; this explores further.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-30s}
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
		echo "=== $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
