#!/usr/bin/env bash
# devnet.sh runs a local custos network: N custodian nodes (default 5) with
# threshold K (default 3) on 127.0.0.1, in a directory of your choice.
#
#   scripts/devnet.sh up DIR [-n N] [-k K]   make (first time) and start the nodes;
#                                           writes DIR/network.yaml
#   scripts/devnet.sh stop DIR              stop every node (SIGTERM)
#   scripts/devnet.sh status DIR            each node: running or not, and its status
#   scripts/devnet.sh kill DIR NODE         kill one node (SIGKILL), as a crash would
#   scripts/devnet.sh start DIR NODE        start one stopped node again
#   scripts/devnet.sh invite DIR USER       print --token NODE=TOKEN for every node
#
# Nodes are n1..nN. Each listens on a port the system picks at its first start;
# the port is then written into its node.yaml, so a restarted node comes back on
# the address the network file names. Binaries come from $CUSTOS_BIN, else ./bin
# (make build), else the PATH (make install). up on a directory that holds a
# network starts it as it is, and says so when it ignores -n or -k.
set -euo pipefail
caller=$PWD # a relative DIR is the caller's, not the repository's
cd "$(dirname "$0")/.."
# The binaries: $CUSTOS_BIN, else ./bin (make build), else the PATH (make install).
if [ -n "${CUSTOS_BIN:-}" ]; then
	bin=$CUSTOS_BIN
elif [ -x bin/custosd ] && [ -x bin/custos ]; then
	bin=$PWD/bin
else
	bin=$(dirname "$(command -v custosd || echo ./bin/custosd)")
fi
custosd="$bin/custosd"
custos="$bin/custos"

die() { echo "devnet: $*" >&2; exit 1; }
# usage prints the comment at the top of this file, all of it.
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0" >&2; exit 2; }

nodes() { find "$1" -mindepth 1 -maxdepth 1 -type d -name 'n[0-9]*' | sort -V; }

running() { # DIR/nI
	[ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null
}

start_node() { # DIR/nI
	local d=$1
	running "$d" && return 0
	"$custosd" run --config "$d/node.yaml" >>"$d/custosd.log" 2>&1 &
	echo $! >"$d/pid"
	for _ in $(seq 1 150); do
		if "$custosd" status --config "$d/node.yaml" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$(cat "$d/pid")" 2>/dev/null || { tail -5 "$d/custosd.log" >&2; die "$(basename "$d") failed to start"; }
		sleep 0.1
	done
	die "$(basename "$d") did not answer within 15s"
}

# pin_port rewrites a first-start listen address ending in /tcp/0 to the port
# the node got, so restarts keep it.
pin_port() { # DIR/nI
	local d=$1 addr
	grep -q '/tcp/0$' "$d/node.yaml" || return 0
	addr=$("$custosd" card --config "$d/node.yaml" | awk '/\/ip4\/127.0.0.1\/tcp\//{print $2; exit}')
	[ -n "$addr" ] || die "$(basename "$d") has no TCP address"
	sed -i "s#/ip4/127.0.0.1/tcp/0\$#$addr#" "$d/node.yaml"
}

up() {
	local dir=$1 n=5 k=3 given=()
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		-n) [ $# -ge 2 ] || usage; n=$2; given+=(-n); shift 2 ;;
		-k) [ $# -ge 2 ] || usage; k=$2; given+=(-k); shift 2 ;;
		*) usage ;;
		esac
	done
	[ -x "$custosd" ] && [ -x "$custos" ] || die "no custos and custosd in $bin; run make build (./bin) or make install (the PATH)"
	mkdir -p "$dir"
	local existing
	existing=$(nodes "$dir" | wc -l)
	if [ "$existing" -gt 0 ] && [ ${#given[@]} -gt 0 ]; then
		echo "devnet: $dir holds a network of $existing nodes already, threshold $(threshold "$dir"): ${given[*]} ignored (stop it and remove $dir for a new one)" >&2
	fi
	if [ "$existing" -eq 0 ]; then
		for i in $(seq 1 "$n"); do
			"$custosd" init --dir "$dir/n$i" --name "n$i" --listen /ip4/127.0.0.1/tcp/0 >/dev/null
			sed -i 's#^http: .*#http: ""#' "$dir/n$i/node.yaml"
		done
	fi
	local cards=()
	for d in $(nodes "$dir"); do
		start_node "$d"
		if grep -q '/tcp/0$' "$d/node.yaml"; then
			pin_port "$d"
			kill "$(cat "$d/pid")"; wait_gone "$d"; start_node "$d"
		fi
		"$custosd" card --config "$d/node.yaml" >"$d.card"
		cards+=("$d.card")
	done
	if [ ! -f "$dir/network.yaml" ]; then
		"$custos" network new --threshold "$k" --out "$dir/network.yaml" "${cards[@]}" >/dev/null
	fi
	echo "devnet: ${#cards[@]} nodes up in $dir; network file $dir/network.yaml"
	echo "next: custos init --network $dir/network.yaml --user alice"
	echo "      custos enroll \$(scripts/devnet.sh invite $dir alice)"
}

# threshold prints the threshold of DIR's network file ("?" before it has one).
threshold() { # DIR
	awk '/^threshold:/ { print $2; found = 1; exit } END { if (!found) print "?" }' "$1/network.yaml" 2>/dev/null || echo "?"
}

# need_network fails unless DIR holds a network made by up.
need_network() { # DIR
	[ -d "$1" ] || die "$1 does not exist; make a network there with: scripts/devnet.sh up $1"
	[ -n "$(nodes "$1")" ] || die "$1 holds no network (no node directories n1..nN); make one with: scripts/devnet.sh up $1"
}

wait_gone() { # DIR/nI
	for _ in $(seq 1 300); do running "$1" || return 0; sleep 0.1; done
	die "$(basename "$1") did not stop"
}

stop() {
	for d in $(nodes "$1"); do
		if running "$d"; then kill "$(cat "$d/pid")"; fi
	done
	for d in $(nodes "$1"); do wait_gone "$d"; rm -f "$d/pid"; done
	echo "devnet: stopped"
}

status() {
	for d in $(nodes "$1"); do
		if running "$d"; then
			echo "$(basename "$d"): running (pid $(cat "$d/pid"))"
		else
			echo "$(basename "$d"): stopped"
		fi
	done
}

node_dir() { # DIR NODE
	[ -d "$1/$2" ] || die "no node $2 in $1"
	echo "$1/$2"
}

cmd=${1:-}
[ $# -ge 2 ] || usage
dir=$2
case $dir in /*) ;; *) dir=$caller/$dir ;; esac
case $cmd in
up | stop | status | kill | start | invite) ;;
*) usage ;;
esac
[ "$cmd" = up ] || need_network "$dir"
case $cmd in
up) shift 2; up "$dir" "$@" ;;
stop) [ $# -eq 2 ] || usage; stop "$dir" ;;
status) [ $# -eq 2 ] || usage; status "$dir" ;;
kill)
	[ $# -eq 3 ] || usage
	d=$(node_dir "$dir" "$3")
	running "$d" || die "$3 is not running"
	kill -9 "$(cat "$d/pid")"; wait_gone "$d"; rm -f "$d/pid"
	echo "devnet: killed $3" ;;
start)
	[ $# -eq 3 ] || usage
	start_node "$(node_dir "$dir" "$3")"
	echo "devnet: started $3" ;;
invite)
	[ $# -eq 3 ] || usage
	for d in $(nodes "$dir"); do
		tok=$("$custosd" invite --user "$3" --config "$d/node.yaml" | tail -1)
		printf -- '--token %s=%s ' "$(basename "$d")" "$tok"
	done
	echo ;;
*) usage ;;
esac
