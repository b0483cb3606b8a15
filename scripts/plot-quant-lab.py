#!/usr/bin/env python3
"""Draws `hearth-cli quant-lab --json` output as an SVG chart: quality against memory and
against decode speed, with the seed's rule of thumb (INT8 ~1% quality loss, INT4 3-5%,
INT2 10%+) drawn as bands beside the measured points. No plotting library: plain SVG.

    hearth-cli quant-lab MODEL --types Q8_0,Q4_K_M,Q2_K --text FILE --out-dir D --json > lab.json
    python3 scripts/plot-quant-lab.py lab.json docs/images/quant-lab.svg [--title TEXT]

Left: the perplexity's change against the reference (%) by memory (weights + KV cache), with
the rule of thumb's bands. Right: mean KL divergence (log scale) by decode tokens/s.
"""
import argparse
import json
import math
import pathlib
from html import escape

W, H = 480, 340          # one panel
M = dict(l=64, r=16, t=40, b=48)
RULES = [("INT8 ~1%", 0, 1, "#d8ecd8"), ("INT4 3-5%", 3, 5, "#f3ebc8"), ("INT2 10%+", 10, None, "#f2d4d0")]
COLOURS = {"INT8": "#2e7d32", "INT5-6": "#6d8f1f", "INT4": "#b8860b", "INT2": "#c62828", None: "#1565c0"}


def rule_class(entry):
    """The rule of thumb's class of a type, as rule_of_thumb() in engine/src/lab/quant_lab.cpp."""
    if entry["reference"]:
        return None
    label = entry["label"]
    if label == "Q8_0":
        return "INT8"
    if label.startswith(("Q6_", "Q5_")):
        return "INT5-6"
    if label.startswith(("Q3_", "Q2_")):
        return "INT2"
    return "INT4"


def ticks(lo, hi, n=5):
    step = 10 ** math.floor(math.log10((hi - lo) / n or 1))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def panel(x0, title, points, xlabel, ylabel, xr, yr, ylog=False, bands=()):
    out = [f'<g transform="translate({x0},0)">',
           f'<text x="{W/2}" y="20" text-anchor="middle" font-weight="bold">{escape(title)}</text>']
    pw, ph = W - M["l"] - M["r"], H - M["t"] - M["b"]

    def fy(v):
        if ylog:
            v = math.log10(max(v, 10 ** yr[0]))
        return M["t"] + ph - (v - yr[0]) / (yr[1] - yr[0]) * ph

    def fx(v):
        return M["l"] + (v - xr[0]) / (xr[1] - xr[0]) * pw

    # The bands, and their legend on one line above the plot (labels inside narrow bands
    # would overlap each other and the points).
    legend_x = M["l"]
    for i, (label, lo, hi, colour) in enumerate(bands):
        top = fy(min(hi if hi is not None else yr[1], yr[1]))
        bottom = fy(max(lo, yr[0]))
        if bottom > top:
            out.append(f'<rect x="{M["l"]}" y="{top:.1f}" width="{pw}" height="{bottom-top:.1f}" fill="{colour}"/>')
        text = ("rule of thumb: " if i == 0 else "") + label
        out.append(f'<rect x="{legend_x}" y="{M["t"]-14}" width="10" height="10" fill="{colour}" stroke="#999"/>')
        out.append(f'<text x="{legend_x+14}" y="{M["t"]-5}" font-size="11" fill="#555">{escape(text)}</text>')
        legend_x += 14 + 6.2 * len(text) + 12
    out.append(f'<rect x="{M["l"]}" y="{M["t"]}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    for t in ticks(*xr):
        out.append(f'<text x="{fx(t):.1f}" y="{M["t"]+ph+16}" text-anchor="middle" font-size="11">{t:g}</text>')
    yt = range(math.floor(yr[0]), math.ceil(yr[1]) + 1) if ylog else ticks(*yr)
    for t in yt:
        if yr[0] <= t <= yr[1]:
            label = f"1e{t}" if ylog else f"{t:g}"
            out.append(f'<text x="{M["l"]-6}" y="{fy(10**t if ylog else t)+4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    out.append(f'<text x="{M["l"]+pw/2}" y="{H-10}" text-anchor="middle" font-size="12">{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(14,{M["t"]+ph/2}) rotate(-90)" text-anchor="middle" font-size="12">{escape(ylabel)}</text>')
    for x, y, label, colour in points:
        out.append(f'<circle cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="4" fill="{colour}"/>')
        out.append(f'<text x="{fx(x)+6:.1f}" y="{fy(y)-6:.1f}" font-size="11">{escape(label)}</text>')
    out.append("</g>")
    return out


def padded(lo, hi, frac=0.08):
    span = (hi - lo) or abs(hi) or 1
    return lo - span * frac, hi + span * frac


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("json")
    parser.add_argument("svg")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    lab = json.loads(pathlib.Path(args.json).read_text())
    entries = lab["entries"]
    ref_ppl = entries[0]["perplexity"]
    mib = lambda e: e["memory_bytes"] / 2**20
    loss = [(mib(e), 100 * (e["perplexity"] / ref_ppl - 1), e["label"], COLOURS[rule_class(e)]) for e in entries]
    ys = [p[1] for p in loss] + [0]
    left = panel(0, "Perplexity change vs memory", loss, "weights + KV cache (MiB)", "perplexity vs reference (%)",
                 padded(min(p[0] for p in loss), max(p[0] for p in loss)), padded(min(ys), max(ys + [11])),
                 bands=RULES)
    quant = [e for e in entries if not e["reference"]]
    speed = [(e["decode_tokens_per_second"], e["mean_kld"], e["label"], COLOURS[rule_class(e)]) for e in quant]
    klds = [math.log10(max(e["mean_kld"], 1e-6)) for e in quant]
    right = panel(W, "Mean KL divergence vs decode speed", speed, "decode tokens/s", "mean KLD (log)",
                  padded(min(p[0] for p in speed), max(p[0] for p in speed)),
                  (math.floor(min(klds)), math.ceil(max(klds))), ylog=True)
    title = args.title or f'{lab["reference_type"]} reference, {lab["n_windows"]} windows of {lab["n_ctx"]}'
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2*W}" height="{H+24}" font-family="sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{W}" y="{H+16}" text-anchor="middle" font-size="12" fill="#333">{escape(title)}</text>',
           *left, *right, "</svg>"]
    pathlib.Path(args.svg).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.svg).write_text("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
