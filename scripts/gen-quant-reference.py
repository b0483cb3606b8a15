#!/usr/bin/env python3
"""Generates the dequantization goldens of tests/data/quant/ with the Python `gguf` package
(gguf.quants), which tst_dequantize compares Hearth's CPU dequantizer against bit for bit.

Run from the repository root:
    .venv/bin/python scripts/gen-quant-reference.py

Deterministic (fixed seed): running it twice writes identical files. For every type and case it
writes
    tests/data/quant/<TYPE>.<case>.blocks.bin    the raw blocks, as stored in a GGUF file
    tests/data/quant/<TYPE>.<case>.expected.f32  gguf.quants.dequantize of them, little-endian f32
and tests/data/quant/index.json lists them (name, type, type_id, n_elements). Cases:
    quantized  realistic weights (normal values, some zeros, a few large magnitudes) quantized by
               gguf.quants.quantize, or, for the types it cannot quantize (K, IQ4 and NVFP4
               formats), by the simple round-to-nearest packers below: the goldens only need
               plausible blocks, the expected values always come from gguf's dequantizer.
               The grid i-quants (IQ1/IQ2/IQ3) have none: searching their code books is the
               quantizer's business, and their random blocks are already plausible ones
    random     random bytes with every f16 scale field replaced by a random finite half
    special    random bytes with scale fields set to Inf, NaN, zero, subnormal and max halves
It also writes fp32_to_fp16.in.f32 / fp32_to_fp16.expected.f16: tricky float32 values (ties,
overflow and underflow boundaries, NaN payloads, random bits) and numpy's astype(np.float16).
"""
import json
import re
import pathlib
import sys

import numpy as np
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "quant"
SEED = 20240611

# Byte offsets of the f16 scale fields (d, dmin, m) inside one block of each type.
SCALE_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0], T.TQ1_0: [52], T.TQ2_0: [64],
    T.MXFP4: [], T.NVFP4: [],  # their scales are 8-bit codes: every byte is a valid scale
    # The grid i-quants: gguf cannot quantize them, so they have no "quantized" case; every
    # byte pattern of their indices, signs and small scales is a valid block. IQ1_M's f16 scale
    # is spread over the top nibbles of four words (random bytes cover it, NaN and Inf included).
    T.IQ2_XXS: [0], T.IQ2_XS: [0], T.IQ2_S: [0], T.IQ3_XXS: [0], T.IQ3_S: [0], T.IQ1_S: [0],
    T.IQ1_M: [],
}
GRID_TYPES = {T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S, T.IQ1_M}
BLOCK_TYPES = list(SCALE_FIELDS)
QUANTIZABLE = {T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.TQ1_0, T.TQ2_0, T.MXFP4}

# Inf, signalling NaN, negative quiet NaN with payload, smallest subnormal, -0, largest half, ...
SPECIAL_HALVES = [0x7C00, 0x7C01, 0xFE5A, 0x0001, 0x8000, 0x7BFF, 0xFC00, 0x7E00, 0x0000, 0x83FF,
                  0xFBFF, 0x0400]


def n_blocks_for(qtype):
    """At least 32 blocks of a 32-element type, 8 of a 256-element type (16 for NVFP4's 64)."""
    block_size, _ = GGML_QUANT_SIZES[qtype]
    return max(8, 1024 // block_size)


def realistic_weights(rng, n):
    """Weights as in a trained model: mostly N(0, 0.02), some exact zeros, a few outliers, and
    one whole block of zeros (a block whose scale is 0)."""
    x = rng.normal(0.0, 0.02, n).astype(np.float32)
    x[rng.random(n) < 0.05] = 0.0
    outliers = rng.random(n) < 0.01
    x[outliers] = (rng.choice([-1.0, 1.0], outliers.sum()) * rng.uniform(0.5, 60.0, outliers.sum())
                   ).astype(np.float32)
    x[:32] = 0.0
    return x


def random_finite_halves(rng, n):
    h = rng.integers(0, 1 << 16, n, dtype=np.uint16)
    nonfinite = (h & 0x7C00) == 0x7C00
    h[nonfinite] &= 0xBFFF  # clear the exponent's top bit: a finite half
    return h


# Round-to-nearest packers for the types gguf.quants cannot quantize. Each takes (n, QK) float32
# and returns (n, type_size) uint8 in the layout of engine/src/quant/blocks.h.

def _f16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


def _scale_of(x, levels):
    """A positive f16 step so that `levels` steps span x (1 where x is all zeros)."""
    d = _f16(x / levels).astype(np.float32)
    return np.where(d == 0, np.float32(1), d)


def _pack_2bit(q):
    """(n, 256) values 0..3 into (n, 64) bytes: value 128h + 32k + l in bits 2k of byte 32h + l."""
    q = q.reshape(-1, 2, 4, 32).astype(np.uint8) << np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 4, 1)
    return np.bitwise_or.reduce(q, axis=2).reshape(-1, 64)


def _pack_nibbles(q, half):
    """(n, groups * 2 * half) values 0..15: in each group, values [0, half) low nibbles."""
    q = q.reshape(q.shape[0], -1, 2, half).astype(np.uint8)
    return (q[:, :, 0] | (q[:, :, 1] << np.uint8(4))).reshape(q.shape[0], -1)


def _affine(x, sub, qmax):
    """Per sub-block scale and min (x = sc * q - mn), both as small integers times f16 d/dmin."""
    x = x.reshape(x.shape[0], -1, sub)
    mn = np.maximum(-x.min(axis=-1), 0)
    step = (x.max(axis=-1) + mn) / qmax
    return x, step, mn


def _pack_k4_scales(sc, mn):
    """Inverse of ggml's get_scale_min_k4: 8 six-bit scales and mins into 12 bytes."""
    s = np.zeros((sc.shape[0], 12), np.uint8)
    s[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    s[:, 4:8] = mn[:, 0:4] | ((mn[:, 4:8] >> 4) << 6)
    s[:, 8:12] = (sc[:, 4:8] & 0xF) | ((mn[:, 4:8] & 0xF) << 4)
    return s


def _quantize_affine_k(x, sub, qmax, smax):
    x, step, mn = _affine(x, sub, qmax)
    d = _scale_of(step.max(axis=-1, keepdims=True), smax)
    dmin = _scale_of(mn.max(axis=-1, keepdims=True), smax)
    sc = np.clip(np.rint(step / d), 0, smax).astype(np.uint8)
    m = np.clip(np.rint(mn / dmin), 0, smax).astype(np.uint8)
    dl = (d * sc)[..., None]
    q = np.where(dl == 0, 0, np.rint((x + (dmin * m)[..., None]) / np.where(dl == 0, 1, dl)))
    return np.clip(q, 0, qmax).reshape(x.shape[0], -1).astype(np.uint8), sc, m, d, dmin


def quantize_q2_k(x):
    q, sc, m, d, dmin = _quantize_affine_k(x, 16, 3, 15)
    return np.concatenate([sc | (m << 4), _pack_2bit(q), _f16(d).view(np.uint8),
                           _f16(dmin).view(np.uint8)], axis=-1)


def quantize_q3_k(x):
    xs = x.reshape(x.shape[0], 16, 16)
    amax = np.abs(xs).max(axis=-1)
    d = _scale_of(amax.max(axis=-1, keepdims=True) / 4, 31)
    sc = np.clip(np.rint(amax / 4 / d), -32, 31).astype(np.int8)
    dl = (d * sc)[..., None]
    q = np.clip(np.rint(xs / np.where(dl == 0, 1, dl)), -4, 3).astype(np.int8).reshape(-1, 256) + 4
    hmask = np.packbits((q >> 2).reshape(-1, 8, 32).astype(np.uint8), axis=1, bitorder="little")
    s = (sc.astype(np.int16) + 32).astype(np.uint8)  # 6 bits: low nibble + 2 high bits
    scales = np.zeros((x.shape[0], 12), np.uint8)
    scales[:, 0:8] = (s[:, 0:8] & 0xF) | ((s[:, 8:16] & 0xF) << 4)
    for j in range(16):
        scales[:, 8 + j % 4] |= ((s[:, j] >> 4) & 3) << (2 * (j // 4))
    return np.concatenate([hmask.reshape(-1, 32), _pack_2bit(q & 3), scales, _f16(d).view(np.uint8)],
                          axis=-1)


def quantize_q4_k(x):
    q, sc, m, d, dmin = _quantize_affine_k(x, 32, 15, 63)
    return np.concatenate([_f16(d).view(np.uint8), _f16(dmin).view(np.uint8), _pack_k4_scales(sc, m),
                           _pack_nibbles(q, 32)], axis=-1)


def quantize_q5_k(x):
    q, sc, m, d, dmin = _quantize_affine_k(x, 32, 31, 63)
    qh = np.packbits((q >> 4).reshape(-1, 8, 32), axis=1, bitorder="little").reshape(-1, 32)
    return np.concatenate([_f16(d).view(np.uint8), _f16(dmin).view(np.uint8), _pack_k4_scales(sc, m),
                           qh, _pack_nibbles(q & 0xF, 32)], axis=-1)


def quantize_q6_k(x):
    xs = x.reshape(x.shape[0], 16, 16)
    amax = np.abs(xs).max(axis=-1)
    d = _scale_of(amax.max(axis=-1, keepdims=True) / 32, 127)
    sc = np.clip(np.rint(amax / 32 / d), -128, 127).astype(np.int8)
    dl = (d * sc)[..., None]
    q = (np.clip(np.rint(xs / np.where(dl == 0, 1, dl)), -32, 31) + 32).astype(np.uint8).reshape(-1, 256)
    low, high = q & 0xF, q >> 4
    # ql: value 128h + 32k + l takes nibble k // 2 of byte 64h + 32(k % 2) + l
    ql = _pack_nibbles(low.reshape(-1, 2, 2, 64).reshape(-1, 256), 64)
    return np.concatenate([ql, _pack_2bit(high), sc.view(np.uint8), _f16(d).view(np.uint8)], axis=-1)


KVALUES_IQ4NL = np.array(quants.IQ4_NL.kvalues, dtype=np.float32)


def _nearest(values, table):
    return np.abs(values[..., None] - table).argmin(axis=-1).astype(np.uint8)


def _signed_max(x):
    """The value of largest magnitude, sign kept (ggml maps it to the code book's -127)."""
    return np.take_along_axis(x, np.abs(x).argmax(axis=-1)[..., None], axis=-1)[..., 0]


def quantize_iq4_nl(x):
    d = _f16(_signed_max(x)[:, None] / -127).astype(np.float32)  # 0 for an all-zero block
    q = _nearest(x / np.where(d == 0, 1, d), KVALUES_IQ4NL)
    return np.concatenate([_f16(d).view(np.uint8), _pack_nibbles(q, 16)],
                          axis=-1)


def quantize_iq4_xs(x):
    xs = x.reshape(x.shape[0], 8, 32)
    smax = _signed_max(xs) / -127  # per sub-block step, signed
    d = _scale_of(np.abs(smax).max(axis=-1, keepdims=True), 31)
    sc = np.clip(np.rint(smax / d), -32, 31).astype(np.int16)
    dl = (d * sc)[..., None]
    q = _nearest(xs / np.where(dl == 0, 1, dl), KVALUES_IQ4NL).reshape(-1, 256)
    s = (sc + 32).astype(np.uint16)
    scales_h = np.bitwise_or.reduce((s >> 4) << (2 * np.arange(8, dtype=np.uint16)), axis=-1)
    scales_l = ((s[:, 0::2] & 0xF) | ((s[:, 1::2] & 0xF) << 4)).astype(np.uint8)
    return np.concatenate([_f16(d).view(np.uint8), scales_h.astype("<u2").reshape(-1, 1).view(np.uint8),
                           scales_l, _pack_nibbles(q, 16)], axis=-1)


def quantize_nvfp4(x):
    xs = x.reshape(x.shape[0], 4, 16)
    e = quants.NVFP4.fp32_to_ue4m3(np.abs(xs).max(axis=-1) / 6)
    d = quants.NVFP4.ue4m3_to_fp32(e).astype(np.float32)[..., None]
    kvalues = np.array(quants.NVFP4.kvalues, dtype=np.float32)
    q = _nearest(xs / np.where(d == 0, 1, d), kvalues).reshape(-1, 64)
    return np.concatenate([e.astype(np.uint8), _pack_nibbles(q, 8)], axis=-1)


OWN_QUANTIZERS = {T.Q2_K: quantize_q2_k, T.Q3_K: quantize_q3_k, T.Q4_K: quantize_q4_k,
                  T.Q5_K: quantize_q5_k, T.Q6_K: quantize_q6_k, T.IQ4_NL: quantize_iq4_nl,
                  T.IQ4_XS: quantize_iq4_xs, T.NVFP4: quantize_nvfp4}


def set_halves(blocks, offsets, halves):
    """Writes halves (one per block and field, row-major) into the f16 fields at `offsets`."""
    halves = halves.reshape(blocks.shape[0], len(offsets))
    for k, off in enumerate(offsets):
        blocks[:, off:off + 2] = halves[:, k:k + 1].astype("<u2").view(np.uint8).reshape(-1, 2)


def write_case(index, qtype, case, blocks, expected):
    name = f"{qtype.name}.{case}"
    blocks = np.ascontiguousarray(blocks, dtype=np.uint8)
    expected = np.ascontiguousarray(expected, dtype=np.float32).reshape(-1)
    (OUT / f"{name}.blocks.bin").write_bytes(blocks.tobytes())
    (OUT / f"{name}.expected.f32").write_bytes(expected.astype("<f4").tobytes())
    index.append({"name": name, "type": qtype.name, "type_id": int(qtype),
                  "n_elements": int(expected.size)})


def dequantize(blocks, qtype):
    _, type_size = GGML_QUANT_SIZES[qtype]
    with np.errstate(over="ignore", invalid="ignore"):  # huge random scales overflow to Inf
        return quants.dequantize(blocks.reshape(-1, type_size) if type_size > 2 else blocks.reshape(-1),
                             qtype)


def gen_block_types(rng, index, qtypes):
    for qtype in qtypes:
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        n_blocks = n_blocks_for(qtype)
        fields = SCALE_FIELDS[qtype]

        if qtype not in GRID_TYPES:
            write_quantized_case(rng, index, qtype, n_blocks)

        blocks = rng.integers(0, 256, (n_blocks, type_size), dtype=np.uint8)
        set_halves(blocks, fields, random_finite_halves(rng, n_blocks * len(fields)))
        write_case(index, qtype, "random", blocks, dequantize(blocks, qtype))

        if fields:
            # Every special value once per field; 256-element types take the first 6 only.
            n_special = len(SPECIAL_HALVES) if block_size <= 32 else 6
            blocks = rng.integers(0, 256, (n_special, type_size), dtype=np.uint8)
            halves = np.array([SPECIAL_HALVES[(b + k * 5) % len(SPECIAL_HALVES)] for b in range(n_special)
                               for k in range(len(fields))], dtype=np.uint16)
            set_halves(blocks, fields, halves)
            with np.errstate(invalid="ignore", over="ignore"):
                write_case(index, qtype, "special", blocks, dequantize(blocks, qtype))


def write_quantized_case(rng, index, qtype, n_blocks):
    """Realistic weights quantized by gguf, or by the packers above where gguf cannot."""
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    data = realistic_weights(rng, n_blocks * block_size).reshape(-1, block_size)
    if qtype in QUANTIZABLE:
        blocks = quants.quantize(data, qtype)
    else:
        blocks = OWN_QUANTIZERS[qtype](data)
    blocks = np.ascontiguousarray(blocks, dtype=np.uint8).reshape(n_blocks, type_size)
    restored = dequantize(blocks, qtype)
    # Our packers must round-trip: |error| within a modest fraction of each block's range.
    err = np.abs(restored.reshape(data.shape) - data).max(axis=-1)
    assert qtype in QUANTIZABLE or np.all(err <= 0.35 * np.abs(data).max(axis=-1) + 1e-6), (qtype.name, err.max())
    write_case(index, qtype, "quantized", blocks, restored)


def gen_float_types(rng, index):
    # F32: realistic data, and random bit patterns (NaNs with payloads included).
    data = realistic_weights(rng, 1024)
    write_case(index, T.F32, "quantized", data.view(np.uint8), dequantize(data.view(np.uint8), T.F32))
    bits = rng.integers(0, 1 << 32, 1024, dtype=np.uint32).view(np.uint8)
    write_case(index, T.F32, "random", bits, dequantize(bits, T.F32))

    # F16 and BF16: realistic data quantized, then specials and random bit patterns.
    special = np.array(SPECIAL_HALVES + [0x3C00, 0xBC00, 0x7FFF, 0xFFFF, 0x03FF, 0x0200],
                       dtype=np.uint16)
    for qtype in (T.F16, T.BF16):
        blocks = quants.quantize(realistic_weights(rng, 1024), qtype).view(np.uint8)
        write_case(index, qtype, "quantized", blocks, dequantize(blocks, qtype))
        bits = np.concatenate([special, rng.integers(0, 1 << 16, 2048, dtype=np.uint16)])
        blocks = bits.astype("<u2").view(np.uint8)
        write_case(index, qtype, "random", blocks, dequantize(blocks, qtype))


def fp32_to_fp16_cases(rng):
    """Float32 values where rounding to half is delicate, and numpy's results."""
    values = []
    finite_halves = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
    # Exact halves, midpoints (ties) between consecutive halves, and one float32 ulp either side
    # of each midpoint, for a sample of consecutive pairs across the whole range.
    pairs = np.concatenate([np.arange(0, 40), rng.integers(0, 0x7BFF, 1500), np.arange(0x7BE0, 0x7BFF),
                            np.arange(0x03F0, 0x0410)])
    lo, hi = finite_halves[pairs], finite_halves[pairs + 1]
    mid = ((lo + hi) / 2).astype(np.float32)  # exact: a half midpoint fits in float32
    values += [lo.astype(np.float32), mid, np.nextafter(mid, np.float32(np.inf)),
               np.nextafter(mid, np.float32(0))]
    # Overflow boundary: 65504 is the largest half, 65520 the tie that rounds to Inf.
    values.append(np.array([65504, 65519, 65519.996, 65520, 65520.004, 65536, 1e10, 3.4e38],
                           dtype=np.float32))
    # Underflow: 2^-24 smallest subnormal, 2^-25 the tie that rounds to zero.
    tiny = np.array([2.0**-24, 2.0**-25, 3 * 2.0**-26, 2.0**-26, 2.0**-14, 2.0**-15, 1e-30, 1e-45],
                    dtype=np.float32)
    values += [tiny, np.nextafter(tiny, np.float32(np.inf)), np.nextafter(tiny, np.float32(0))]
    # Inf, zeros, NaNs with payloads (numpy keeps the top payload bits, never quiets).
    values.append(np.array([0x7F800000, 0xFF800000, 0x00000000, 0x80000000, 0x7FC00000, 0xFFC00000,
                            0x7F800001, 0xFF800001, 0x7FA00000, 0x7F802000, 0x7FBFFFFF, 0x7FFFFFFF,
                            0x7F801FFF, 0xFFE12345], dtype=np.uint32).view(np.float32))
    # Random bit patterns, and random values spread over the half range on a log scale.
    values.append(rng.integers(0, 1 << 32, 2048, dtype=np.uint32).view(np.float32))
    mags = np.exp2(rng.uniform(-26, 17, 2048)) * rng.choice([-1.0, 1.0], 2048)
    values.append(mags.astype(np.float32))
    inputs = np.concatenate([v.astype(np.float32).reshape(-1) for v in values])
    with np.errstate(over="ignore", invalid="ignore"):
        return inputs, inputs.astype(np.float16)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        old.unlink()
    rng = np.random.default_rng(SEED)
    index = []
    gen_float_types(rng, index)
    gen_block_types(rng, index, [t for t in BLOCK_TYPES if t not in GRID_TYPES])

    inputs, expected = fp32_to_fp16_cases(rng)
    # Added later: drawn last, so that the cases above keep their random streams.
    gen_block_types(rng, index, [t for t in BLOCK_TYPES if t in GRID_TYPES])
    (OUT / "fp32_to_fp16.in.f32").write_bytes(inputs.astype("<f4").tobytes())
    (OUT / "fp32_to_fp16.expected.f16").write_bytes(expected.view(np.uint16).astype("<u2").tobytes())

    meta = {"generator": "scripts/gen-quant-reference.py", "seed": SEED,
            "numpy": np.__version__, "cases": index,
            "fp32_to_fp16": {"inputs": "fp32_to_fp16.in.f32", "expected": "fp32_to_fp16.expected.f16",
                             "count": int(inputs.size)}}
    text = json.dumps(meta, indent=1)
    text = re.sub(r"\{\s+(\"name\"[^}]*?)\s+\}", lambda m: "{" + " ".join(m.group(1).split()) + "}", text)
    (OUT / "index.json").write_text(text + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(index)} cases, {total // 1024} KiB, to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    if "--no-main" not in sys.argv: main()
