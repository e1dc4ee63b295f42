#!/usr/bin/env bash
# Interop: examples/echo_server against headless Chromium's WebSocket (which offers
# permessage-deflate by default). Needs Debian's chromium (apt-get install chromium); not
# run by CI because of the install's size.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "browser interop: needs chromium (apt-get install chromium)" >&2; exit 2; }
cargo build -q --release --example echo_server
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/examples/echo_server "127.0.0.1:$port" 2>target/interop-browser-server.log &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
python3 interop/browser_check.py "ws://127.0.0.1:$port/"
