#!/usr/bin/env python3
"""Reference importance matrices and imatrix quantizations by llama.cpp's own tools, for
tests/engine/tst_imatrix.cpp.

    scripts/gen-imatrix-reference.py --tools /tmp/llama-tools-imatrix/bin \
        [--hearth-cli build/tools/hearth-cli]

The tools are llama-imatrix and llama-quantize built from llama-cpp-python 0.3.36's vendored
llama.cpp, AVX2 only, CPU only (docs/QUANTIZATION.md says how). The inputs are
gen-quantize-reference.py's random-weight llama8 (F16, 8 layers, n_embd 256: every K-quant
applies) and qwen3moe8 (8 experts); the test rebuilds them from tests/data/quantize/. The text
is the first TEXT_BYTES bytes of tests/data/generation/genesis.txt, run as CTX-token chunks
(CHUNKS of them) with llama-imatrix -b CTX -ub CTX, so each chunk is one batch as in Hearth.
Writes into tests/data/imatrix/:
  llama8.imatrix.gguf, llama8.imatrix.dat   llama-imatrix's matrix, GGUF and legacy format
  qwen3moe8.imatrix.gguf                     the same for the mixture-of-experts model
  index.json   per llama-quantize --imatrix case (type, matrix file): the output's size and
               SHA-256 and each tensor's [name, type, first 16 hex digits of its SHA-256]

llama-quantize runs in the output folder with the matrix's bare file name, which it records as
quantize.imatrix.file; the test gives Hearth the same name. With --hearth-cli, each case is
also made by Hearth and compared byte for byte.
"""
import argparse
import importlib.util
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "imatrix"
TEXT = ROOT / "tests" / "data" / "generation" / "genesis.txt"
TEXT_BYTES = 4000
CTX = 128
CHUNKS = 4

_spec = importlib.util.spec_from_file_location("gen_quantize",
                                               ROOT / "scripts" / "gen-quantize-reference.py")
_gq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gq)

TYPES = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q3_K_M", "Q2_K", "IQ4_XS", "IQ4_NL", "Q4_0", "Q4_1",
         "Q5_0", "Q5_1", "Q3_K_S", "Q3_K_L", "Q4_K_S", "Q5_K_S", "Q8_0"]
# (model, type, matrix file)
CASES = [("llama8", t, "llama8.imatrix.gguf") for t in TYPES] + \
        [("llama8", "Q4_K_M", "llama8.imatrix.dat"), ("llama8", "IQ4_XS", "llama8.imatrix.dat"),
         ("qwen3moe8", "Q4_K_M", "qwen3moe8.imatrix.gguf"),
         ("qwen3moe8", "IQ4_XS", "qwen3moe8.imatrix.gguf")]


def run(cmd: list, cwd: pathlib.Path) -> None:
    subprocess.run([str(c) for c in cmd], cwd=cwd, check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=pathlib.Path, required=True,
                        help="the folder of llama-imatrix and llama-quantize")
    parser.add_argument("--hearth-cli", type=pathlib.Path, help="also check Hearth's output")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    index = dict(text=dict(file="tests/data/generation/genesis.txt", bytes=TEXT_BYTES),
                 ctx=CTX, chunks=CHUNKS, cases=[])
    checked = 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        (tmp / "text.txt").write_bytes(TEXT.read_bytes()[:TEXT_BYTES])
        for m in _gq.MODELS:
            if m["name"] not in ("llama8", "qwen3moe8"):
                continue
            _gq.write_input(m, "F16", tmp / f"{m['name']}.F16.gguf")
            formats = ["gguf", "dat"] if m["name"] == "llama8" else ["gguf"]
            for fmt in formats:
                name = f"{m['name']}.imatrix.{fmt}"
                run([args.tools / "llama-imatrix", "-m", f"{m['name']}.F16.gguf", "-f", "text.txt",
                     "-o", name, "--output-format", fmt, "-c", CTX, "--chunks", CHUNKS,
                     "-b", CTX, "-ub", CTX, "-t", 2], tmp)
                shutil.copyfile(tmp / name, OUT / name)
        for model, type_name, matrix in CASES:
            out = f"{model}.{type_name}.{matrix}.gguf"
            run([args.tools / "llama-quantize", "--imatrix", matrix, f"{model}.F16.gguf", out,
                 type_name, 2], tmp)
            data = (tmp / out).read_bytes()
            index["cases"].append(dict(model=model, type=type_name, imatrix=matrix,
                                       size=len(data), sha256=_gq.sha256(data),
                                       tensors=_gq.tensor_hashes(tmp / out)))
            if args.hearth_cli:
                mine = "hearth." + out
                run([args.hearth_cli.resolve(), "quantize", f"{model}.F16.gguf", mine, type_name,
                     "--imatrix", matrix, "--threads", 2], tmp)
                if (tmp / mine).read_bytes() != data:
                    print(f"DIFFERS: {out}", file=sys.stderr)
                    return 1
                checked += 1
    lines = [json.dumps(case, separators=(",", ":")) for case in index["cases"]]
    head = {k: v for k, v in index.items() if k != "cases"}
    text = json.dumps(head)[:-1] + ',\n"cases":[\n' + ",\n".join(lines) + "]}\n"
    (OUT / "index.json").write_text(text)
    print(f"{len(index['cases'])} cases written; {checked} checked against Hearth's output")
    return 0


if __name__ == "__main__":
    sys.exit(main())
