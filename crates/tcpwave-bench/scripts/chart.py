#!/usr/bin/env python3
"""Draw docs/benchmarks.svg from the figures `tcpwave-bench run --json FILE` wrote.

    python3 crates/tcpwave-bench/scripts/chart.py results.json docs/benchmarks.svg

Two panels: lifecycles per second against M parked connections (log scale, one bar per
engine), and memory per TIME_WAIT entry and per idle connection next to Linux's slab objects.
Standard library only.
"""
import json
import math
import sys

COLORS = {"tcpwave": "#1f77b4", "smoltcp": "#ff7f0e", "kernel": "#2ca02c", "linux": "#2ca02c"}


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def thousands(value):
    return f"{value:,.0f}"


def lifecycle_panel(results, x0, y0, width, height):
    out = []
    rows = results["lifecycles"]
    parked = sorted({r["parked"] for r in rows})
    engines = ["tcpwave", "smoltcp", "kernel"]
    rates = [r["rate"] for r in rows if r["rate"] > 0]
    top = 10 ** math.ceil(math.log10(max(rates)))
    bottom = 10 ** math.floor(math.log10(min(rates)))
    span = math.log10(top) - math.log10(bottom)

    def y_of(value):
        return y0 + height - height * (math.log10(value) - math.log10(bottom)) / span

    out.append(f'<text x="{x0}" y="{y0 - 14}" font-size="15" font-weight="bold">'
               "Lifecycles per second with M idle connections parked (log scale)</text>")
    decade = bottom
    while decade <= top:
        y = y_of(decade)
        out.append(f'<line x1="{x0}" x2="{x0 + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                   f"{thousands(decade)}</text>")
        decade *= 10
    group_width = width / len(parked)
    bar = group_width / (len(engines) + 1)
    for gi, m in enumerate(parked):
        gx = x0 + gi * group_width + bar / 2
        for ei, engine in enumerate(engines):
            row = next((r for r in rows if r["engine"] == engine and r["parked"] == m), None)
            x = gx + ei * bar
            if row is None:
                out.append(f'<text x="{x + bar / 2:.1f}" y="{y0 + height - 4}" font-size="10" '
                           f'text-anchor="middle" fill="#888">n/a</text>')
                continue
            y = y_of(row["rate"])
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" '
                       f'height="{y0 + height - y:.1f}" fill="{COLORS[engine]}"/>')
            out.append(f'<text x="{x + bar / 2 - 1:.1f}" y="{y - 3:.1f}" font-size="9" '
                       f'text-anchor="middle">{thousands(row["rate"])}</text>')
        out.append(f'<text x="{gx + bar * len(engines) / 2:.1f}" y="{y0 + height + 16}" '
                   f'font-size="12" text-anchor="middle">M = {thousands(m)}</text>')
    for ei, engine in enumerate(engines):
        lx = x0 + ei * 120
        ly = y0 + height + 34
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{COLORS[engine]}"/>')
        label = "Linux kernel" if engine == "kernel" else engine
        out.append(f'<text x="{lx + 16}" y="{ly}" font-size="12">{label}</text>')
    return out


def memory_panel(results, x0, y0, width, height):
    out = []
    bars = []
    for r in results["time_wait"]:
        bars.append((f"tcpwave TIME_WAIT, {thousands(r['entries'])} entries",
                     r["rss_bytes_per_entry"], "tcpwave"))
    tw_slab = results["machine"].get("tw_sock_slab_bytes") or 256
    bars.append(("Linux tw_sock_TCP slab object", tw_slab, "linux"))
    for r in results["idle"]:
        bars.append((f"{r['engine']} idle connection (RSS / TCB)", r["bytes_per_tcb"], r["engine"]))
    tcp_slab = results["machine"].get("tcp_slab_bytes") or 2368
    bars.append(("Linux TCP slab object", tcp_slab, "linux"))
    biggest = max(value for _, value, _ in bars)
    out.append(f'<text x="{x0}" y="{y0 - 14}" font-size="15" font-weight="bold">'
               "Bytes per TIME_WAIT entry and per idle established connection</text>")
    row_height = height / len(bars)
    label_width = 290
    for i, (label, value, engine) in enumerate(bars):
        y = y0 + i * row_height
        w = (width - label_width - 60) * value / biggest
        out.append(f'<text x="{x0 + label_width - 6}" y="{y + row_height * 0.6:.1f}" '
                   f'font-size="12" text-anchor="end">{esc(label)}</text>')
        out.append(f'<rect x="{x0 + label_width}" y="{y + 3:.1f}" width="{w:.1f}" '
                   f'height="{row_height - 6:.1f}" fill="{COLORS[engine]}"/>')
        out.append(f'<text x="{x0 + label_width + w + 4:.1f}" y="{y + row_height * 0.6:.1f}" '
                   f'font-size="12">{value:,.0f} B</text>')
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        results = json.load(f)
    width, height = 900, 720
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    parts += lifecycle_panel(results, 90, 50, 780, 300)
    parts += memory_panel(results, 20, 470, 860, 220)
    m = results["machine"]
    parts.append(f'<text x="20" y="{height - 8}" font-size="10" fill="#666">'
                 f'{esc(m["cpu"])}, {m["cores"]} cores, Linux {esc(m["kernel"])}, load average '
                 f'{esc(m["loadavg"])} at start. Generated by crates/tcpwave-bench/scripts/chart.py'
                 "</text>")
    parts.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
