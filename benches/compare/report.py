#!/usr/bin/env python3
"""Markdown tables from the compare bench's saved criterion baselines.

    cargo bench -p sockless-compare --bench compare -- --save-baseline run1
    cargo bench -p sockless-compare --bench compare -- --save-baseline run2
    python3 benches/compare/report.py run1 run2

Reads $CARGO_TARGET_DIR/criterion (default: target/criterion at the repository root) and
prints, for each baseline, every benchmark's time (criterion's point estimate: the slope for
linear sampling, the mean for flat sampling), then the ratios the targets are stated in,
each computed within one run.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CRITERION = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "criterion"
PEERS = ("tungstenite", "fastwebsockets")


def load(baseline):
    """{(group, function, parameter): (seconds, throughput)} for one baseline."""
    out = {}
    for estimates in CRITERION.glob(f"*/*/*/{baseline}/estimates.json"):
        parameter_dir = estimates.parent.parent
        group, function, parameter = parameter_dir.relative_to(CRITERION).parts
        data = json.loads(estimates.read_text())
        point = (data.get("slope") or data["mean"])["point_estimate"] * 1e-9
        bench = json.loads((estimates.parent / "benchmark.json").read_text())
        out[(group, function, parameter)] = (point, bench.get("throughput"))
    return out


def fmt_time(s):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_rate(s, throughput):
    if not throughput:
        return ""
    parts = []
    (kind, value), = throughput.items()
    elements = value.get("elements") if isinstance(value, dict) else (value if kind == "Elements" else None)
    nbytes = value.get("bytes") if isinstance(value, dict) else (value if kind == "Bytes" else None)
    if elements and elements > 1:
        parts.append(f"{fmt_time(s / elements)}/msg")
    if nbytes:
        gib = nbytes / s / 2**30
        parts.append(f"{gib:.3g} GiB/s" if gib >= 1 else f"{gib * 1024:.3g} MiB/s")
    return ", ".join(parts)


GROUPS = ["receive", "text", "send", "handshake"]
PARAMETERS = ["16B", "125B", "1KiB", "16MiB", "1_frame", "64_fragments", "1MiB",
              "server_16B_x1000", "client_16B_x1000", "server_16MiB", "client_16MiB",
              "request_to_101", "alone"]
FUNCTIONS = ["sockless", "tungstenite", "fastwebsockets", "memcpy", "memcpy_64KiB_reads",
             "from_utf8", "accept_key"]


def key_order(key):
    def index(items, item):
        return items.index(item) if item in items else len(items)

    group, function, parameter = key
    return (index(GROUPS, group), index(PARAMETERS, parameter), index(FUNCTIONS, function),
            parameter, function)


def absolute_table(runs):
    names = list(runs)
    keys = sorted(set().union(*[set(r) for r in runs.values()]), key=key_order)
    print("| benchmark | " + " | ".join(f"{n}: time | {n}: per message, throughput" for n in names) + " |")
    print("| --- |" + " ---: | ---: |" * len(names))
    for key in keys:
        cells = []
        for n in names:
            if key in runs[n]:
                s, tp = runs[n][key]
                cells += [fmt_time(s), fmt_rate(s, tp)]
            else:
                cells += ["", ""]
        print(f"| `{'/'.join(key)}` | " + " | ".join(cells) + " |")


def ratio_rows(run):
    """(what, ratio, target, met) rows for one run."""
    t = {k: v[0] for k, v in run.items()}
    rows = []

    def best_peer(group, parameter):
        times = [(t[(group, p, parameter)], p) for p in PEERS if (group, p, parameter) in t]
        return min(times) if times else (None, None)

    for size, target in (("16B", 0.5), ("125B", 0.5), ("1KiB", None), ("16MiB", None)):
        s = t.get(("receive", "sockless", size))
        if s is None:
            continue
        peer, name = best_peer("receive", size)
        met = s / peer <= target if target else None
        rows.append((f"receive {size}: sockless / best peer ({name})", s / peer, "≤ 0.5" if target else "", met))
        mem = t.get(("receive", "memcpy", size))
        if size in ("1KiB", "16MiB"):
            rows.append((f"receive {size}: sockless / memcpy", s / mem, "≤ 1.5", s / mem <= 1.5))
        else:
            rows.append((f"receive {size}: sockless / memcpy", s / mem, "", None))
        reads = t.get(("receive", "memcpy_64KiB_reads", size))
        if reads:
            rows.append((f"receive {size}: sockless / memcpy in 64 KiB reads", s / reads, "", None))
    utf8 = t.get(("text", "from_utf8", "1MiB"))
    one = t.get(("text", "sockless", "1_frame"))
    frag = t.get(("text", "sockless", "64_fragments"))
    if utf8 and one and frag:
        rows.append(("text 1 frame: sockless / from_utf8", one / utf8, "≤ 0.1", one / utf8 <= 0.1))
        rows.append(("text 64 fragments: sockless / from_utf8", frag / utf8, "≤ 0.1", frag / utf8 <= 0.1))
        rows.append(("text: sockless 64 fragments / 1 frame", frag / one, "≤ 1.1", frag / one <= 1.1))
        for label in ("1_frame", "64_fragments"):
            peer, name = best_peer("text", label)
            s = t[("text", "sockless", label)]
            rows.append((f"text {label}: sockless / best peer ({name})", s / peer, "", None))
    for label in ("server_16B_x1000", "client_16B_x1000", "server_16MiB", "client_16MiB"):
        s = t.get(("send", "sockless", label))
        if s is None:
            continue
        peer, name = best_peer("send", label)
        small = "16B" in label
        rows.append((f"send {label}: sockless / best peer ({name})", s / peer,
                     "≤ 0.5" if small else "", (s / peer <= 0.5) if small else None))
        if not small:
            mem = t[("send", "memcpy", "16MiB")]
            rows.append((f"send {label}: sockless / memcpy", s / mem, "≤ 1.2", s / mem <= 1.2))
    hs = t.get(("handshake", "sockless", "request_to_101"))
    if hs:
        tung = t[("handshake", "tungstenite", "request_to_101")]
        key = t[("handshake", "accept_key", "alone")]
        rows.append(("handshake: sockless / tungstenite", hs / tung, "< 1", hs / tung < 1))
        rows.append(("handshake: sockless / accept_key alone", hs / key, "≤ 2.5", hs / key <= 2.5))
    return rows


def ratio_table(runs):
    names = list(runs)
    per_run = {n: ratio_rows(runs[n]) for n in names}
    first = per_run[names[0]]
    print("| ratio | target | " + " | ".join(names) + " |")
    print("| --- | --- |" + " ---: |" * len(names))
    for i, (what, _, target, _) in enumerate(first):
        cells = []
        for n in names:
            _, value, _, met = per_run[n][i]
            mark = "" if met is None else (" ✓" if met else " ✗")
            cells.append(f"{value:.3g}{mark}")
        print(f"| {what} | {target} | " + " | ".join(cells) + " |")


def main():
    baselines = sys.argv[1:] or ["base"]
    runs = {b: load(b) for b in baselines}
    for b, r in runs.items():
        if not r:
            sys.exit(f"no results for baseline {b!r} under {CRITERION}")
    absolute_table(runs)
    print()
    ratio_table(runs)


if __name__ == "__main__":
    main()
