#!/usr/bin/env bash
# End-to-end echo over loopback TCP: each echo server in turn under the same load generator,
# printing echoes per second as a markdown table.
#
#   benches/compare/e2e.sh            # 5 s per workload, 1 round
#   E2E_SECONDS=3 E2E_ROUNDS=2 benches/compare/e2e.sh
#
# Servers (each on a tokio current-thread runtime, pinned to one core, and the load
# generator, also current-thread, pinned to the other on a 2-core machine):
#   tokio_echo         sockless-tokio's examples/tokio_echo.rs (accept_with, then recv and
#                      feed on one WebSocket; keepalive timers on)
#   sockless_echo      the core driven by hand in one task per connection
#                      (src/bin/sockless_echo.rs)
#   tokio-tungstenite  src/bin/tungstenite_echo.rs
#   fastwebsockets     src/bin/fastwebsockets_echo.rs
# Workloads: 100 connections x 20 B, 10 x 1 KiB, 10 x 16 KiB, 10 x 1 MiB; each connection sends one
# binary message and waits for its echo before the next (src/bin/loadgen.rs).
# Two tables: echoes per second, which is bounded by whichever of the server and the load
# generator is slower on a busy machine, and the server's own CPU time per echo (from
# /proc/PID/stat), which other jobs on the machine disturb much less.
# Everything listens on and connects to 127.0.0.1 only; each run ends by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
seconds="${E2E_SECONDS:-5}"
rounds="${E2E_ROUNDS:-1}"
port="${E2E_PORT:-9340}"
addr="127.0.0.1:$port"
logs="$(mktemp -d)"

cargo build --release --quiet -p sockless-tokio --example tokio_echo
cargo build --release --quiet -p sockless-compare --bins
bin="$CARGO_TARGET_DIR/release"

# The server on the second core and the load generator on the first, where taskset exists,
# so that the scheduler does not move them onto one core and back between runs.
server_cpu=""
loadgen_cpu=""
if command -v taskset >/dev/null && [[ "$(nproc)" -ge 2 ]]; then
    server_cpu="taskset -c 1"
    loadgen_cpu="taskset -c 0"
fi

servers=(
    "tokio_echo:$bin/examples/tokio_echo"
    "sockless_echo:$bin/sockless_echo"
    "tokio-tungstenite:$bin/tungstenite_echo"
    "fastwebsockets:$bin/fastwebsockets_echo"
)
workloads=("100 20" "10 1024" "10 16384" "10 1048576")

server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap stop_server EXIT

# Waits until something listens on $port (at most 10 s), without connecting to it.
wait_listening() {
    for _ in $(seq 100); do
        if [[ -n "$(ss -Hltn "sport = :$port")" ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "e2e: nothing listens on $addr" >&2
    return 1
}

# The server's CPU time so far (user + system), in clock ticks.
server_ticks() {
    awk '{ print $14 + $15 }' "/proc/$server_pid/stat"
}
ticks_per_second="$(getconf CLK_TCK)"

# Each round starts with the next server, so that a stretch of load from other jobs on the
# machine does not always fall on the same one.
declare -A rate cpu
count=${#servers[@]}
for round in $(seq "$rounds"); do
    for i in $(seq 0 $((count - 1))); do
        entry="${servers[$(((i + round - 1) % count))]}"
        name="${entry%%:*}"
        path="${entry#*:}"
        $server_cpu "$path" "$addr" 2>>"$logs/$name.log" &
        server_pid=$!
        wait_listening
        for workload in "${workloads[@]}"; do
            read -r conns size <<<"$workload"
            before="$(server_ticks)"
            line="$($loadgen_cpu "$bin/loadgen" "$addr" "$conns" "$size" "$seconds")"
            after="$(server_ticks)"
            echo "round $round, $name, $conns x $size B: $line server_ticks=$((after - before))" >&2
            key="$round,$name,$workload"
            rate["$key"]="$(sed -n 's/.*msgs_per_sec=\([0-9]*\).*/\1/p' <<<"$line")"
            all="$(sed -n 's/.*all_echoes=\([0-9]*\).*/\1/p' <<<"$line")"
            # Server CPU microseconds per echo, over the whole run (warm-up included).
            cpu["$key"]="$(awk -v t="$((after - before))" -v hz="$ticks_per_second" -v n="$all" \
                'BEGIN { printf "%.2f", t / hz * 1e6 / n }')"
        done
        stop_server
    done
done

label() {
    case "$1" in
        "100 20") echo "100 conns x 20 B" ;;
        "10 1024") echo "10 conns x 1 KiB" ;;
        "10 16384") echo "10 conns x 16 KiB" ;;
        "10 1048576") echo "10 conns x 1 MiB" ;;
    esac
}

# table TITLE ARRAY-NAME: one row per round and workload, one column per server, then each
# sockless server over the better of the two peers (the higher rate, the lower CPU).
table() {
    local -n values="$2"
    echo
    echo "$1"
    echo
    printf '| round | workload |'
    for entry in "${servers[@]}"; do printf ' %s |' "${entry%%:*}"; done
    printf ' tokio_echo / best peer | sockless_echo / best peer |\n'
    printf '| --- | --- |'
    for _ in "${servers[@]}"; do printf ' ---: |'; done
    printf ' ---: | ---: |\n'
    for round in $(seq "$rounds"); do
        for workload in "${workloads[@]}"; do
            printf '| %s | %s |' "$round" "$(label "$workload")"
            for entry in "${servers[@]}"; do
                printf ' %s |' "${values["$round,${entry%%:*},$workload"]}"
            done
            fws="${values["$round,fastwebsockets,$workload"]}"
            tt="${values["$round,tokio-tungstenite,$workload"]}"
            for name in tokio_echo sockless_echo; do
                awk -v a="${values["$round,$name,$workload"]}" -v f="$fws" -v t="$tt" -v more="$3" \
                    'BEGIN { if (more == "more") b = (f > t) ? f : t; else b = (f < t) ? f : t; printf " %.2f |", a / b }'
            done
            printf '\n'
        done
    done
}

table "Echoes per second (more is better; ${seconds} s per workload after 0.5 s of warm-up)" rate more
table "Server CPU time per echo, µs (less is better; user + system, warm-up included)" cpu less

for entry in "${servers[@]}"; do
    name="${entry%%:*}"
    if [[ -s "$logs/$name.log" ]] && grep -qv 'listening on' "$logs/$name.log"; then
        echo "e2e: $name logged:" >&2
        grep -v 'listening on' "$logs/$name.log" | head -5 >&2
    fi
done
rm -rf "$logs"
