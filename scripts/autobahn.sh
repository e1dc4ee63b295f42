#!/usr/bin/env bash
# Runs Autobahn|Testsuite against sockless, as a server (examples/echo_server) and as a
# client (examples/autobahn_client), through ../shared/autobahn, then checks every case
# against autobahn/expected.json: anything but OK/INFORMATIONAL, in the behaviour or in the
# closing handshake, or any difference from the expected results, fails.
#
# Usage: scripts/autobahn.sh [server|client|both] [CASES]
# Environment: SOCKLESS_SHARED (default ../shared), AUTOBAHN_DEFLATE (default 1: sections 12
# and 13, permessage-deflate, run too; 0 skips them), AUTOBAHN_* as in shared/autobahn/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SIDE="${1:-both}"
CASES="${2:-*}"
SHARED="${SOCKLESS_SHARED:-$ROOT/../shared}"
AB="$SHARED/autobahn"
[ -f "$AB/test-server.sh" ] || { echo "autobahn: no $AB/test-server.sh (set SOCKLESS_SHARED)" >&2; exit 2; }

cargo build --release --example echo_server --example autobahn_client
export AUTOBAHN_AGENT=sockless
export AUTOBAHN_DEFLATE="${AUTOBAHN_DEFLATE:-1}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_server() {
    local port server_pid rc=0
    port=$(free_port)
    target/release/examples/echo_server "127.0.0.1:$port" 2>target/autobahn-echo-server.log &
    server_pid=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    AUTOBAHN_REPORT_DIR="$ROOT/target/autobahn/server" bash "$AB/test-server.sh" "127.0.0.1:$port" "$CASES" || rc=1
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    return $rc
}

run_client() {
    AUTOBAHN_PORT="${AUTOBAHN_PORT:-$(free_port)}" AUTOBAHN_REPORT_DIR="$ROOT/target/autobahn/client" \
        bash "$AB/test-client.sh" "$ROOT/target/release/examples/autobahn_client" "$CASES"
}

status=0
mkdir -p target/autobahn
case "$SIDE" in
    server) run_server || status=1 ;;
    client) run_client || status=1 ;;
    both)
        # The two suites share nothing but the CPU, and wstest is one Python thread each:
        # side by side they take the time of the longer one.
        run_server >target/autobahn/server.log 2>&1 &
        server_job=$!
        run_client >target/autobahn/client.log 2>&1 || status=1
        wait "$server_job" || status=1
        for side in server client; do
            echo "---- $side (target/autobahn/$side.log)"
            grep -v '^autobahn_client: case' "target/autobahn/$side.log" | tail -n 40
        done
        ;;
    *) echo "usage: scripts/autobahn.sh [server|client|both] [CASES]" >&2; exit 2 ;;
esac
python3 scripts/autobahn_check.py --side "$SIDE" --expected autobahn/expected.json target/autobahn || status=1
exit $status
