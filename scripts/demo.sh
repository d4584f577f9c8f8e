#!/usr/bin/env bash
# demo.sh walks through the main custos journey on a real local network:
# five custodian nodes, threshold 3, one user with two vendor credentials.
# It removes everything it made when it ends, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"

dir=$(mktemp -d "${TMPDIR:-/tmp}/custos-demo.XXXXXX")
cleanup() {
	scripts/devnet.sh stop "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

export CUSTOS_VAULT="$dir/alice/vault.db"
export CUSTOS_PASSWORD_FILE="$dir/alice/password"
mkdir -p "$dir/alice" && chmod 700 "$dir/alice"
printf 'correct horse battery staple' >"$CUSTOS_PASSWORD_FILE"
chmod 600 "$CUSTOS_PASSWORD_FILE"

# Bold headings only on a terminal that wants colour (https://no-color.org).
bold='' plain=''
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-dumb}" != dumb ]; then
	bold=$(printf '\033[1m') plain=$(printf '\033[0m')
fi
n=0
step() {
	n=$((n + 1))
	printf '\n%s== %d. %s%s\n' "$bold" "$n" "$*" "$plain"
}
# show prints a command as it would be typed, then runs it.
show() {
	printf '$ %s\n' "$*"
	"$@"
}
# show_sh prints a shell command line whole (a pipe, say), then runs it.
show_sh() {
	printf '$ %s\n' "$1"
	eval "$1"
}

step "Five organisations start their custodian nodes (threshold 3)"
show scripts/devnet.sh up "$dir" -n 5 -k 3

step "The network file pins every node's key; the user makes a vault from it"
sed -n '1,12p' "$dir/network.yaml"
show custos init --network "$dir/network.yaml" --user alice

step "Each node's operator invites alice; she enrolls at all five with the tokens"
tokens=$(scripts/devnet.sh invite "$dir" alice)
# shellcheck disable=SC2086 # one word per flag and token
show custos enroll $tokens

step "alice stores two vendor credentials (sealed here; each node gets one share)"
show_sh "printf 'hunter2-acme' | custos put acme-portal --username svc-acme"
show_sh "printf 'globex-s3cret' | custos put globex-api --username ci-bot"

step "The vault lists labels only; nothing secret, and no network needed"
show custos ls

step "Unlock one: three of five nodes must agree"
show custos get acme-portal

step "Two nodes crash: 3 of 5 remain, and unlock still works"
show scripts/devnet.sh kill "$dir" n2
show scripts/devnet.sh kill "$dir" n4
show custos get globex-api --field password

step "A third node crashes: only 2 remain, so custos refuses (exit code 3), with no key material"
show scripts/devnet.sh kill "$dir" n5
set +e
show custos get acme-portal
code=$?
set -e
echo "(exit code $code)"
[ "$code" -eq 3 ] || { echo "demo: expected exit code 3" >&2; exit 1; }

step "The nodes come back; unlock works again"
show scripts/devnet.sh start "$dir" n2
show scripts/devnet.sh start "$dir" n4
show scripts/devnet.sh start "$dir" n5
show custos get acme-portal --field username

step "Each node counted and logged every release"
show custosd status --config "$dir/n1/node.yaml"

step "An auditor checks every node's log: signed checkpoints, then consistency with the last run"
show custos audit init --key "$dir/auditor.key"
show custos audit verify --key "$dir/auditor.key" --state "$dir/audit"
custos get globex-api --field username >/dev/null
show custos audit verify --key "$dir/auditor.key" --state "$dir/audit"

step "alice sees every release of her records, each proved in the nodes' signed logs"
show custos history acme-portal

step "alice checks every unlock of globex-api against the requests and receipts her vault kept"
show custos audit report --unit globex-api --mine

step "Done: stopping the nodes and removing $dir"
