#!/usr/bin/env python3
"""Markdown tables from the compare bench's saved criterion baselines.

    cargo bench -p sockless-compare --bench compare -- --save-baseline run1
    python3 benches/compare/report.py run1 [run2 ...]

Reads $CARGO_TARGET_DIR/criterion (default: target/criterion at the repository root). For
each baseline it prints one table per workload (a group and a parameter, as
`receive/16B`): every implementation's time (criterion's point estimate: the slope for
linear sampling, the mean for flat sampling), its time per message or throughput, and its
ratio to each reference measured in that run: the floor codec (owned and borrowed), memcpy
and the UTF-8 validators where the group has them, tungstenite and fastwebsockets. A ratio
of 2 means twice the reference's time. Then one table of issue 16's targets, a column per
baseline. Every ratio is taken between two rows of the same run, never across runs.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CRITERION = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "criterion"


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
    ((kind, value),) = throughput.items()
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
FUNCTIONS = ["sockless", "sockless_borrowed", "sockless_binary", "tungstenite", "fastwebsockets", "floor",
             "floor_borrowed", "memcpy", "memcpy_64KiB_reads", "from_utf8", "simdutf8",
             "accept_key"]


def index(items, item):
    return items.index(item) if item in items else len(items)


def references(group, parameter):
    """The rows each row of a workload is divided by: (column, function, parameter).

    Most references are measured on the same parameter; the text validators run once on
    the 1 MiB that both text shapes carry, the 16 MiB memcpy once for both send roles, and
    the accept key once for the handshake.
    """
    same = parameter
    if group == "receive":
        return [("floor", "floor", same), ("floor_borrowed", "floor_borrowed", same),
                ("memcpy", "memcpy", same), ("tungstenite", "tungstenite", same),
                ("fastwebsockets", "fastwebsockets", same)]
    if group == "text":
        return [("simdutf8", "simdutf8", "1MiB"), ("from_utf8", "from_utf8", "1MiB"),
                ("tungstenite", "tungstenite", same), ("fastwebsockets", "fastwebsockets", same)]
    if group == "send":
        return [("floor", "floor", same), ("memcpy", "memcpy", "16MiB" if "16MiB" in same else None),
                ("tungstenite", "tungstenite", same), ("fastwebsockets", "fastwebsockets", same)]
    if group == "handshake":
        return [("accept_key", "accept_key", "alone"), ("tungstenite", "tungstenite", same)]
    return []


def workload_tables(run):
    """One table per (group, parameter): each row's time, rate and ratios to the references."""
    cases = sorted({(g, p) for g, _, p in run}, key=lambda k: (index(GROUPS, k[0]), index(PARAMETERS, k[1]), k))
    for group, parameter in cases:
        rows = sorted((f for g, f, p in run if (g, p) == (group, parameter)),
                      key=lambda f: (index(FUNCTIONS, f), f))
        refs = [(col, run[(group, f, p)][0]) for col, f, p in references(group, parameter)
                if p is not None and (group, f, p) in run]
        print(f"#### `{group}/{parameter}`")
        print()
        print("| implementation | time | per message, throughput |"
              + "".join(f" / {col} |" for col, _ in refs))
        print("| --- | ---: | ---: |" + " ---: |" * len(refs))
        for function in rows:
            s, throughput = run[(group, function, parameter)]
            cells = [fmt_time(s), fmt_rate(s, throughput)]
            cells += [f"{s / ref:.3g}" for _, ref in refs]
            print(f"| `{function}` | " + " | ".join(cells) + " |")
        print()


# Issue 16's targets: (what, numerator, denominator, (comparison, bound)). A bound of 0.5 on sockless over
# tungstenite is "at least 2x tungstenite". The floor's variants are paired like for like:
# borrowed events with the floor's lent payloads, owned messages with its split-off Bytes.
# "Text at simdutf8's speed" is read as within 10% of simdutf8 alone.
TARGETS = [
    *[row for size in ("16B", "125B") for row in (
        (f"receive {size}: sockless_borrowed / floor_borrowed", ("receive", "sockless_borrowed", size),
         ("receive", "floor_borrowed", size), ("≤", 1.5)),
        (f"receive {size}: sockless / floor", ("receive", "sockless", size), ("receive", "floor", size), ("≤", 2)),
        (f"receive {size}: sockless / tungstenite", ("receive", "sockless", size),
         ("receive", "tungstenite", size), ("≤", 0.5)),
        (f"receive {size}: sockless_borrowed / tungstenite", ("receive", "sockless_borrowed", size),
         ("receive", "tungstenite", size), ("≤", 0.5)),
    )],
    *[(f"receive {size}: {f} / memcpy", ("receive", f, size), ("receive", "memcpy", size), ("≤", bound))
      for size, bound in (("1KiB", 1.3), ("16MiB", 1.2)) for f in ("sockless", "sockless_borrowed")],
    *[(f"text {shape}: {f} / simdutf8", ("text", f, shape), ("text", "simdutf8", "1MiB"), ("≤", 1.1))
      for shape in ("1_frame", "64_fragments") for f in ("sockless", "sockless_borrowed")],
    *[(f"text: {f} 64 fragments / 1 frame", ("text", f, "64_fragments"), ("text", f, "1_frame"), ("≤", 1.1))
      for f in ("sockless", "sockless_borrowed")],
    *[(f"send {case}: sockless / floor", ("send", "sockless", case), ("send", "floor", case), ("≤", 1.2))
      for case in ("server_16B_x1000", "client_16B_x1000")],
    ("handshake: sockless / tungstenite", ("handshake", "sockless", "request_to_101"),
     ("handshake", "tungstenite", "request_to_101"), ("<", 1)),
]


def target_table(runs):
    names = list(runs)
    print("| ratio | target | " + " | ".join(names) + " |")
    print("| --- | --- |" + " ---: |" * len(names))
    for what, num, den, (op, bound) in TARGETS:
        cells = []
        for n in names:
            run = runs[n]
            if num in run and den in run:
                ratio = run[num][0] / run[den][0]
                met = ratio < bound if op == "<" else ratio <= bound
                cells.append(f"{ratio:.3g} {'✓' if met else '✗'}")
            else:
                cells.append("")
        print(f"| {what} | {op} {bound:g} | " + " | ".join(cells) + " |")
    print()
    # Not a target: how much of a text row is validation, against simdutf8 alone.
    print("| text, split | what it is | " + " | ".join(names) + " |")
    print("| --- | --- |" + " ---: |" * len(names))
    for shape in ("1_frame", "64_fragments"):
        cells = []
        for n in names:
            run = runs[n]
            keys = [("text", "sockless", shape), ("text", "sockless_binary", shape),
                    ("text", "simdutf8", "1MiB")]
            if all(k in run for k in keys):
                text, binary, simd = (run[k][0] for k in keys)
                cells.append(f"{(text - binary) / simd:.3g}")
            else:
                cells.append("")
        print(f"| {shape}: (sockless − sockless_binary) / simdutf8 | validation inside the "
              "connection against simdutf8 alone | " + " | ".join(cells) + " |")


def main():
    baselines = sys.argv[1:] or ["base"]
    runs = {b: load(b) for b in baselines}
    for b, r in runs.items():
        if not r:
            sys.exit(f"no results for baseline {b!r} under {CRITERION}")
    for b, r in runs.items():
        print(f"### {b}")
        print()
        workload_tables(r)
    print("### Targets")
    print()
    target_table(runs)


if __name__ == "__main__":
    main()
