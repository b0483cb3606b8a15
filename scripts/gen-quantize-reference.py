#!/usr/bin/env python3
"""Reference quantizations by llama.cpp's quantizer (llama_model_quantize, through
llama-cpp-python), for tests/engine/tst_quantize.cpp.

    LLAMA_CPP_LIB_PATH=/tmp/dense-llama-avx2/bin .venv/bin/python \
        scripts/gen-quantize-reference.py [--hearth-cli build/tools/hearth-cli]

The inputs are tiny random-weight models of the real tensor layout (MODELS below: a llama with
8 layers, so that the _M mixes' "use_more_bits" layer choice shows, a qwen2 with tied
embeddings and a feed-forward width of 288, whose ffn_down rows fall back from the K-quants,
and a qwen3moe with 8 experts, for which the mix has rules of its own).
Their weights come from a counter-based generator (splitmix64, `values` below) that the C++
test reimplements, so only each input's header is committed; the test rebuilds the whole file
from it and checks the input's SHA-256 first. Writes into tests/data/quantize/:
  MODEL.SOURCE.header.gguf  the input's bytes up to its tensor data (metadata and tensor table)
  index.json                per input its size and SHA-256; per case (input, type, options) the
                            output's size and SHA-256 and each tensor's [name, type, the
                            first 16 hex digits of its SHA-256]

With --hearth-cli, each case is also quantized by Hearth, compared byte for byte with
llama.cpp's file, and Hearth's output is loaded by llama.cpp, which evaluates a few tokens.
"""
import argparse
import ctypes
import hashlib
import importlib.util
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "quantize"

# The vocabulary of the architecture references (256 bytes, 8 merges, 4 specials).
_spec = importlib.util.spec_from_file_location("gen_arch", ROOT / "scripts" / "gen-arch-reference.py")
_arch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_arch)

GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1

MODELS = [
    dict(name="llama8", arch="llama", n_layer=8, n_embd=256, n_head=4, n_head_kv=1, n_ff=256,
         tied=False, qkv_bias=False),
    dict(name="qwen2_tied", arch="qwen2", n_layer=5, n_embd=256, n_head=4, n_head_kv=2, n_ff=288,
         tied=True, qkv_bias=True),
    # 8 experts: llama.cpp's mix gives such models Q8_0 attn_k/attn_v and Q5_K attn_output, and
    # reads the 3-D expert tensors' layer from their names.
    dict(name="qwen3moe8", arch="qwen3moe", n_layer=2, n_embd=256, n_head=4, n_head_kv=2,
         n_ff=256, tied=False, qkv_bias=False, moe=(8, 2)),
]

# llama_ftype values (include/llama.h).
FTYPES = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11,
          "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17,
          "Q6_K": 18, "IQ4_NL": 25, "IQ4_XS": 30}
ALL_TYPES = list(FTYPES)

# (model, source, type, keep_output_f16); a quantized source (REQUANT_SOURCES) is llama.cpp's
# own quantization of the F16 llama, requantized.
CASES = [("llama8", "F16", t, False) for t in ALL_TYPES] + \
        [("qwen2_tied", "F16", t, False) for t in ALL_TYPES] + \
        [("llama8", src, t, False) for src in ("F32", "BF16") for t in ("Q8_0", "Q4_K_M", "IQ4_XS")] + \
        [("llama8", "F16", "Q4_K_M", True), ("qwen2_tied", "F16", "Q5_K_M", True),
         ("llama8", "Q8_0", "Q4_K_M", False), ("llama8", "Q6_K", "Q4_K_M", False),
         ("llama8", "Q4_K_M", "Q4_0", False)] + \
        [("qwen3moe8", "F16", t, False) for t in ("Q8_0", "Q4_K_M", "Q3_K_M", "Q3_K_L", "Q2_K", "IQ4_XS")]


REQUANT_SOURCES = ("Q8_0", "Q6_K", "Q4_K_M")


def splitmix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def values(index: int, name: str, dims: list[int]) -> np.ndarray:
    """Tensor `index`'s float32 values: t in (-1, 1) from two 24-bit draws; matrices t * 0.08
    with value 5 ten times larger and values row..row+32 zero (an outlier and an all-zero
    block); norms 1 + t * 0.1, other vectors t * 0.1. Every step is exact or one IEEE
    rounding in double, so the C++ test computes the same floats."""
    n = int(np.prod(dims))
    seed = np.uint64((index << 32) & MASK)
    j = np.arange(2 * n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = splitmix(seed + (j + np.uint64(1)) * np.uint64(GOLDEN))
    k = (z >> np.uint64(40)).astype(np.int64)
    t = (k[0::2] + k[1::2] - (1 << 24)).astype(np.float64) * 2.0 ** -24
    if len(dims) >= 2:
        v = t * 0.08
        v[5] = v[5] * 10.0
        row = dims[0]
        if n >= 2 * row:
            v[row:row + 32] = 0.0
    elif name.endswith("norm.weight"):
        v = 1.0 + t * 0.1
    else:
        v = t * 0.1
    return v.astype(np.float32)


def stored(v: np.ndarray, dims: list[int], qtype: QT) -> tuple[np.ndarray, QT]:
    shape = list(reversed(dims))
    if qtype == QT.F32 or len(dims) < 2:
        return v.reshape(shape), QT.F32
    if qtype == QT.F16:
        return v.astype(np.float16).reshape(shape), QT.F16
    bits = v.view(np.uint32).astype(np.uint64)
    bf16 = ((bits + np.uint64(0x7FFF) + ((bits >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16))
    raw = bf16.astype(np.uint16).reshape(shape).view(np.uint8)
    return raw, QT.BF16


def tensor_list(m: dict) -> list[tuple[str, list[int]]]:
    e, hd = m["n_embd"], m["n_embd"] // m["n_head"]
    tensors = [("token_embd.weight", [e, _arch.N_VOCAB])]
    if not m["tied"]:
        tensors.append(("output.weight", [e, _arch.N_VOCAB]))
    tensors.append(("output_norm.weight", [e]))
    for il in range(m["n_layer"]):
        p = f"blk.{il}."
        tensors += [(p + "attn_norm.weight", [e]), (p + "attn_q.weight", [e, e]),
                    (p + "attn_k.weight", [e, m["n_head_kv"] * hd]),
                    (p + "attn_v.weight", [e, m["n_head_kv"] * hd])]
        if m["qkv_bias"]:
            tensors += [(p + "attn_q.bias", [e]), (p + "attn_k.bias", [m["n_head_kv"] * hd]),
                        (p + "attn_v.bias", [m["n_head_kv"] * hd])]
        tensors += [(p + "attn_output.weight", [e, e]), (p + "ffn_norm.weight", [e])]
        if "moe" in m:
            n_expert, f = m["moe"][0], m["n_ff"]
            tensors += [(p + "attn_q_norm.weight", [hd]), (p + "attn_k_norm.weight", [hd]),
                        (p + "ffn_gate_inp.weight", [e, n_expert]),
                        (p + "ffn_gate_exps.weight", [e, f, n_expert]),
                        (p + "ffn_up_exps.weight", [e, f, n_expert]),
                        (p + "ffn_down_exps.weight", [f, e, n_expert])]
        else:
            tensors += [(p + "ffn_gate.weight", [e, m["n_ff"]]),
                        (p + "ffn_up.weight", [e, m["n_ff"]]),
                        (p + "ffn_down.weight", [m["n_ff"], e])]
    return tensors


def write_input(m: dict, source: str, path: pathlib.Path):
    qtype = {"F32": QT.F32, "F16": QT.F16, "BF16": QT.BF16}[source]
    w = gguf.GGUFWriter(path, m["arch"])
    w.add_name(m["name"])
    w.add_file_type({QT.F32: gguf.LlamaFileType.ALL_F32, QT.F16: gguf.LlamaFileType.MOSTLY_F16,
                     QT.BF16: gguf.LlamaFileType.MOSTLY_BF16}[qtype])
    w.add_context_length(256)
    w.add_embedding_length(m["n_embd"])
    w.add_block_count(m["n_layer"])
    w.add_feed_forward_length(m["n_ff"])
    w.add_head_count(m["n_head"])
    w.add_head_count_kv(m["n_head_kv"])
    w.add_layer_norm_rms_eps(1e-5 if m["arch"] == "llama" else 1e-6)
    w.add_rope_freq_base(10000.0)
    if m["arch"] == "llama":
        w.add_rope_dimension_count(m["n_embd"] // m["n_head"])
        w.add_vocab_size(_arch.N_VOCAB)
    if "moe" in m:
        w.add_expert_count(m["moe"][0])
        w.add_expert_used_count(m["moe"][1])
        w.add_expert_feed_forward_length(m["n_ff"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(_arch.TOKENS_TEXT)
    w.add_token_types(_arch.TOKEN_TYPES)
    w.add_token_merges(_arch.MERGES)
    w.add_bos_token_id(_arch.BOS_ID)
    w.add_eos_token_id(_arch.EOS_ID)
    w.add_add_bos_token(False)
    for index, (name, dims) in enumerate(tensor_list(m)):
        data, raw_type = stored(values(index, name, dims), dims, qtype)
        w.add_tensor(name, data, raw_dtype=raw_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_quantize(src: pathlib.Path, dst: pathlib.Path, type_name: str, keep_output_f16: bool):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[type_name]
    params.nthread = 2
    params.allow_requantize = True
    if keep_output_f16:
        params.output_tensor_type = 1  # GGML_TYPE_F16
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params)) != 0:
        raise RuntimeError(f"llama_model_quantize failed on {src} -> {type_name}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tensor_hashes(path: pathlib.Path) -> list[dict]:
    r = gguf.GGUFReader(path)
    return [[t.name, QT(t.tensor_type).name, sha256(bytes(t.data.tobytes()))[:16]]
            for t in r.tensors]


def llama_loads(path: pathlib.Path) -> None:
    from llama_cpp import Llama
    llm = Llama(model_path=str(path), n_ctx=32, n_threads=2, logits_all=True, verbose=False)
    llm.eval([1, 2, 3, 4])
    if not np.all(np.isfinite(np.array(llm.scores[:4]))):
        raise RuntimeError(f"llama.cpp's logits on {path} are not finite")
    del llm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hearth-cli", type=pathlib.Path, help="also check Hearth's output")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    index = dict(inputs={}, cases=[])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        inputs = {}
        for m in MODELS:
            for source in ("F16", "F32", "BF16"):
                if m["name"] != "llama8" and source != "F16":
                    continue
                path = tmp / f"{m['name']}.{source}.gguf"
                write_input(m, source, path)
                data = path.read_bytes()
                data_offset = gguf.GGUFReader(path).data_offset
                (OUT / f"{m['name']}.{source}.header.gguf").write_bytes(data[:data_offset])
                index["inputs"][f"{m['name']}.{source}"] = dict(
                    header=f"{m['name']}.{source}.header.gguf", size=len(data), sha256=sha256(data))
                inputs[(m["name"], source)] = path
        # The requantization sources: llama.cpp's quantizations of the F16 llama.
        for source in REQUANT_SOURCES:
            inputs[("llama8", source)] = tmp / f"llama8.{source}.gguf"
            llama_quantize(inputs[("llama8", "F16")], inputs[("llama8", source)], source, False)

        checked = 0
        for model, source, type_name, keep in CASES:
            out = tmp / f"{model}.{source}.{type_name}{'.keep' if keep else ''}.gguf"
            llama_quantize(inputs[(model, source)], out, type_name, keep)
            data = out.read_bytes()
            index["cases"].append(dict(model=model, source=source, type=type_name,
                                       keep_output_f16=keep, size=len(data), sha256=sha256(data),
                                       tensors=tensor_hashes(out)))
            if args.hearth_cli:
                mine = tmp / ("hearth." + out.name)
                cmd = [str(args.hearth_cli), "quantize", str(inputs[(model, source)]), str(mine),
                       type_name, "--threads", "2"] + (["--keep-output-f16"] if keep else [])
                subprocess.run(cmd, check=True, capture_output=True)
                if mine.read_bytes() != data:
                    print(f"DIFFERS: {out.name}", file=sys.stderr)
                    for a, b in zip(tensor_hashes(mine), index["cases"][-1]["tensors"]):
                        if a != b:
                            print(f"  {a} != {b}", file=sys.stderr)
                    return 1
                llama_loads(mine)
                checked += 1
    # One case a line: the file stays small and a regeneration's diff readable.
    lines = [json.dumps(case, separators=(",", ":")) for case in index["cases"]]
    text = '{"inputs":' + json.dumps(index["inputs"]) + ',\n"cases":[\n' + ",\n".join(lines) + "]}\n"
    (OUT / "index.json").write_text(text)
    print(f"{len(index['cases'])} cases written; {checked} checked against Hearth's output, "
          f"which llama.cpp loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
