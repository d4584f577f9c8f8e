#!/usr/bin/env bash
# fuzz.sh runs every fuzz target in the module, one at a time, for FUZZTIME each
# (default 10s), and stops at the first failure. Inputs that make a target fail
# are written to the package's testdata/fuzz/ and are meant to be committed.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-10s}"

pkgs=$(go list ./...)
found=0
for pkg in $pkgs; do
	list=$(go test -list '^Fuzz' "$pkg")
	for name in $(echo "$list" | awk '/^Fuzz/'); do
		found=$((found + 1))
		echo "=== fuzz $pkg $name for $FUZZTIME"
		go test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" "$pkg" || {
			echo "fuzz.sh: $name in $pkg failed" >&2
			exit 1
		}
	done
done
if [ "$found" -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets in the module yet; nothing to run"
fi
