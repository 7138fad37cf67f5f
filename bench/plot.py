#!/usr/bin/env python3
"""Plots latency against offered load from a bench/run-load.sh output
directory: p50, p99 and p99.9 (from each call's intended start) of the
open-loop Check runs, one colour per server (serve, ceiling), on a log scale.
Python 3 standard library only.

Usage: bench/plot.py OUT_DIR [SVG]   (default OUT_DIR/latency.svg)
"""
import glob
import json
import math
import os
import sys

W, H = 760, 460
LEFT, RIGHT, TOP, BOTTOM = 70, 150, 40, 50
COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
DASHES = {"p50": "", "p99": "6 4", "p99_9": "2 3"}


def series(out):
    """{label: [(offered_rate, latency_us summary), ...]} of the open-loop Check runs."""
    by_label = {}
    for path in sorted(glob.glob(os.path.join(out, "*.json"))):
        with open(path) as f:
            r = json.load(f)
        if not isinstance(r, dict) or r.get("mode") != "open" or r.get("call") != "check":
            continue
        if r.get("latency_us"):
            by_label.setdefault(r.get("label") or "run", []).append((r["offered_rate"], r["latency_us"]))
    return {k: sorted(v, key=lambda p: p[0]) for k, v in sorted(by_label.items())}


def plot(data, title):
    xmax = max(x for pts in data.values() for x, _ in pts) * 1.05
    values = [p[k] for pts in data.values() for _, p in pts for k in DASHES]
    lo = 10 ** math.floor(math.log10(max(min(values), 0.1)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def sx(x):
        return LEFT + pw * x / xmax

    def sy(us):
        return TOP + ph * (1 - (math.log10(max(us, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))

    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14">{title}</text>',
    ]
    # y: a grid line at each decade, labelled in µs or ms.
    d = lo
    while d <= hi * 1.0001:
        y = sy(d)
        label = f"{d / 1e6:g} s" if d >= 1e6 else f"{d / 1000:g} ms" if d >= 1000 else f"{d:g} µs"
        svg.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
        d *= 10
    # x: ticks of offered calls/s at a round step (1, 2 or 5 times a power of ten).
    step = 10 ** math.floor(math.log10(xmax / 5))
    step *= next(m for m in (1, 2, 5, 10) if xmax / (step * m) <= 6)
    for i in range(int(xmax / step) + 1):
        x = step * i
        svg.append(f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{TOP + ph}" y2="{TOP + ph + 5}" stroke="black"/>')
        svg.append(f'<text x="{sx(x):.1f}" y="{TOP + ph + 18}" text-anchor="middle">{x:,.0f}</text>')
    svg.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>')
    svg.append(f'<text x="{LEFT + pw / 2}" y="{H - 10}" text-anchor="middle">offered load (Check calls/s)</text>')
    svg.append(
        f'<text transform="translate(16,{TOP + ph / 2}) rotate(-90)" text-anchor="middle">'
        "latency from intended start</text>"
    )
    legend_y = TOP + 10
    for i, (label, pts) in enumerate(data.items()):
        colour = COLOURS[i % len(COLOURS)]
        for key, dash in DASHES.items():
            path = " ".join(f"{sx(x):.1f},{sy(p[key]):.1f}" for x, p in pts)
            svg.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>'
            )
            for x, p in pts:
                svg.append(f'<circle cx="{sx(x):.1f}" cy="{sy(p[key]):.1f}" r="2.5" fill="{colour}"/>')
            lx = LEFT + pw + 12
            svg.append(
                f'<line x1="{lx}" x2="{lx + 28}" y1="{legend_y}" y2="{legend_y}" stroke="{colour}" '
                f'stroke-width="2" stroke-dasharray="{dash}"/>'
            )
            name = key.replace("_", ".")
            svg.append(f'<text x="{lx + 34}" y="{legend_y + 4}">{label} {name}</text>')
            legend_y += 18
        legend_y += 8
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    target = sys.argv[2] if len(sys.argv) == 3 else os.path.join(out, "latency.svg")
    data = series(out)
    if not data:
        sys.exit(f"{out}: no open-loop Check reports (open-*.json from bench/run-load.sh)")
    title = "rolecall Authorizer.Check: latency against offered load (open loop)"
    with open(target, "w") as f:
        f.write(plot(data, title))
    print(f"wrote {target}: {', '.join(f'{k} ({len(v)} loads)' for k, v in data.items())}")


if __name__ == "__main__":
    main()
