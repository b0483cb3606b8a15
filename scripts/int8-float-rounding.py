#!/usr/bin/env python3
"""Measures the rounding error of the fast prefill path's 8-bit form of float weights
(engine/src/cpu/int8_convert_float.cpp) against the symmetric alternative, per 32-value block:

  asymmetric (what Hearth does): q = round((v - lo) * 255 / (hi - lo)), value lo + q (hi - lo) / 255
  symmetric (Q8_0's form):       q = round(v * 127 / amax),            value q amax / 127

on synthetic weight distributions (normal; Laplace and Student-t with 3 degrees of freedom, the
heavy tails real LLM weights have; a normal with a per-block offset) and, if given, the matrices
of a GGUF file (dequantized; a Q4_1 file's values lie on the asymmetric 8-bit grid, every 17th
step, so they come out exact). Prints the RMS error relative to the weights' RMS.

    .venv/bin/python scripts/int8-float-rounding.py [MODEL.gguf]
"""
import sys

import numpy as np


def asymmetric(w):
    lo = w.min(axis=1, keepdims=True)
    hi = w.max(axis=1, keepdims=True)
    rng = hi - lo
    inv = np.where(rng > 0, 255.0 / np.where(rng > 0, rng, 1), 0)
    q = np.clip(np.rint((w - lo) * inv), 0, 255)
    return lo + q * rng / 255.0


def symmetric(w):
    amax = np.abs(w).max(axis=1, keepdims=True)
    d = amax / 127.0
    q = np.clip(np.rint(w / np.where(d > 0, d, 1)), -127, 127)
    return q * d


def report(name, w):
    w = w.astype(np.float64).reshape(-1, 32)
    rms = np.sqrt(np.mean(w * w))
    a = np.sqrt(np.mean((asymmetric(w) - w) ** 2)) / rms
    s = np.sqrt(np.mean((symmetric(w) - w) ** 2)) / rms
    ratio = f"{s / a:.2f}" if a > 0 else "∞ (on its grid)"
    print(f"| {name} | {100 * a:.3f}% | {100 * s:.3f}% | {ratio} |")


def main():
    rng = np.random.default_rng(1)
    n = 1 << 20
    print("| weights | asymmetric (scale + min) | symmetric (scale) | symmetric / asymmetric |")
    print("|---|---|---|---|")
    report("normal", rng.standard_normal(n))
    report("Laplace", rng.laplace(size=n))
    report("Student-t, 3 dof", rng.standard_t(3, size=n))
    offsets = np.repeat(rng.standard_normal(n // 32) * 0.5, 32)
    report("normal + block offset 0.5σ", rng.standard_normal(n) + offsets)
    if len(sys.argv) > 1:
        import gguf
        reader = gguf.GGUFReader(sys.argv[1])
        for t in reader.tensors:
            if len(t.shape) == 2 and t.name.endswith("weight") and "embd" not in t.name:
                w = gguf.quants.dequantize(t.data, t.tensor_type)
                report(f"{t.name} ({t.tensor_type.name})", w)
                if t.name.startswith("blk.1."):
                    break


if __name__ == "__main__":
    sys.exit(main())
