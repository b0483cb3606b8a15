#!/usr/bin/env python3
"""Quantizing one file with Hearth (hearth-cli quantize) and with llama.cpp's quantizer
(llama_model_quantize through llama-cpp-python, the code behind llama-quantize), alternately,
with the same threads; prints wall and CPU seconds per run and whether the outputs are equal.

    LLAMA_CPP_LIB_PATH=/tmp/dense-llama-avx2/bin .venv/bin/python bench/compare_quantize.py \
        MODEL-F16.gguf [--types Q4_K_M,Q8_0] [--threads 2] [--runs 1] [--hearth-cli PATH]

The F16 TinyLlama-shape file comes from scripts/gen-bench-models.py --only tinyllama-1.1b-f16.
"""
import argparse
import ctypes
import filecmp
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FTYPES = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q2_K": 10, "Q3_K_M": 12, "Q4_K_S": 14, "Q4_K_M": 15,
          "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25, "IQ4_XS": 30}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=pathlib.Path)
    parser.add_argument("--types", default="Q4_K_M,Q8_0")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--hearth-cli", type=pathlib.Path, default=ROOT / "build" / "tools" / "hearth-cli")
    parser.add_argument("--out-dir", type=pathlib.Path, default=None)
    args = parser.parse_args()
    import llama_cpp
    out_dir = args.out_dir or pathlib.Path(tempfile.mkdtemp(dir=args.model.parent))
    print(f"{'type':8} {'tool':10} {'wall s':>8} {'cpu s':>8}")
    for type_name in args.types.split(","):
        for run in range(args.runs):
            mine, theirs = out_dir / f"hearth.{type_name}.gguf", out_dir / f"llama.{type_name}.gguf"
            cpu0, t0 = children_cpu(), time.perf_counter()
            subprocess.run([str(args.hearth_cli), "quantize", str(args.model), str(mine), type_name,
                            "--threads", str(args.threads)], check=True, capture_output=True)
            print(f"{type_name:8} {'hearth':10} {time.perf_counter() - t0:8.1f} {children_cpu() - cpu0:8.1f}")
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype, params.nthread = FTYPES[type_name], args.threads
            cpu0, t0 = self_cpu(), time.perf_counter()
            rc = llama_cpp.llama_model_quantize(str(args.model).encode(), str(theirs).encode(),
                                                ctypes.byref(params))
            print(f"{type_name:8} {'llama.cpp':10} {time.perf_counter() - t0:8.1f} {self_cpu() - cpu0:8.1f}")
            if rc != 0:
                return 1
            print(f"{type_name:8} outputs {'identical' if filecmp.cmp(mine, theirs, shallow=False) else 'DIFFER'}"
                  f" ({mine.stat().st_size} bytes)")
            mine.unlink()
            theirs.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
