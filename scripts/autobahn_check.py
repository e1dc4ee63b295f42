#!/usr/bin/env python3
"""Checks Autobahn reports against the expected results, and prints the conformance table.

  autobahn_check.py [--side server|client|both] [--expected FILE] [--write] [--table] REPORTS_DIR

REPORTS_DIR holds server/index.json and client/index.json. A case passes when both its
behaviour and its closing-handshake behaviour are OK or INFORMATIONAL. --write records the
current results as the expected ones; --table prints a markdown table per section.
"""
import argparse
import json
import os
import sys

PASS = {"OK", "INFORMATIONAL"}
AGENT = "sockless"


def load(reports, side):
    path = os.path.join(reports, side, "index.json")
    with open(path) as f:
        index = json.load(f)
    if AGENT not in index:
        sys.exit(f"autobahn_check: no agent {AGENT!r} in {path}")
    return {case: (r["behavior"], r["behaviorClose"]) for case, r in index[AGENT].items()}


def case_key(case):
    return tuple(int(p) for p in case.split("."))


def table(side, results):
    sections = {}
    for case, (behavior, _close) in results.items():
        counts = sections.setdefault(case.split(".")[0], {})
        counts[behavior] = counts.get(behavior, 0) + 1
    cols = ["OK", "INFORMATIONAL", "NON-STRICT", "FAILED", "UNIMPLEMENTED"]
    lines = [f"| {side} section | cases | " + " | ".join(cols) + " |",
             "|---|---:|" + "---:|" * len(cols)]
    for section in sorted(sections, key=int):
        counts = sections[section]
        lines.append(f"| {section} | {sum(counts.values())} | "
                     + " | ".join(str(counts.get(c, 0)) for c in cols) + " |")
    total = {c: sum(s.get(c, 0) for s in sections.values()) for c in cols}
    lines.append(f"| all | {sum(total.values())} | " + " | ".join(str(total[c]) for c in cols) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", default="both", choices=["server", "client", "both"])
    ap.add_argument("--expected", default="autobahn/expected.json")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("reports")
    args = ap.parse_args()
    sides = ["server", "client"] if args.side == "both" else [args.side]
    expected = {}
    if os.path.exists(args.expected):
        with open(args.expected) as f:
            expected = json.load(f)
    failed = 0
    for side in sides:
        results = load(args.reports, side)
        bad = sorted((c for c, (b, cl) in results.items() if b not in PASS or cl not in PASS), key=case_key)
        for case in bad:
            print(f"autobahn_check: {side} {case}: behavior {results[case][0]}, close {results[case][1]}")
        want = expected.get(side, {})
        diff = []
        for case in sorted(results, key=case_key):
            got = results[case]
            exp = want.get(case)
            if exp is not None and list(got) != list(exp):
                diff.append(f"  {case}: expected {exp}, got {list(got)}")
        if want and diff:
            print(f"autobahn_check: {side}: {len(diff)} case(s) differ from {args.expected}:")
            print("\n".join(diff))
        if args.table:
            print(table(side, results))
        print(f"autobahn_check: {side}: {len(results) - len(bad)} passed, {len(bad)} failed")
        failed += len(bad) + (0 if args.write else len(diff))
        if args.write:
            expected[side] = {c: list(results[c]) for c in sorted(results, key=case_key)}
    if args.write:
        with open(args.expected, "w") as f:
            json.dump(expected, f, indent=1, sort_keys=False)
            f.write("\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
