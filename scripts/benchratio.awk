# benchratio.awk summarises `go test -bench` output: the ns/op of each benchmark,
# and for sub-benchmarks whose parent has a "baseline" sibling, the ratio to it.
# See scripts/bench.sh for the naming convention. POSIX awk; set -v module=PATH
# to print package paths relative to the module.

function num(v) {
	if (v == int(v)) return sprintf("%.0f", v)
	if (v >= 100) return sprintf("%.0f", v)
	if (v >= 10) return sprintf("%.1f", v)
	return sprintf("%.3g", v)
}

/^pkg: / { pkg = $2 }

/^Benchmark/ && NF >= 4 && $2 ~ /^[0-9]+$/ {
	name = substr($1, length("Benchmark") + 1)
	sub(/-[0-9]+$/, "", name)
	key = pkg SUBSEP name
	if (!(key in seen)) {
		seen[key] = 1
		order[++n] = key
		pkgof[key] = pkg
		nameof[key] = name
		units[key] = ""
		if (length(name) > width) width = length(name)
		leaf = name
		parent = ""
		if (match(name, /.*\//)) {
			parent = substr(name, 1, RLENGTH - 1)
			leaf = substr(name, RLENGTH + 1)
		}
		parentof[key] = parent
		if (parent != "" && leaf == "baseline") baseline[pkg SUBSEP parent] = key
	}
	for (i = 3; i < NF; i += 2) {
		u = $(i + 1)
		if (!((key, u) in cnt)) units[key] = units[key] " " u
		sum[key, u] += $i
		cnt[key, u]++
	}
}

END {
	if (n == 0) {
		print "bench: no benchmarks ran"
		exit 0
	}
	fmt = "  %-" width "s  %10s ns/op  %-15s%s"
	for (j = 1; j <= n; j++) {
		key = order[j]
		if (pkgof[key] != last) {
			last = pkgof[key]
			p = last
			if (module != "" && index(p, module "/") == 1) p = substr(p, length(module) + 2)
			print p
		}
		ns = "-"
		if ((key, "ns/op") in cnt) ns = sum[key, "ns/op"] / cnt[key, "ns/op"]
		ratio = ""
		b = pkgof[key] SUBSEP parentof[key]
		if (b in baseline) {
			bk = baseline[b]
			if (bk == key) {
				ratio = "baseline"
			} else if (ns != "-" && ((bk, "ns/op") in cnt)) {
				bns = sum[bk, "ns/op"] / cnt[bk, "ns/op"]
				if (bns > 0) ratio = sprintf("%.2fx baseline", ns / bns)
			}
		}
		extra = ""
		m = split(units[key], us, " ")
		for (i = 1; i <= m; i++) {
			if (us[i] == "ns/op") continue
			extra = extra "  " num(sum[key, us[i]] / cnt[key, us[i]]) " " us[i]
		}
		line = sprintf(fmt, nameof[key], (ns == "-" ? ns : num(ns)), ratio, extra)
		sub(/ +$/, "", line)
		print line
	}
}
