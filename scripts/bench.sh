#!/usr/bin/env bash
# bench.sh runs the benchmarks and prints a summary against their baselines.
#
# Convention: a benchmark with a speed goal has sub-benchmarks, one named
# "baseline" (what we compare against) and the others named after what is
# measured, for example
#
#	BenchmarkSeal1KiB/baseline
#	BenchmarkSeal1KiB/custos
#
# The summary gives each other sub-benchmark's ns/op as a ratio to its baseline
# ("Seal1KiB/custos  1234 ns/op  1.08x baseline"; above 1 is slower). Benchmarks
# without a baseline are listed with their ns/op. Other metrics (-benchmem and
# b.ReportMetric) are passed through. With COUNT > 1, values are means.
# The -N GOMAXPROCS suffix is stripped, so do not end a benchmark name in -digits.
#
# BENCH is the -bench pattern (default .), COUNT the -count (default 1).
# The raw go test output is kept in bin/bench.txt (for benchstat, say).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin

pkgs=$(go list ./...)
if [ -z "$pkgs" ]; then
	echo "bench.sh: no packages in the module yet; nothing to run"
	exit 0
fi
go test -run '^$' -bench "${BENCH:-.}" -benchmem -count "${COUNT:-1}" ./... | tee bin/bench.txt
echo
awk -v module="$(go list -m)" -f scripts/benchratio.awk bin/bench.txt
