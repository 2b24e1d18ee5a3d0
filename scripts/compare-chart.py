#!/usr/bin/env python3
"""Draws the chart of docs/BENCHMARKS.md from the JSON files `compare --json` writes.

    scripts/compare-chart.py OUT.svg RUN.json [RUN.json ...]

For every workload row (W1, W2, ..., YA ...) found in the files, one group of horizontal bars: the
median ops/s of each engine over its runs, with a thin line from the minimum to the maximum run.
Rows an engine did not run (or could not: ops 0) get no bar. Each group has its own scale (the
longest bar of a group is the fastest engine on that row), because the rows differ by orders of
magnitude; the figure at the end of each bar is the median in ops/s. W6's open rows ("W6 open ...")
time one open each: their bars are milliseconds (shorter is faster). Standard library only.
"""

import json
import statistics
import sys
from xml.sax.saxutils import escape

ENGINE_COLOURS = {
    "pogreb": "#d9480f",
    "lmdb": "#1c7ed6",
    "leveldb": "#37b24d",
    "sqlite": "#7048e8",
    "limit": "#868e96",
}


def is_open(row):
    """W6's open rows: one timed open each, drawn in milliseconds."""
    return row.startswith("W6 open")


def rates(paths):
    """{(N, row): {engine: [ops/s per run, or milliseconds for an open row]}} in the order rows first appear."""
    table = {}
    for path in paths:
        with open(path) as handle:
            run = json.load(handle)
        for engine, by_run in run["measurements"].items():
            for measurements in by_run.values():
                for m in measurements:
                    if not m.get("ops") or not m.get("seconds"):
                        continue
                    key = (run.get("n"), m["row"])
                    value = m["seconds"] * 1000 if is_open(m["row"]) else m["ops"] / m["seconds"]
                    table.setdefault(key, {}).setdefault(engine, []).append(value)
    return table


def human(rate, row):
    if is_open(row):
        return f"{rate:.2f} ms" if rate < 10 else f"{rate:.0f} ms"
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M/s"
    if rate >= 1e3:
        return f"{rate / 1e3:.0f} k/s"
    return f"{rate:.0f}/s"


def draw(table, out):
    bar, gap, label_width, plot_width, margin = 14, 3, 190, 520, 10
    rows = []
    y = 40
    for (n, row), by_engine in table.items():
        engines = [e for e in ENGINE_COLOURS if e in by_engine] + sorted(
            e for e in by_engine if e not in ENGINE_COLOURS)
        top = max(max(v) for v in by_engine.values())
        title = row + (", N = " + f"{n:,}".replace(",", " ") if n else "")
        if is_open(row):
            title += " (milliseconds, shorter is faster)"
        rows.append(f'<text x="{margin}" y="{y + 11}" font-weight="bold">{escape(title)}</text>')
        y += 18
        for engine in engines:
            values = by_engine[engine]
            median = statistics.median(values)
            width = plot_width * median / top
            low, high = plot_width * min(values) / top, plot_width * max(values) / top
            colour = ENGINE_COLOURS.get(engine, "#495057")
            x0 = label_width
            rows.append(f'<text x="{label_width - 6}" y="{y + 11}" text-anchor="end">{escape(engine)}</text>')
            rows.append(f'<rect x="{x0}" y="{y}" width="{width:.1f}" height="{bar}" fill="{colour}"/>')
            rows.append(
                f'<line x1="{x0 + low:.1f}" x2="{x0 + high:.1f}" y1="{y + bar / 2}" y2="{y + bar / 2}" '
                f'stroke="#212529" stroke-width="1.5"/>')
            rows.append(f'<text x="{x0 + max(width, high) + 6:.1f}" y="{y + 11}">{human(median, row)} '
                        f'({len(values)} runs)</text>')
            y += bar + gap
        y += 12
    height = y + margin
    width = label_width + plot_width + 160
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{margin}" y="22" font-size="14" font-weight="bold">ops/s by engine and workload '
        f'(W6 opens: ms; median of the runs; line: min to max; each group on its own scale)</text>',
    ] + rows + ["</svg>"]
    with open(out, "w") as handle:
        handle.write("\n".join(svg) + "\n")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    table = rates(argv[2:])
    if not table:
        print("no measurements in the given files", file=sys.stderr)
        return 1
    draw(table, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
