#!/usr/bin/env python3
"""Code footprint of a callgrind profile taken with --dump-instr=yes --cache-sim=yes.

    footprint.py PROFILE LIFECYCLES [TOP]

Prints the distinct instructions executed, the 64-byte cache lines they span (the code a
lifecycle needs in the L1 instruction cache: 32 KiB on the benchmark machine), the simulated
L1i misses per lifecycle, and the TOP functions by lines touched.
"""
import collections
import re
import sys


def main():
    path, lifecycles = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    names, events = {}, []
    fn, addr, skip = None, 0, False
    lines_of = collections.defaultdict(set)
    instrs = set()
    misses = collections.Counter()
    for raw in open(path):
        line = raw.rstrip("\n")
        if line.startswith("events:"):
            events = line.split()[1:]
            continue
        m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
        if m:
            kind, idx, name = m.groups()
            if name:
                names[idx] = name
            if kind == "fn":
                fn = names.get(idx, idx)
            continue
        if line.startswith("calls="):
            skip = True  # the next cost line is the call's inclusive cost
            continue
        if not line or line[0] not in "0123456789+-*":
            continue
        parts = line.split()
        a = parts[0]
        if a.startswith("0x"):
            addr = int(a, 16)
        elif a[0] in "+-":
            addr += int(a)
        if skip:
            skip = False
            continue
        costs = [int(x) for x in parts[2:]]
        costs += [0] * (len(events) - len(costs))
        if costs and costs[0] > 0:
            instrs.add(addr)
            lines_of[fn].add(addr >> 6)
            if "I1mr" in events:
                misses[fn] += costs[events.index("I1mr")]
    all_lines = set().union(*lines_of.values()) if lines_of else set()
    print(
        f"{len(instrs)} distinct instructions on {len(all_lines)} cache lines "
        f"({len(all_lines) * 64 / 1024:.1f} KiB of code); "
        f"{sum(misses.values()) / lifecycles:.0f} L1i misses per lifecycle"
    )
    ranked = sorted(lines_of.items(), key=lambda kv: -len(kv[1]))[:top]
    for name, touched in ranked:
        print(f"  {len(touched) * 64:6d} B  {misses[name] / lifecycles:6.1f} misses  {name[:110]}")


if __name__ == "__main__":
    main()
