#!/usr/bin/env python3
"""Dot products of llama.cpp's own CPU kernels on random blocks of the low-bit weight types and
Q6_K, for tst_matmul_lowbit_ggml to compare Hearth's kernels with bit for bit.

    LLAMA_CPP_LIB_PATH=/tmp/dense-llama-avx2/bin .venv/bin/python scripts/gen-dot-reference.py

Needs llama-cpp-python in the venv: its libggml-cpu exports the kernels (ggml_vec_dot_<type>)
and the activation quantizers, which this script calls through ctypes. Writes
tests/data/quant/dot/:
  x.f32                 N_TOKENS activation rows of N_COLS floats (normal, one outlier)
  act.<DOT>.bin         those rows as ggml quantizes them (Q8_0, Q8_K) or rounds them (BF16)
  <TYPE>.weights.bin    N_ROWS random rows of the type (every block pattern is valid; the scales
                        are set to modest values)
  <TYPE>.x86.f32        ggml_vec_dot_<type> of each row with each activation row, (token, row)
and index.json. Deterministic (fixed seed).
"""
import ctypes
import json
import os
import pathlib
import sys

import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "quant" / "dot"
SEED = 20261206
N_ROWS, N_COLS, N_TOKENS = 8, 1024, 4

# weight type -> (dot type, ggml kernel name)
TYPES = {
    T.MXFP4: ("Q8_0", "mxfp4_q8_0"), T.NVFP4: ("Q8_0", "nvfp4_q8_0"),
    T.TQ1_0: ("Q8_K", "tq1_0_q8_K"), T.TQ2_0: ("Q8_K", "tq2_0_q8_K"),
    T.IQ2_XXS: ("Q8_K", "iq2_xxs_q8_K"), T.IQ2_XS: ("Q8_K", "iq2_xs_q8_K"),
    T.IQ2_S: ("Q8_K", "iq2_s_q8_K"), T.IQ3_XXS: ("Q8_K", "iq3_xxs_q8_K"),
    T.IQ3_S: ("Q8_K", "iq3_s_q8_K"), T.IQ1_S: ("Q8_K", "iq1_s_q8_K"),
    T.IQ1_M: ("Q8_K", "iq1_m_q8_K"), T.BF16: ("BF16", "bf16"),
    # Q6_K (a third of every Q4_K_M file): its multi-token AVX2 kernel against ggml's.
    T.Q6_K: ("Q8_K", "q6_K_q8_K"),
}
# Byte offset of the f16 super-block scale (IQ1_M: spread over its scale words; MXFP4 and
# NVFP4: 8-bit scale codes).
F16_SCALE = {T.TQ1_0: 52, T.TQ2_0: 64, T.IQ2_XXS: 0, T.IQ2_XS: 0, T.IQ2_S: 0, T.IQ3_XXS: 0,
             T.IQ3_S: 0, T.IQ1_S: 0, T.Q6_K: 208}
ACT_BYTES = {"Q8_0": 34 * N_COLS // 32, "Q8_K": 292 * N_COLS // 256, "BF16": 2 * N_COLS}


def load_ggml():
    import llama_cpp
    # LLAMA_CPP_LIB_PATH, as llama-cpp-python itself reads it: the AVX2 build of the same
    # llama.cpp, whose x86 kernels are the ones Hearth's AVX2 kernels follow.
    lib_dir = pathlib.Path(os.environ.get("LLAMA_CPP_LIB_PATH") or
                           pathlib.Path(llama_cpp.__file__).parent / "lib")
    ctypes.CDLL(str(lib_dir / "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
    ggml = ctypes.CDLL(str(lib_dir / "libggml-cpu.so"))
    ggml.ggml_cpu_init()
    return ggml


def random_weights(rng, qtype):
    block, size = GGML_QUANT_SIZES[qtype]
    if qtype == T.BF16:
        w = (rng.standard_normal((N_ROWS, N_COLS)) * 0.1).astype(np.float32)
        return (w.view(np.uint32) >> 16).astype("<u2").view(np.uint8).reshape(N_ROWS, -1)
    blocks = rng.integers(0, 256, (N_ROWS * N_COLS // block, size), dtype=np.uint8)
    d = (rng.uniform(0.002, 0.02, blocks.shape[0]) * rng.choice([-1, 1], blocks.shape[0]))
    bits = d.astype(np.float16).view(np.uint16)
    if qtype in F16_SCALE:
        at = F16_SCALE[qtype]
        blocks[:, at] = bits & 0xFF
        blocks[:, at + 1] = bits >> 8
    elif qtype == T.IQ1_M:
        for i in range(4):
            blocks[:, 49 + 2 * i] = (blocks[:, 49 + 2 * i] & 0x0F) | (((bits >> (4 * i)) & 0x0F) << 4)
    elif qtype == T.MXFP4:
        blocks[:, 0] = rng.integers(119, 125, blocks.shape[0])  # 2^-9 .. 2^-4
    return blocks.reshape(N_ROWS, -1)


def main() -> int:
    ggml = load_ggml()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((N_TOKENS, N_COLS)).astype(np.float32)
    x[0, 0] = 9.0  # an outlier, as real activations have
    (OUT / "x.f32").write_bytes(x.astype("<f4").tobytes())
    acts = {}
    for dot in ("Q8_0", "Q8_K", "BF16"):
        buf = np.zeros((N_TOKENS, ACT_BYTES[dot]), dtype=np.uint8)
        for t in range(N_TOKENS):
            src = x[t].ctypes.data_as(ctypes.c_void_p)
            dst = buf[t].ctypes.data_as(ctypes.c_void_p)
            if dot == "BF16":
                ggml.ggml_cpu_fp32_to_bf16(src, dst, ctypes.c_int64(N_COLS))
            else:
                getattr(ggml, f"quantize_row_{dot[:2].lower()}{dot[2:]}")(src, dst, ctypes.c_int64(N_COLS))
        acts[dot] = buf
        (OUT / f"act.{dot}.bin").write_bytes(buf.tobytes())

    cases = []
    for qtype, (dot, kernel) in TYPES.items():
        w = np.ascontiguousarray(random_weights(rng, qtype))
        (OUT / f"{qtype.name}.weights.bin").write_bytes(w.tobytes())
        entry = {"type": qtype.name, "type_id": int(qtype), "dot_type": dot,
                 "weights": f"{qtype.name}.weights.bin"}
        for flavour, name in (("x86", f"ggml_vec_dot_{kernel}"),):
            fn = getattr(ggml, name)
            out = np.zeros((N_TOKENS, N_ROWS), dtype=np.float32)
            s = ctypes.c_float()
            for t in range(N_TOKENS):
                for r in range(N_ROWS):
                    fn(ctypes.c_int(N_COLS), ctypes.byref(s), ctypes.c_size_t(0),
                       w[r].ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(0),
                       acts[dot][t].ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(0), ctypes.c_int(1))
                    out[t, r] = s.value
            (OUT / f"{qtype.name}.{flavour}.f32").write_bytes(out.astype("<f4").tobytes())
            entry[flavour] = f"{qtype.name}.{flavour}.f32"
        cases.append(entry)
    index = {"generator": "scripts/gen-dot-reference.py", "seed": SEED, "n_rows": N_ROWS,
             "n_cols": N_COLS, "n_tokens": N_TOKENS, "x": "x.f32", "cases": cases}
    (OUT / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"wrote {len(cases)} types to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
