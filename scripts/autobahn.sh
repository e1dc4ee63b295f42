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

status=0
if [ "$SIDE" = server ] || [ "$SIDE" = both ]; then
    port=$(free_port)
    target/release/examples/echo_server "127.0.0.1:$port" 2>target/autobahn-echo-server.log &
    server_pid=$!
    trap 'kill $server_pid 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    AUTOBAHN_REPORT_DIR="$ROOT/target/autobahn/server" bash "$AB/test-server.sh" "127.0.0.1:$port" "$CASES" || status=1
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    trap - EXIT
fi
if [ "$SIDE" = client ] || [ "$SIDE" = both ]; then
    AUTOBAHN_PORT="${AUTOBAHN_PORT:-$(free_port)}" AUTOBAHN_REPORT_DIR="$ROOT/target/autobahn/client" \
        bash "$AB/test-client.sh" "$ROOT/target/release/examples/autobahn_client" "$CASES" || status=1
fi
python3 scripts/autobahn_check.py --side "$SIDE" --expected autobahn/expected.json target/autobahn || status=1
exit $status
