#!/usr/bin/env python3
"""Transcribes the i-quant grid tables of ggml (ggml/src/ggml-common.h) into
engine/src/quant/iq_grids.inc, once: the code books of IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S
and IQ1_S/IQ1_M, which are data, not something to derive. The .inc holds each table between
HEARTH_IQ_GRID_BEGIN(type, name, count) and HEARTH_IQ_GRID_END, defined by its includer: the
CPU engine's iq_grids.cpp and the CUDA kernels' kernels/iq_grids.cuh (device copies), so the
tables exist once in the source.

    .venv/bin/python scripts/gen-iq-grids.py path/to/llama.cpp/ggml/src/ggml-common.h

Each entry is copied as ggml spells it; the script then checks every table against the grids
the `gguf` Python package decodes from its own hex strings (gguf.quants.*.grid), so a table
that differs from gguf's dequantizer in one byte stops the script.
"""
import pathlib
import re
import sys

import numpy as np
from gguf import quants

OUT = pathlib.Path(__file__).resolve().parent.parent / "engine" / "src" / "quant" / "iq_grids.inc"

# ggml's table name -> (C type here, entry count, gguf class whose grid it must equal, bytes
# per entry, whether the entries are signed bytes).
TABLES = {
    "iq2xxs_grid": ("uint64_t", 256, quants.IQ2_XXS, 8, False),
    "iq2xs_grid": ("uint64_t", 512, quants.IQ2_XS, 8, False),
    "iq2s_grid": ("uint64_t", 1024, quants.IQ2_S, 8, False),
    "iq3xxs_grid": ("uint32_t", 256, quants.IQ3_XXS, 4, False),
    "iq3s_grid": ("uint32_t", 512, quants.IQ3_S, 4, False),
    "iq1s_grid": ("uint64_t", 2048, quants.IQ1_S, 8, True),
}


def read_table(text: str, name: str) -> list[int]:
    m = re.search(r"GGML_TABLE_BEGIN\(\s*\w+\s*,\s*" + name + r"\s*,[^)]*\)(.*?)GGML_TABLE_END",
                  text, re.S)
    if not m:
        sys.exit(f"table {name} not found")
    return [int(v, 0) for v in re.findall(r"0x[0-9a-fA-F]+|\d+", m.group(1))]


def check_against_gguf(name, values, cls, width, signed):
    cls.init_grid()
    want = np.asarray(cls.grid, dtype=np.float32).reshape(len(values), width)
    raw = np.array(values, dtype=np.uint64)
    got = np.stack([(raw >> np.uint64(8 * k)) & np.uint64(0xFF) for k in range(width)], axis=1)
    got = got.astype(np.uint8)
    got = (got.view(np.int8) if signed else got).astype(np.float32)
    if not np.array_equal(got, want):
        sys.exit(f"{name}: ggml's table differs from gguf's grid")


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    text = pathlib.Path(sys.argv[1]).read_text()
    lines = [
        "// The i-quant grid tables (code books), transcribed from ggml's ggml/src/ggml-common.h by",
        "// scripts/gen-iq-grids.py and checked there against the grids of the `gguf` Python package.",
        "// Generated: do not edit. Each entry packs one grid point, byte k being value k.",
        "// Included by quant/iq_grids.cpp (the CPU's tables) and kernels/iq_grids.cuh (device",
        "// copies), each defining HEARTH_IQ_GRID_BEGIN(type, name, count) and HEARTH_IQ_GRID_END.",
        "",
    ]
    for name, (ctype, count, cls, width, signed) in TABLES.items():
        values = read_table(text, name)
        if len(values) != count:
            sys.exit(f"{name}: {len(values)} entries, expected {count}")
        check_against_gguf(name, values, cls, width, signed)
        digits = 2 * width
        per_line = 4 if width == 8 else 8
        lines.append(f"HEARTH_IQ_GRID_BEGIN({ctype}, {name}, {count})")
        for i in range(0, count, per_line):
            chunk = ", ".join(f"0x{v:0{digits}x}" for v in values[i:i + per_line])
            lines.append(f"    {chunk},")
        lines.append("HEARTH_IQ_GRID_END")
        lines.append("")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
