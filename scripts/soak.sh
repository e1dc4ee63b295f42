#!/usr/bin/env bash
# The loopback soak: starts both example servers (the core's echo_server, sockless-tokio's
# tokio_echo) and runs hostile clients against each (scripts/hostile.py): a ping flood that
# never reads (RSS growth bounded), a slowloris batch (every connection closed by the
# handshake deadline), header bombs (431), and idle connections (RSS per connection, at
# most 2 KiB for tokio_echo).
#
#   bash scripts/soak.sh [FLOOD_SECONDS]      # default 15
#
# SOAK_IDLE=N sets how many idle connections tokio_echo gets (default 2000; echo_server,
# a thread per connection, gets a quarter). SOAK_COMPARE=1 also runs the same clients
# against the fastwebsockets and tungstenite echo servers of benches/compare, reporting
# their figures without judging them.
#
# Everything stays on 127.0.0.1 and stops by itself. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
flood_seconds=${1:-15}

idle_count=${SOAK_IDLE:-2000}
cargo build --release -p sockless --example echo_server 2>&1 | tail -n 1
cargo build --release -p sockless-tokio --example tokio_echo 2>&1 | tail -n 1
servers=(echo_server tokio_echo)
if [ "${SOAK_COMPARE:-0}" = 1 ]; then
    cargo build --release -p sockless-compare --bin fastwebsockets_echo --bin tungstenite_echo 2>&1 | tail -n 1
    servers+=(fastwebsockets_echo tungstenite_echo)
fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

start() { # NAME PORT
    local bin="target/release/examples/$1"
    [ -x "$bin" ] || bin="target/release/$1"
    "$bin" "127.0.0.1:$2" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $2), 1).close()" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "soak: $1 did not start" >&2
    return 1
}

failed=0
check() { "$@" || failed=1; }
ulimit -n 65536 2>/dev/null || true

port=9331
for server in "${servers[@]}"; do
    port=$((port + 1))
    start "$server" "$port" || { failed=1; continue; }
    pid=${pids[-1]}
    echo "--- $server (pid $pid, 127.0.0.1:$port)"
    if [[ $server == *_echo && $server != echo_server && $server != tokio_echo ]]; then
        # A peer's server: its figures, not a verdict.
        python3 scripts/hostile.py flood "127.0.0.1:$port" "$pid" "$flood_seconds" 1000000
        python3 scripts/hostile.py slowloris "127.0.0.1:$port" 300 12
        python3 scripts/hostile.py idle "127.0.0.1:$port" "$pid" "$idle_count"
        kill "$pid" 2>/dev/null
        continue
    fi
    check python3 scripts/hostile.py bomb "127.0.0.1:$port"
    check python3 scripts/hostile.py flood "127.0.0.1:$port" "$pid" "$flood_seconds" 32
    # The handshake timeout is 10 s: every connection must be gone by 12 s.
    check python3 scripts/hostile.py slowloris "127.0.0.1:$port" 300 12
    case "$server" in
        # sockless-tokio's bound (issue 18): 2 KiB of RSS per idle connection.
        tokio_echo) check python3 scripts/hostile.py idle "127.0.0.1:$port" "$pid" "$idle_count" 2 ;;
        echo_server) check python3 scripts/hostile.py idle "127.0.0.1:$port" "$pid" $((idle_count / 4)) ;;
    esac
    kill "$pid" 2>/dev/null
done
if [ "$failed" -ne 0 ]; then
    echo "soak: FAILED"
    exit 1
fi
echo "soak: every check passed"
