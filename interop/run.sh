#!/usr/bin/env bash
# Interop: examples/echo_server against Node's `ws` client (default permessage-deflate offer).
# Installs ws from the npm registry into interop/node_modules if missing.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/ws ] || npm install --no-audit --no-fund --silent
cd ..
cargo build -q --release --example echo_server
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/examples/echo_server "127.0.0.1:$port" 2>target/interop-echo-server.log &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
node interop/ws_client.mjs "ws://127.0.0.1:$port/"
