#!/usr/bin/env bash
# Interop: headless Chromium opens a WebSocket over HTTP/2 (RFC 8441 extended CONNECT) to
# sockless-tokio's h2_echo example.
#
# Chromium uses RFC 8441 only on an HTTP/2 connection it already holds to the WebSocket's
# origin, and only once that server's SETTINGS carried SETTINGS_ENABLE_CONNECT_PROTOCOL;
# otherwise it opens a separate HTTP/1.1 connection for the upgrade. So the page is served
# by h2_echo itself, over TLS with ALPN h2, and its WebSocket goes back to the same origin.
# No Chromium flag or feature is needed for WebSockets over HTTP/2 (on by default since
# Chromium 91; Chromium 156 has no switch for it left).
#
# Passes only if the page reported success (text and binary echoed, closed 1000) AND
# h2_echo printed that WebSocket as arriving over h2: the page cannot see its WebSocket's
# transport, and a fallback to HTTP/1.1 would pass the page's checks too. In the same run
# a Node client then opens a WebSocket over HTTP/1.1 on the same port.
#
# Installs Debian's chromium with apt-get when it is missing (about 1 min); .ci/run runs
# it. Logs are left in target/interop-browser-h2/.
set -euo pipefail
cd "$(dirname "$0")/.."

# How long Chromium gets to load the page and report (the page gives up after 20 s).
RESULT_TIMEOUT=60

cargo build -q --release -p sockless-tokio --features h2,rustls,hyper --example h2_echo
if ! command -v chromium >/dev/null; then
    echo "browser h2: installing chromium" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The Debian wrapper script prints a shell warning on stderr; the version is on stdout.
version=$(chromium --version 2>/dev/null | awk '{print $2}')

logs=target/interop-browser-h2
rm -rf "$logs" && mkdir -p "$logs"
profile=$(mktemp -d)
server_pid=
chrome_pid=
cleanup() {
    # Chromium was started in its own session: its process group holds its helpers
    # (zygote, renderer, network service) too.
    if [ -n "$chrome_pid" ]; then
        kill -TERM -- "-$chrome_pid" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 -- "-$chrome_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$chrome_pid" 2>/dev/null || true
        wait "$chrome_pid" 2>/dev/null || true
        chrome_pid=
    fi
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
    rm -rf "$profile"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/examples/h2_echo "127.0.0.1:$port" --cert-out "$logs/cert.pem" \
    >"$logs/server.out" 2>"$logs/server.err" &
server_pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

# The flags of interop/browser_check.py, plus --ignore-certificate-errors for the
# self-signed certificate, and host resolver rules that fail every name lookup: even with
# background networking disabled Chromium still calls accounts.google.com and
# update.googleapis.com, and this run stays on 127.0.0.1. The net log is the place to look
# if the WebSocket ever goes over HTTP/1.1 again (HTTP2_SESSION_RECV_SETTING, then a
# HEADERS with ":method: CONNECT" and ":protocol: websocket" on the same session).
setsid chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --ignore-certificate-errors \
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
    --user-data-dir="$profile" --log-net-log="$logs/netlog.json" \
    "https://127.0.0.1:$port/" >"$logs/chromium.log" 2>&1 &
chrome_pid=$!

result=
for _ in $(seq 1 $((RESULT_TIMEOUT * 10))); do
    result=$(grep -m1 -o 'page result: .*' "$logs/server.out" || true)
    [ -n "$result" ] && break
    kill -0 "$chrome_pid" 2>/dev/null || break
    sleep 0.1
done
# In the same run, on the same port: a WebSocket over HTTP/1.1 (Node's built-in client,
# which upgrades over TLS with ALPN http/1.1), so that both transports go through the one
# callback of the one server.
http1=FAILED
if NODE_TLS_REJECT_UNAUTHORIZED=0 timeout 20 node --no-warnings --experimental-websocket -e '
    const ws = new WebSocket(process.argv[1], ["chat"]);
    ws.onopen = () => ws.send("over http/1.1");
    ws.onmessage = (e) => {
        if (e.data !== "over http/1.1" || ws.protocol !== "chat") process.exit(1);
        ws.close(1000);
    };
    ws.onclose = (e) => process.exit(e.code === 1000 && e.wasClean ? 0 : 1);
    ws.onerror = () => process.exit(1);
' "wss://127.0.0.1:$port/" 2>"$logs/node.log"; then
    http1=PASSED
fi
# Stops Chromium and h2_echo now, before the logs are read: h2_echo's last lines (the
# close) are flushed by then.
cleanup
result=${result#page result: }
transport=$(grep -m1 -o 'WebSocket over [^,]*' "$logs/server.out" || true)
transport=${transport#WebSocket over }

http1_seen=$(grep -c 'WebSocket over http/1.1' "$logs/server.out" || true)

if [[ "$result" == PASSED* && "$transport" == h2 && "$http1" == PASSED && "$http1_seen" -ge 1 ]]; then
    echo "browser h2: PASSED: Chromium $version opened its WebSocket over h2 (extended CONNECT), text+binary echoed, closed 1000 [page: ${result#PASSED: }]; in the same run a Node client's WebSocket over http/1.1 on the same port echoed and closed 1000"
    exit 0
fi
echo "browser h2: FAILED: Chromium $version: page: ${result:-no result within $RESULT_TIMEOUT s}; server saw the first WebSocket over: ${transport:-nothing}; http/1.1 client: $http1 (server lines: $http1_seen)" >&2
echo "browser h2: logs (server.out, server.err, chromium.log, netlog.json) in $logs" >&2
sed 's/^/  server: /' "$logs/server.out" "$logs/server.err" >&2
exit 1
