#!/usr/bin/env bash
# Runs Autobahn|Testsuite against sockless, as a server and as a client, through
# ../shared/autobahn, then checks every case against autobahn/expected.json: anything but
# OK/INFORMATIONAL, in the behaviour or in the closing handshake, or any difference from the
# expected results, fails.
#
# Usage: scripts/autobahn.sh [server|client|both] [CASES] [core|tokio]
#   core (default): the core driven by hand, examples/echo_server and examples/autobahn_client;
#   tokio: the sockless-tokio layer, its tokio_echo and tokio_autobahn_client examples.
# Environment: SOCKLESS_SHARED (default ../shared), AUTOBAHN_DEFLATE (default 1: sections 12
# and 13, permessage-deflate, run too; 0 skips them), AUTOBAHN_* as in shared/autobahn/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SIDE="${1:-both}"
CASES="${2:-*}"
LAYER="${3:-core}"
SHARED="${SOCKLESS_SHARED:-$ROOT/../shared}"
AB="$SHARED/autobahn"
[ -f "$AB/test-server.sh" ] || { echo "autobahn: no $AB/test-server.sh (set SOCKLESS_SHARED)" >&2; exit 2; }

case "$LAYER" in
    core)
        SERVER=echo_server CLIENT=autobahn_client REPORTS=target/autobahn
        cargo build --release -p sockless --example echo_server --example autobahn_client
        ;;
    tokio)
        SERVER=tokio_echo CLIENT=tokio_autobahn_client REPORTS=target/autobahn-tokio
        cargo build --release -p sockless-tokio --example tokio_echo --example tokio_autobahn_client
        ;;
    *) echo "usage: scripts/autobahn.sh [server|client|both] [CASES] [core|tokio]" >&2; exit 2 ;;
esac
export AUTOBAHN_AGENT=sockless
export AUTOBAHN_DEFLATE="${AUTOBAHN_DEFLATE:-1}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_server() {
    local port server_pid rc=0
    port=$(free_port)
    "target/release/examples/$SERVER" "127.0.0.1:$port" 2>"$REPORTS-$SERVER.log" &
    server_pid=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    AUTOBAHN_REPORT_DIR="$ROOT/$REPORTS/server" bash "$AB/test-server.sh" "127.0.0.1:$port" "$CASES" || rc=1
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    return $rc
}

run_client() {
    AUTOBAHN_PORT="${AUTOBAHN_PORT:-$(free_port)}" AUTOBAHN_REPORT_DIR="$ROOT/$REPORTS/client" \
        bash "$AB/test-client.sh" "$ROOT/target/release/examples/$CLIENT" "$CASES"
}

status=0
mkdir -p "$REPORTS"
case "$SIDE" in
    server) run_server || status=1 ;;
    client) run_client || status=1 ;;
    both)
        # The two suites share nothing but the CPU, and wstest is one Python thread each:
        # side by side they take the time of the longer one.
        run_server >"$REPORTS/server.log" 2>&1 &
        server_job=$!
        run_client >"$REPORTS/client.log" 2>&1 || status=1
        wait "$server_job" || status=1
        for side in server client; do
            echo "---- $side ($REPORTS/$side.log)"
            grep -v 'autobahn_client: case' "$REPORTS/$side.log" | tail -n 40
        done
        ;;
    *) echo "usage: scripts/autobahn.sh [server|client|both] [CASES] [core|tokio]" >&2; exit 2 ;;
esac
python3 scripts/autobahn_check.py --side "$SIDE" --expected autobahn/expected.json "$REPORTS" || status=1
exit $status
