#!/usr/bin/env bash
# Interop with Node's `ws` (installed from the npm registry into interop/node_modules if
# missing), in both directions:
#   1. Node's client (its default permessage-deflate offer) against the core's
#      examples/echo_server and against sockless-tokio's tokio_echo;
#   2. sockless-tokio's tokio_client against a Node `ws` server (interop/ws_server.mjs).
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/ws ] || npm install --no-audit --no-fund --silent
cd ..
cargo build -q --release -p sockless --example echo_server
cargo build -q --release -p sockless-tokio --example tokio_echo --example tokio_client

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

for server in echo_server tokio_echo; do
    port=$(free_port)
    "target/release/examples/$server" "127.0.0.1:$port" 2>"target/interop-$server.log" &
    pids+=($!)
    wait_port "$port"
    echo "--- Node ws client -> $server"
    node interop/ws_client.mjs "ws://127.0.0.1:$port/"
done

echo "--- tokio_client -> Node ws server"
port=$(free_port)
report=target/interop-ws-server.json
rm -f "$report"
node interop/ws_server.mjs "$port" "$report" >/dev/null 2>target/interop-ws-server.log &
pids+=($!)
wait_port "$port"
got=$(printf 'hello\nκόσμε\n' | timeout 20 target/release/examples/tokio_client "ws://127.0.0.1:$port/" --protocol chat)
expected=$'echo: hello\necho: κόσμε'
if [ "$got" != "$expected" ]; then
    echo "interop: tokio_client printed $(printf '%q' "$got"), expected $(printf '%q' "$expected")" >&2
    exit 1
fi
for _ in $(seq 1 50); do [ -f "$report" ] && break; sleep 0.1; done
python3 - "$report" <<'PY'
import json, sys
seen = json.load(open(sys.argv[1]))
problems = []
if seen.get("protocol") != "chat": problems.append(f"subprotocol {seen.get('protocol')!r}")
if seen.get("texts") != ["hello", "κόσμε"]: problems.append(f"texts {seen.get('texts')!r}")
if seen.get("code") != 1000: problems.append(f"close code {seen.get('code')!r}")
if "permessage-deflate" not in seen.get("extensions", ""): problems.append("no permessage-deflate offer")
if problems:
    sys.exit("interop: the Node server saw " + ", ".join(problems))
print("interop: tokio_client -> Node ws server: subprotocol chat, 2 texts echoed, deflate offered, closed 1000: ok")
PY
