#!/usr/bin/env python3
"""Hostile WebSocket clients against a server on this machine, for the soak in .ci/run.

    hostile.py flood     HOST:PORT PID SECONDS MAX_GROWTH_MIB
    hostile.py slowloris HOST:PORT CONNECTIONS DEADLINE_SECONDS
    hostile.py bomb      HOST:PORT
    hostile.py idle      HOST:PORT PID CONNECTIONS [MAX_KIB_PER_CONNECTION]

Every check prints one line and exits non-zero when the server misbehaves:
- flood: pings of 125 bytes as fast as the socket takes them, never reading; the server's
  RSS (from /proc/PID/status) must not grow by more than MAX_GROWTH_MIB.
- slowloris: CONNECTIONS clients send a valid upgrade request one byte every 2 s; each must
  be closed by the server within DEADLINE_SECONDS of its start.
- bomb: a 1 MiB header line, and 10,000 header lines, must each get a 431 answer.
- idle: CONNECTIONS completed handshakes left idle; prints the server's RSS per connection
  (and fails past MAX_KIB_PER_CONNECTION when given).

Only loopback addresses are accepted, and every loop is bounded in count and time.
"""

import base64
import os
import resource
import selectors
import socket
import sys
import time

REQUEST = (
    "GET /chat HTTP/1.1\r\n"
    "Host: {host}\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: {key}\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n"
)


def address(arg):
    host, port = arg.rsplit(":", 1)
    if not (host.startswith("127.") or host in ("localhost", "::1", "[::1]")):
        sys.exit(f"hostile.py: {host} is not a loopback address")
    return host.strip("[]"), int(port)


def request(addr):
    key = base64.b64encode(os.urandom(16)).decode()
    return REQUEST.format(host=f"{addr[0]}:{addr[1]}", key=key).encode()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def handshake(addr, timeout=10):
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(request(addr))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"no 101: {head[:40]!r}")
    return s


def masked(opcode, payload):
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def flood(addr, pid, seconds, max_growth_mib):
    s = handshake(addr)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    # One buffer of many pings, each with its own key, sent again and again.
    burst = b"".join(masked(0x9, os.urandom(125)) for _ in range(512))
    before = rss_kib(pid)
    peak = before
    sent = 0
    start = time.monotonic()
    offset = 0
    while time.monotonic() - start < seconds:
        try:
            n = s.send(burst[offset:])
            sent += n
            offset = (offset + n) % len(burst)
        except BlockingIOError:
            # The server stopped reading (it owes us more than it will queue): wait a bit.
            time.sleep(0.01)
        except (ConnectionResetError, BrokenPipeError):
            break
        if sent % (1 << 20) < 4096:
            peak = max(peak, rss_kib(pid))
    peak = max(peak, rss_kib(pid))
    s.close()
    growth = (peak - before) / 1024
    ok = growth <= max_growth_mib
    print(
        f"flood: {sent / (1 << 20):.1f} MiB of pings in {seconds} s, server RSS "
        f"{before / 1024:.1f} -> peak {peak / 1024:.1f} MiB (growth {growth:.1f} MiB, "
        f"bound {max_growth_mib} MiB): {'ok' if ok else 'FAILED'}"
    )
    return ok


def slowloris(addr, connections, deadline):
    req = request(addr)
    socks = []
    for _ in range(connections):
        s = socket.create_connection(addr, timeout=5)
        s.setblocking(False)
        socks.append([s, time.monotonic(), 0, None])  # socket, start, bytes sent, closed at
    sel = selectors.DefaultSelector()
    for entry in socks:
        sel.register(entry[0], selectors.EVENT_READ, entry)
    open_count = connections
    next_byte = time.monotonic()
    give_up = time.monotonic() + deadline + 10
    while open_count and time.monotonic() < give_up:
        now = time.monotonic()
        if now >= next_byte:
            for entry in socks:
                if entry[3] is None and entry[2] < len(req) - 1:
                    try:
                        entry[0].send(req[entry[2] : entry[2] + 1])
                        entry[2] += 1
                    except OSError:
                        pass
            next_byte = now + 2
        for key, _ in sel.select(timeout=0.2):
            entry = key.data
            try:
                data = entry[0].recv(4096)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                entry[3] = time.monotonic()
                sel.unregister(entry[0])
                entry[0].close()
                open_count -= 1
    lifetimes = [e[3] - e[1] for e in socks if e[3] is not None]
    late = [t for t in lifetimes if t > deadline]
    ok = open_count == 0 and not late
    longest = max(lifetimes) if lifetimes else float("nan")
    print(
        f"slowloris: {connections} connections, {connections - open_count} closed by the "
        f"server, the longest after {longest:.1f} s (deadline {deadline} s), "
        f"{open_count} still open: {'ok' if ok else 'FAILED'}"
    )
    for entry in socks:
        if entry[3] is None:
            entry[0].close()
    return ok


def expect_431(addr, head, label):
    """Sends `head` while reading, so that the answer is read even if the server closes
    before it has read everything."""
    s = socket.create_connection(addr, timeout=10)
    s.setblocking(False)
    answer = b""
    offset = 0
    start = time.monotonic()
    while time.monotonic() - start < 10:
        if offset < len(head):
            try:
                offset += s.send(head[offset : offset + 65536])
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                offset = len(head)
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
        except BlockingIOError:
            time.sleep(0.001)
        except ConnectionResetError:
            break
    s.close()
    elapsed = (time.monotonic() - start) * 1000
    ok = answer.startswith(b"HTTP/1.1 431")
    first = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "(nothing)"
    print(f"bomb: {label}: {first!r} after {elapsed:.1f} ms: {'ok' if ok else 'FAILED'}")
    return ok


def bomb(addr):
    line = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + b"a" * (1 << 20) + b"\r\n\r\n"
    many = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(
        b"X-%d: y\r\n" % i for i in range(10_000)
    ) + b"\r\n"
    return expect_431(addr, line, "a 1 MiB header line") & expect_431(
        addr, many, "10,000 header lines"
    )


def idle(addr, pid, connections, max_kib=None):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = connections + 100
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    before = rss_kib(pid)
    socks = []
    start = time.monotonic()
    for _ in range(connections):
        socks.append(handshake(addr))
    time.sleep(1)
    after = rss_kib(pid)
    per = (after - before) / connections
    ok = max_kib is None or per <= max_kib
    bound = f" (bound {max_kib} KiB)" if max_kib is not None else ""
    print(
        f"idle: {connections} idle connections opened in {time.monotonic() - start:.1f} s, "
        f"server RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB: {per:.2f} KiB per "
        f"connection{bound}: {'ok' if ok else 'FAILED'}"
    )
    for s in socks:
        s.close()
    return ok


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    check, addr = sys.argv[1], address(sys.argv[2])
    args = sys.argv[3:]
    if check == "flood":
        ok = flood(addr, int(args[0]), float(args[1]), float(args[2]))
    elif check == "slowloris":
        ok = slowloris(addr, int(args[0]), float(args[1]))
    elif check == "bomb":
        ok = bomb(addr)
    elif check == "idle":
        ok = idle(addr, int(args[0]), int(args[1]), float(args[2]) if len(args) > 2 else None)
    else:
        sys.exit(__doc__)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
