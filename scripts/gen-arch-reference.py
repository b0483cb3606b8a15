#!/usr/bin/env python3
"""Tiny random-weight GGUF models, one per architecture feature Hearth supports, and the
logits llama.cpp (llama-cpp-python) computes on them, for tests/engine/tst_architectures.cpp.

    .venv/bin/pip install llama-cpp-python    # builds llama.cpp from source (slow)
    .venv/bin/python scripts/gen-arch-reference.py [--only NAME ...]

Writes, for each model NAME of MODELS below, into tests/data/arch/:
  NAME.gguf         the model: n_embd 64, 4 heads, a byte-level BPE vocabulary of 268 tokens
  NAME.logits.f32   llama.cpp's logits for every position of TOKENS, (n_tokens, n_vocab)
                    little-endian float32, row-major
  NAME.q8_0_cache.logits.f32  the same with a Q8_0 KV cache and flash attention, for the
                    models marked q8_0_cache
and index.json: per model, what it exercises, its token ids, n_vocab and its file names; for
the mixture-of-experts models, their expert count and llama.cpp's greedy continuation of the
first 8 tokens (24 tokens, with the margin between the two best logits at each step).

llama.cpp runs with an F16 KV cache and without flash attention (Hearth's CPU path). The
weights are drawn with a fixed seed, so the files are the same on every run; the logits may
move in the last bits with the llama.cpp version (summation order).

The references follow ggml's AVX2 kernels, as Hearth's avx2 level does. On a CPU with AVX-512
a native build of llama-cpp-python takes other kernels (logits up to 5e-3 of the spread away,
and its AMX Q8_0 path crashed on these models), so build the same llama.cpp for AVX2 and point
llama-cpp-python at it; every existing reference then comes out bit for bit:

    cmake -S <llama-cpp-python sdist>/vendor/llama.cpp -B /tmp/llama-avx2 -G Ninja \
        -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=OFF -DGGML_AVX=ON \
        -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
        -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_COMMON=OFF -DLLAMA_CURL=OFF
    ninja -C /tmp/llama-avx2 llama
    LLAMA_CPP_LIB_PATH=/tmp/llama-avx2/bin .venv/bin/python scripts/gen-arch-reference.py
"""
import argparse
import json
import math
import pathlib
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "arch"
N_CTX_TRAIN = 256
N_EMBD = 64
N_FF = 128
N_HEAD = 4
N_TOKENS = 32
SEED = 1234
GGML_TYPE_Q8_0 = 8


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character mapping (the alphabet of byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def vocabulary() -> tuple[list[str], list[int], list[str]]:
    """256 byte tokens in GPT-2's order, a few merges, then the special tokens."""
    byte_chars = bytes_to_unicode()
    tokens = [byte_chars[b] for b in sorted(byte_chars, key=lambda b: ord(byte_chars[b]))]
    types = [gguf.TokenType.NORMAL] * len(tokens)
    merges = ["Ġ t", "h e", "i n", "e r", "a n", "Ġ a", "o n", "Ġt he"]
    for merge in merges:
        tokens.append(merge.replace(" ", ""))
        types.append(gguf.TokenType.NORMAL)
    for special in ["<|bos|>", "<|eos|>", "<|pad|>", "<|extra|>"]:
        tokens.append(special)
        types.append(gguf.TokenType.CONTROL)
    return tokens, [int(t) for t in types], merges


TOKENS_TEXT, TOKEN_TYPES, MERGES = vocabulary()
N_VOCAB = len(TOKENS_TEXT)
BOS_ID = TOKENS_TEXT.index("<|bos|>")
EOS_ID = TOKENS_TEXT.index("<|eos|>")


def llama3_rope_factors(head_dim: int, base: float, factor: float, low: float, high: float,
                        n_ctx_orig: int) -> np.ndarray:
    """Llama 3's rope_freqs.weight, as convert_hf_to_gguf.py computes it."""
    freqs = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    low_wavelen = n_ctx_orig / low
    high_wavelen = n_ctx_orig / high
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (n_ctx_orig / wavelen - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


# Each model: the architecture and the features it exercises. `wtype` is the type of the
# matrices (norms, biases and rope factors stay F32, as the converters write them).
MODELS = [
    dict(name="llama", arch="llama", n_layer=2, n_head_kv=2, tied=False, wtype=QT.F32,
         exact_batch=True,
         about="llama: grouped-query attention (4 heads, 2 KV heads), separate output matrix"),
    dict(name="llama_mha_linear", arch="llama", n_layer=2, n_head_kv=4, tied=True, wtype=QT.F32,
         rope_scaling=("linear", 4.0),
         about="llama: multi-head attention, linear RoPE scaling ×4, tied output"),
    dict(name="llama_rope_freqs", arch="llama", n_layer=2, n_head_kv=2, tied=False,
         wtype=QT.F32, rope_freqs=True,
         about="llama: Llama 3 rope_freqs.weight frequency factors"),
    dict(name="llama_yarn", arch="llama", n_layer=2, n_head_kv=2, tied=True, wtype=QT.F32,
         rope_scaling=("yarn", 4.0),
         about="llama: YaRN RoPE scaling ×4 from an original context of 64"),
    dict(name="llama_f16", arch="llama", n_layer=2, n_head_kv=2, tied=False, wtype=QT.F16,
         exact_batch=True,
         about="llama: F16 matrices"),
    dict(name="llama_q8_0", arch="llama", n_layer=2, n_head_kv=2, tied=False, wtype=QT.Q8_0,
         about="llama: Q8_0 matrices and embeddings"),
    dict(name="qwen2", arch="qwen2", n_layer=2, n_head_kv=2, tied=True, wtype=QT.F32,
         qkv_bias=True, rope_base=1000000.0,
         about="qwen2: Q/K/V biases, NeoX RoPE, tied output"),
    dict(name="qwen3", arch="qwen3", n_layer=2, n_head_kv=2, head_dim=32, tied=False,
         wtype=QT.F16, qk_norm=True, rope_base=1000000.0,
         about="qwen3: per-head Q/K RMSNorm, head_dim 32 ≠ n_embd/n_head, F16 matrices"),
    dict(name="gemma3", arch="gemma3", n_layer=6, n_head_kv=1, head_dim=32, tied=True,
         wtype=QT.F16, qk_norm=True, post_norms=True, rope_base=1000000.0,
         rope_scaling=("linear", 8.0), sliding_window=8, rope_base_swa=20000.0,
         about="gemma3: 5 sliding-window layers (window 8, RoPE base 20000, unscaled) and a "
               "global one (base 1e6, linear ×8), GeGLU, embeddings × sqrt(n_embd), "
               "post-attention/FFN norms, Q/K norms, one KV head"),
    # Last, so that the models above keep their random seeds. `exact`: the logits must equal
    # llama.cpp's in every bit (both repack these matrices into 8-row blocks at load and sum
    # in the same order), not only within the tolerance.
    dict(name="llama_q4_0", arch="llama", n_layer=2, n_head_kv=2, tied=False, wtype=QT.Q4_0,
         exact=True,
         about="llama: Q4_0 matrices, 8-row repacked at load as llama.cpp does: bit-identical"),
]

# Issue 17's dense architectures (src/models/{phi3,gemma2,smollm3,mistral3}.cpp). llama.cpp
# pads a context of 64 to 256, and phi3 takes its long RoPE factors when that padded context
# exceeds the original one: `phi3_long` (original 128) takes the long factors, `phi3_short`
# (original 256) the short ones. Their general.name leaves out "phi3": llama.cpp gives models so
# named the attributes of Phi-3's special tokens, which this vocabulary does not have.
DENSE_MODELS = [
    dict(name="phi3_long", arch="phi3", n_layer=2, n_head_kv=2, tied=False, wtype=QT.F16,
         phi3=True, n_ctx_train=4096, n_ctx_orig=128, n_rot=12, sliding_window=2047,
         general_name="Tiny Phi long",
         about="phi3: fused QKV and gate+up, LongRoPE long factors (context 256 > 128) with "
               "attention factor, partial RoPE (12 of 16 dims), sliding window ignored as "
               "llama.cpp does, separate output, F16 matrices"),
    dict(name="phi3_short", arch="phi3", n_layer=2, n_head_kv=4, tied=True, wtype=QT.Q8_0,
         phi3=True, n_ctx_train=4096, n_ctx_orig=256, general_name="Tiny Phi short",
         about="phi3: LongRoPE short factors (context 256, original 256), multi-head, tied "
               "output, Q8_0 matrices"),
    dict(name="gemma2", arch="gemma2", n_layer=4, n_head_kv=2, head_dim=32, tied=True,
         wtype=QT.F16, post_norms=True, rope_base=10000.0, sliding_window=8,
         attn_softcap=2.0, final_softcap=3.0, q8_0_cache=True,
         about="gemma2: attention (cap 2) and final (cap 3) logit soft-capping, even layers "
               "sliding (window 8), GeGLU, embeddings × sqrt(n_embd), post-norms, query scaled "
               "before the cache"),
    dict(name="smollm3", arch="smollm3", n_layer=4, n_head_kv=2, tied=True, wtype=QT.F16,
         rope_base=5000.0,
         about="smollm3: layer 3 of 4 without RoPE (NoPE every 4th layer), tied output, F16 "
               "matrices"),
    # RoPE base 100 and an original context of 16 put YaRN's ramp where beta_slow moves it
    # (1 pair instead of 2) and the attention temperature steps at position 16.
    dict(name="mistral3", arch="mistral3", n_layer=2, n_head_kv=2, tied=False, wtype=QT.F32,
         rope_base=100.0, rope_scaling=("yarn", 4.0), yarn_orig_ctx=16, yarn_beta=(16.0, 2.0),
         yarn_log_mul=0.5, temperature_scale=0.1,
         about="mistral3: YaRN ×4 from 16 with beta_fast 16, beta_slow 2 and log multiplier "
               "0.5, attention temperature tuning (scale 0.1, a step at position 16)"),
]
MODELS += DENSE_MODELS
# Mixture of experts (issue 17): a router (ffn_gate_inp, F32 as llama.cpp's quantizer keeps it)
# and the 3-D ffn_{gate,up,down}_exps tensors. `moe`: (experts, used per token, expert width;
# None: llama's experts are feed_forward_length wide). `greedy`: also record llama.cpp's greedy
# continuation of the first tokens (tests/engine/tst_moe.cpp).
MODELS += [
    dict(name="qwen3moe", arch="qwen3moe", n_layer=2, n_head_kv=2, tied=False, wtype=QT.F16,
         qk_norm=True, rope_base=1000000.0, moe=(8, 3, 32), greedy=True,
         about="qwen3moe: 8 experts of width 32, 3 per token, softmax top-k re-normalised, "
               "Q/K norms, F16 matrices"),
    # Q8_0 experts, F32 attention, 16 experts of which 4 are used. Its tolerance was once 5%
    # of the spread, blamed on near-ties in the router's top-k; logging both engines' router
    # logits and selections showed every token picking the same experts. The cause was a
    # Q8_0 activation rounding tie: a last-bit difference in a 32-value block's largest value
    # (Hearth summed F32 rows in another order than ggml's vec_dot_f32 / tinyBLAS) turned
    # x * 127 / amax = -71.49999 into -71.5, one quantized input of the experts moved by a
    # step, and the logits by 0.7-2.3% of the spread. Hearth now sums F32/F16 rows in ggml's
    # orders: the batch agrees to the bit, one token at a time to 4e-6 (llama.cpp's own
    # difference between its two paths), so the file takes the common tolerance.
    dict(name="qwen3moe_q8_0", arch="qwen3moe", n_layer=2, n_head_kv=2, tied=True,
         wtype=QT.F32, expert_wtype=QT.Q8_0, qk_norm=True, rope_base=1000000.0,
         moe=(16, 4, 64), greedy=True, exact_batch=True,
         about="qwen3moe: 16 experts of width 64, 4 per token, Q8_0 experts, F32 attention, "
               "tied output"),
    dict(name="gpt_oss", arch="gpt-oss", n_layer=2, n_head_kv=2, head_dim=32, tied=False,
         wtype=QT.F16,
         qkv_bias=True, rope_base=150000.0, rope_scaling=("yarn", 4.0), moe=(8, 4, 32),
         gpt_oss=True, greedy=True,
         about="gpt-oss (engine side): attention sinks, Q/K/V and output biases, layer 0 on a "
               "sliding window of 8 at the global YaRN RoPE, router and expert biases, the k "
               "best logits softmaxed, the clamped SwiGLU; F16 experts (not MXFP4); heads of 32 "
               "(a Q8_0 KV cache takes them)"),
    dict(name="llama_moe", arch="llama", n_layer=2, n_head_kv=2, tied=False, wtype=QT.F16,
         moe=(4, 2, None), greedy=True,
         about="llama with experts (Mixtral): 4 experts of feed_forward_length 128, top-2, F16"),
]


class Weights:
    def __init__(self, rng: np.random.Generator, writer: gguf.GGUFWriter, wtype: QT):
        self.rng, self.writer, self.wtype = rng, writer, wtype

    def matrix(self, name: str, n_rows: int, n_cols: int, std: float, wtype: QT | None = None):
        """A (n_rows, n_cols) matrix: GGML dims {n_cols, n_rows}."""
        data = (self.rng.standard_normal((n_rows, n_cols)) * std).astype(np.float32)
        wtype = wtype or self.wtype
        if wtype == QT.F32:
            self.writer.add_tensor(name, data)
        elif wtype == QT.F16:
            self.writer.add_tensor(name, data.astype(np.float16))
        else:
            self.writer.add_tensor(name, gguf.quants.quantize(data, wtype), raw_dtype=wtype)

    def experts(self, name: str, n_expert: int, n_rows: int, n_cols: int, std: float,
                wtype: QT | None = None):
        """n_expert (n_rows, n_cols) matrices in one tensor: GGML dims {n_cols, n_rows, n_expert}."""
        data = (self.rng.standard_normal((n_expert, n_rows, n_cols)) * std).astype(np.float32)
        wtype = wtype or self.wtype
        if wtype == QT.F32:
            self.writer.add_tensor(name, data)
        elif wtype == QT.F16:
            self.writer.add_tensor(name, data.astype(np.float16))
        else:
            self.writer.add_tensor(name, gguf.quants.quantize(data, wtype), raw_dtype=wtype)

    def vector(self, name: str, n: int, mean: float, std: float):
        self.writer.add_tensor(name, (mean + self.rng.standard_normal(n) * std).astype(np.float32))


def write_dense_keys(spec: dict, writer: gguf.GGUFWriter, head_dim: int):
    """The keys of issue 17's dense architectures, as llama.cpp's converters write them."""
    if spec.get("phi3"):
        # Phi-3.5-mini: 128k context from an original 4k, here 4096 from n_ctx_orig.
        writer.add_rope_dimension_count(spec.get("n_rot", head_dim))
        writer.add_rope_scaling_orig_ctx_len(spec["n_ctx_orig"])
        scale = spec["n_ctx_train"] / spec["n_ctx_orig"]
        writer.add_rope_scaling_attn_factors(
            math.sqrt(1 + math.log(scale) / math.log(spec["n_ctx_orig"])))
    if "attn_softcap" in spec:
        writer.add_attn_logit_softcapping(spec["attn_softcap"])
        writer.add_final_logit_softcapping(spec["final_softcap"])
    if "yarn_beta" in spec:
        writer.add_rope_scaling_yarn_beta_fast(spec["yarn_beta"][0])
        writer.add_rope_scaling_yarn_beta_slow(spec["yarn_beta"][1])
        writer.add_rope_scaling_yarn_log_mul(spec["yarn_log_mul"])
    if "temperature_scale" in spec:
        writer.add_attn_temperature_scale(spec["temperature_scale"])


def write_longrope_factors(spec: dict, writer: gguf.GGUFWriter, rng: np.random.Generator):
    """rope_factors_long/short.weight (n_rot / 2 each): short near 1, long growing to ~20 over
    the dimensions, as Phi-3.5's (1.0-1.2 and 1.0-64)."""
    half = spec.get("n_rot", N_EMBD // N_HEAD) // 2
    short = 1.0 + rng.uniform(0.0, 0.2, half)
    long = np.geomspace(1.0, 20.0, half) * (1.0 + rng.uniform(0.0, 0.1, half))
    writer.add_tensor("rope_factors_long.weight", long.astype(np.float32))
    writer.add_tensor("rope_factors_short.weight", short.astype(np.float32))


def write_model(spec: dict, path: pathlib.Path, rng: np.random.Generator):
    arch = spec["arch"]
    n_layer = spec["n_layer"]
    n_head_kv = spec["n_head_kv"]
    head_dim = spec.get("head_dim", N_EMBD // N_HEAD)
    rope_base = spec.get("rope_base", 10000.0)
    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(spec.get("general_name", spec["name"]))
    writer.add_file_type({QT.F32: gguf.LlamaFileType.ALL_F32, QT.F16: gguf.LlamaFileType.MOSTLY_F16,
                          QT.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0,
                          QT.Q4_0: gguf.LlamaFileType.MOSTLY_Q4_0}[spec["wtype"]])
    writer.add_context_length(spec.get("n_ctx_train", N_CTX_TRAIN))
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(n_head_kv)
    writer.add_layer_norm_rms_eps(1e-6 if arch != "llama" else 1e-5)
    writer.add_rope_freq_base(rope_base)
    if "head_dim" in spec:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    if arch == "llama":
        writer.add_rope_dimension_count(head_dim)
        writer.add_vocab_size(N_VOCAB)
    if "rope_scaling" in spec:
        kind, factor = spec["rope_scaling"]
        writer.add_rope_scaling_type(gguf.RopeScalingType(kind))
        writer.add_rope_scaling_factor(factor)
        if kind == "yarn":
            writer.add_rope_scaling_orig_ctx_len(spec.get("yarn_orig_ctx", 64))
    if "moe" in spec:
        n_expert, n_used, n_ff_exp = spec["moe"]
        writer.add_expert_count(n_expert)
        writer.add_expert_used_count(n_used)
        if n_ff_exp:
            writer.add_expert_feed_forward_length(n_ff_exp)
    if spec.get("gpt_oss"):
        writer.add_sliding_window(8)
    if "sliding_window" in spec:
        writer.add_sliding_window(spec["sliding_window"])
        if "rope_base_swa" in spec:
            writer.add_rope_freq_base_swa(spec["rope_base_swa"])
    write_dense_keys(spec, writer, head_dim)

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(TOKENS_TEXT)
    writer.add_token_types(TOKEN_TYPES)
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_add_bos_token(False)

    # Scales: activations of order 1 after each norm; matrices with std 0.1 over 64 inputs
    # give projections of std ~0.8, attention scores of std ~0.5-1 (softmax neither
    # uniform nor one-hot) and logits of std ~1.
    w = Weights(rng, writer, spec["wtype"])
    emb_type = QT.Q8_0 if spec["wtype"] == QT.Q8_0 else QT.F32
    w.matrix("token_embd.weight", N_VOCAB, N_EMBD, 0.1 if arch in ("gemma2", "gemma3") else 0.5,
             emb_type)
    if not spec["tied"]:
        w.matrix("output.weight", N_VOCAB, N_EMBD, 0.15)
    w.vector("output_norm.weight", N_EMBD, 1.0, 0.1)
    if spec.get("rope_freqs"):
        factors = llama3_rope_factors(head_dim, rope_base, 8.0, 1.0, 4.0, 64)
        writer.add_tensor("rope_freqs.weight", factors)
    if spec.get("phi3"):
        write_longrope_factors(spec, writer, rng)
    q_width, kv_width = N_HEAD * head_dim, n_head_kv * head_dim
    for il in range(n_layer):
        p = f"blk.{il}."
        w.vector(p + "attn_norm.weight", N_EMBD, 1.0, 0.1)
        if spec.get("phi3"):  # one fused Q, K, V matrix, as Phi-3's qkv_proj
            w.matrix(p + "attn_qkv.weight", q_width + 2 * kv_width, N_EMBD, 0.15)
        else:
            w.matrix(p + "attn_q.weight", q_width, N_EMBD, 0.15)
            w.matrix(p + "attn_k.weight", kv_width, N_EMBD, 0.15)
            w.matrix(p + "attn_v.weight", kv_width, N_EMBD, 0.1)
        w.matrix(p + "attn_output.weight", N_EMBD, q_width, 0.1)
        if spec.get("qkv_bias"):
            w.vector(p + "attn_q.bias", q_width, 0.0, 0.3)
            w.vector(p + "attn_k.bias", kv_width, 0.0, 0.3)
            w.vector(p + "attn_v.bias", kv_width, 0.0, 0.1)
        if spec.get("qk_norm"):
            w.vector(p + "attn_q_norm.weight", head_dim, 1.0, 0.2)
            w.vector(p + "attn_k_norm.weight", head_dim, 1.0, 0.2)
        if spec.get("gpt_oss"):
            w.vector(p + "attn_output.bias", N_EMBD, 0.0, 0.1)
            w.vector(p + "attn_sinks.weight", N_HEAD, 0.5, 1.0)
        if spec.get("post_norms"):
            w.vector(p + "post_attention_norm.weight", N_EMBD, 1.0, 0.1)
            w.vector(p + "post_ffw_norm.weight", N_EMBD, 1.0, 0.1)
        ffn_norm = "post_attention_norm" if spec.get("gpt_oss") else "ffn_norm"
        w.vector(p + ffn_norm + ".weight", N_EMBD, 1.0, 0.1)
        if "moe" in spec:
            n_expert, _, n_ff_exp = spec["moe"]
            n_ff_exp = n_ff_exp or N_FF
            w.matrix(p + "ffn_gate_inp.weight", n_expert, N_EMBD, 0.15, QT.F32)
            ewtype = spec.get("expert_wtype")
            w.experts(p + "ffn_gate_exps.weight", n_expert, n_ff_exp, N_EMBD, 0.15, ewtype)
            w.experts(p + "ffn_up_exps.weight", n_expert, n_ff_exp, N_EMBD, 0.15, ewtype)
            w.experts(p + "ffn_down_exps.weight", n_expert, N_EMBD, n_ff_exp, 0.2, ewtype)
            if spec.get("gpt_oss"):
                w.vector(p + "ffn_gate_inp.bias", n_expert, 0.0, 0.5)
                for part, width in (("gate", n_ff_exp), ("up", n_ff_exp), ("down", N_EMBD)):
                    w.writer.add_tensor(p + f"ffn_{part}_exps.bias",
                                        (w.rng.standard_normal((n_expert, width)) * 0.1)
                                        .astype(np.float32))
            continue
        if spec.get("phi3"):  # gate rows, then up rows, as Phi-3's gate_up_proj
            w.matrix(p + "ffn_up.weight", 2 * N_FF, N_EMBD, 0.15)
        else:
            w.matrix(p + "ffn_gate.weight", N_FF, N_EMBD, 0.15)
            w.matrix(p + "ffn_up.weight", N_FF, N_EMBD, 0.15)
        w.matrix(p + "ffn_down.weight", N_EMBD, N_FF, 0.1)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# ---- Weight types: MXFP4, BF16, the ternary and the grid i-quants (s6-quants) ----
# Tiny llama models whose matrices are MXFP4, BF16, or a mix of the grid i-quants and the
# ternary types, as the "dynamic" quantizations of big models mix them. gguf-py quantizes
# MXFP4, BF16, TQ1_0 and TQ2_0 from float weights. It cannot quantize the grid i-quants, and
# llama.cpp's quantizer wants an importance matrix for the 1-2 bit ones, so their blocks are
# drawn at random instead: every pattern of grid indices, signs and sub-block scales is a valid
# block, and the f16 scale is set so that the dequantized matrix has the wanted standard
# deviation. Random weights are all these tests need; llama.cpp reads the same blocks. The
# 256-value types need rows of a multiple of 256: these models are 256 wide (n_ff 512).
#
# Tolerance: against the AVX2 build of llama.cpp (see the top of this file) the MXFP4 model's
# logits are bit-identical and the BF16 model's within 5e-7, so both take the common 1e-2 of
# the spread. The mix differs by 4.2% of the spread: Hearth has only portable kernels for
# TQ1_0 and IQ1_M, which sum in another order than ggml's AVX2 ones, and with every
# activation quantized to Q8_K such a last-bit difference now and then sends a rounding the
# other way, which these random low-bit weights carry to the logits (the same model in F32
# moves by 0.02%). The mix's tolerance is 15% of the spread: IQ2_XXS's group scale off by one
# step in the two of 16 matrices that use it already moves its logits by 31% of the spread.
LOWBIT_TOLERANCE = 0.15

# Per layer: the types of attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down.
LOWBIT_MIX = [
    (QT.IQ2_XXS, QT.IQ2_XS, QT.IQ2_S, QT.IQ3_XXS, QT.IQ3_S, QT.IQ1_S, QT.IQ1_M),
    (QT.TQ1_0, QT.TQ2_0, QT.IQ3_S, QT.IQ2_S, QT.IQ2_XXS, QT.IQ3_XXS, QT.IQ2_XS),
]
GRID_IQ_TYPES = {QT.IQ2_XXS, QT.IQ2_XS, QT.IQ2_S, QT.IQ3_XXS, QT.IQ3_S, QT.IQ1_S, QT.IQ1_M}

LOWBIT_MODELS = [
    dict(name="llama_mxfp4", arch="llama", n_layer=2, n_head_kv=2, n_embd=64, n_ff=128,
         types=QT.MXFP4, emb_type=QT.MXFP4, ftype=gguf.LlamaFileType.MOSTLY_MXFP4_MOE, label="MXFP4",
         about="llama: MXFP4 matrices and embeddings (gpt-oss's expert format)"),
    dict(name="llama_bf16", arch="llama", n_layer=2, n_head_kv=2, n_embd=64, n_ff=128,
         types=QT.BF16, emb_type=QT.BF16, ftype=gguf.LlamaFileType.MOSTLY_BF16, label="BF16",
         about="llama: BF16 matrices and embeddings"),
    dict(name="llama_iq_mix", arch="llama", n_layer=2, n_head_kv=2, n_embd=256, n_ff=512,
         types=LOWBIT_MIX, emb_type=QT.TQ2_0, out_type=QT.IQ3_S,
         ftype=gguf.LlamaFileType.MOSTLY_IQ2_XXS, label="IQ1/IQ2/IQ3/TQ mix",
         tolerance=LOWBIT_TOLERANCE,
         about="llama: a mix of IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, TQ1_0 "
               "and TQ2_0 matrices (TQ2_0 embeddings, IQ3_S output)"),
]


def set_block_scale(blocks: np.ndarray, qtype: QT, d: np.float16):
    """Writes the f16 super-block scale d into every block (IQ1_M: the top nibbles of its four
    scale words; the others: the first two bytes)."""
    bits = int(np.array(d, dtype=np.float16).view(np.uint16))
    if qtype == QT.IQ1_M:
        for i in range(4):  # scales start at byte 48; the high byte of word i is 49 + 2i
            at = 49 + 2 * i
            blocks[:, at] = (blocks[:, at] & 0x0F) | (((bits >> (4 * i)) & 0x0F) << 4)
    else:
        blocks[:, 0] = bits & 0xFF
        blocks[:, 1] = bits >> 8


def lowbit_matrix(rng: np.random.Generator, qtype: QT, n_rows: int, n_cols: int, std: float):
    """A (n_rows, n_cols) matrix of qtype as raw blocks (GGML dims {n_cols, n_rows})."""
    data = (rng.standard_normal((n_rows, n_cols)) * std).astype(np.float32)
    if qtype not in GRID_IQ_TYPES:
        return gguf.quants.quantize(data, qtype)
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, (n_rows * n_cols // block_size, type_size), dtype=np.uint8)
    set_block_scale(blocks, qtype, np.float16(1.0))
    unit = float(gguf.quants.dequantize(blocks, qtype).std())
    set_block_scale(blocks, qtype, np.float16(std / unit))
    return blocks.reshape(n_rows, n_cols // block_size * type_size)


def write_lowbit_model(spec: dict, path: pathlib.Path, rng: np.random.Generator):
    """write_model's llama layout at the spec's width, each matrix in its own type."""
    n_embd, n_ff, n_layer, n_head_kv = spec["n_embd"], spec["n_ff"], spec["n_layer"], spec["n_head_kv"]
    head_dim = n_embd // N_HEAD
    writer = gguf.GGUFWriter(path, spec["arch"])
    writer.add_name(spec["name"])
    writer.add_file_type(spec["ftype"])
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(n_head_kv)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(N_VOCAB)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(TOKENS_TEXT)
    writer.add_token_types(TOKEN_TYPES)
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_add_bos_token(False)

    def matrix(name, qtype, n_rows, n_cols, std):
        data = lowbit_matrix(rng, qtype, n_rows, n_cols, std)
        if qtype == QT.BF16:
            writer.add_tensor(name, data.view(np.uint8), raw_dtype=qtype)
        else:
            writer.add_tensor(name, data, raw_dtype=qtype)

    def vector(name, n):
        writer.add_tensor(name, (1.0 + rng.standard_normal(n) * 0.1).astype(np.float32))

    # Standard deviations scaled from write_model's so that projections stay of order 1.
    scale = math.sqrt(N_EMBD / n_embd)
    matrix("token_embd.weight", spec["emb_type"], N_VOCAB, n_embd, 0.5)
    matrix("output.weight", spec.get("out_type", spec["emb_type"]), N_VOCAB, n_embd, 0.15 * scale)
    vector("output_norm.weight", n_embd)
    kv_width = n_head_kv * head_dim
    for il in range(n_layer):
        types = spec["types"]
        t = types[il % len(types)] if isinstance(types, list) else (types,) * 7
        p = f"blk.{il}."
        vector(p + "attn_norm.weight", n_embd)
        matrix(p + "attn_q.weight", t[0], n_embd, n_embd, 0.15 * scale)
        matrix(p + "attn_k.weight", t[1], kv_width, n_embd, 0.15 * scale)
        matrix(p + "attn_v.weight", t[2], kv_width, n_embd, 0.1 * scale)
        matrix(p + "attn_output.weight", t[3], n_embd, n_embd, 0.1 * scale)
        vector(p + "ffn_norm.weight", n_embd)
        matrix(p + "ffn_gate.weight", t[4], n_ff, n_embd, 0.15 * scale)
        matrix(p + "ffn_up.weight", t[5], n_ff, n_embd, 0.15 * scale)
        matrix(p + "ffn_down.weight", t[6], n_embd, n_ff, 0.1 * math.sqrt(N_FF / n_ff))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# --- qwen35: the hybrid of gated delta-net (linear attention) layers and gated full attention.
# Real tensor layout (llama.cpp's qwen35.cpp): recurrent layers hold attn_qkv, attn_gate,
# ssm_conv1d, ssm_dt.bias, ssm_a, ssm_beta, ssm_alpha, ssm_norm and ssm_out; attention layers
# a query projection of [q | gate] per head, Q/K norms and multi-section RoPE; every layer
# attn_norm, post_attention_norm (the feed-forward's norm) and a SwiGLU feed-forward. Small:
# 4 layers, 2 key heads of 16 shared by 4 value heads, a 4-tap convolution.
QWEN35_SSM = dict(d_conv=4, d_state=16, n_k_heads=2, n_v_heads=4)


def write_qwen35(spec: dict, path: pathlib.Path, rng: np.random.Generator):
    n_layer, n_head_kv, head_dim = spec["n_layer"], spec["n_head_kv"], spec["head_dim"]
    ssm = QWEN35_SSM
    d_inner = ssm["n_v_heads"] * ssm["d_state"]
    key_dim = ssm["n_k_heads"] * ssm["d_state"]
    conv_dim = 2 * key_dim + d_inner
    writer = gguf.GGUFWriter(path, spec["arch"])
    writer.add_name(spec["name"])
    writer.add_file_type({QT.F32: gguf.LlamaFileType.ALL_F32, QT.F16: gguf.LlamaFileType.MOSTLY_F16,
                          QT.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0}[spec["wtype"]])
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(n_layer)
    n_ff = spec["n_ff"]
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(n_head_kv)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(spec["rope_base"])
    writer.add_rope_dimension_count(spec["n_rot"])
    writer.add_rope_dimension_sections(spec["sections"])
    writer.add_ssm_conv_kernel(ssm["d_conv"])
    writer.add_ssm_inner_size(d_inner)
    writer.add_ssm_state_size(ssm["d_state"])
    writer.add_ssm_time_step_rank(ssm["n_v_heads"])
    writer.add_ssm_group_count(ssm["n_k_heads"])
    interval = spec.get("full_attention_interval")
    if interval is not None:
        writer.add_full_attention_interval(interval)
    interval = interval or 4  # llama.cpp's default
    if "moe" in spec:  # qwen35moe
        write_qwen35moe_keys(spec, writer)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(TOKENS_TEXT)
    writer.add_token_types(TOKEN_TYPES)
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_add_bos_token(False)

    w = Weights(rng, writer, spec["wtype"])
    emb_type = QT.Q8_0 if spec["wtype"] == QT.Q8_0 else QT.F32
    w.matrix("token_embd.weight", N_VOCAB, N_EMBD, 0.5, emb_type)
    if not spec.get("tied"):
        w.matrix("output.weight", N_VOCAB, N_EMBD, 0.15)
    w.vector("output_norm.weight", N_EMBD, 1.0, 0.1)
    for il in range(n_layer):
        p = f"blk.{il}."
        w.vector(p + "attn_norm.weight", N_EMBD, 1.0, 0.1)
        if (il + 1) % interval != 0:  # a gated delta-net layer
            w.matrix(p + "attn_qkv.weight", conv_dim, N_EMBD, 0.15)
            w.matrix(p + "attn_gate.weight", d_inner, N_EMBD, 0.15)
            # Taps of std 0.5 keep the convolution's output of order 1.
            writer.add_tensor(p + "ssm_conv1d.weight",
                              (rng.standard_normal((conv_dim, ssm["d_conv"])) * 0.5)
                              .astype(np.float32))
            w.vector(p + "ssm_dt.bias", ssm["n_v_heads"], 0.0, 0.5)
            # -exp(A_log) as the converter writes it: decays exp(a · softplus(·)) of 0.3-0.9.
            writer.add_tensor(p + "ssm_a", -np.exp(rng.uniform(-1.5, 0.0, ssm["n_v_heads"]))
                              .astype(np.float32))
            w.matrix(p + "ssm_beta.weight", ssm["n_v_heads"], N_EMBD, 0.15)
            w.matrix(p + "ssm_alpha.weight", ssm["n_v_heads"], N_EMBD, 0.15)
            w.vector(p + "ssm_norm.weight", ssm["d_state"], 1.0, 0.1)
            w.matrix(p + "ssm_out.weight", N_EMBD, d_inner, 0.15)
        else:  # gated full attention
            w.matrix(p + "attn_q.weight", 2 * N_HEAD * head_dim, N_EMBD, 0.15)
            w.matrix(p + "attn_k.weight", n_head_kv * head_dim, N_EMBD, 0.15)
            w.matrix(p + "attn_v.weight", n_head_kv * head_dim, N_EMBD, 0.1)
            w.vector(p + "attn_q_norm.weight", head_dim, 1.0, 0.2)
            w.vector(p + "attn_k_norm.weight", head_dim, 1.0, 0.2)
            w.matrix(p + "attn_output.weight", N_EMBD, N_HEAD * head_dim, 0.1)
        w.vector(p + "post_attention_norm.weight", N_EMBD, 1.0, 0.1)
        if "moe" in spec:
            write_qwen35moe_ffn(spec, w, p)
            continue
        w.matrix(p + "ffn_gate.weight", n_ff, N_EMBD, 0.15)
        w.matrix(p + "ffn_up.weight", n_ff, N_EMBD, 0.15)
        w.matrix(p + "ffn_down.weight", N_EMBD, n_ff, 0.1)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# After every other model, so that their seeds (SEED + 1 + index) and files stay the same.
HYBRID_MODELS = [
    # F32 matrices: no activation is rounded to F16, so the recurrence carries only the
    # engines' last-bit differences (the logits agree to ~1e-4 of their spread).
    dict(name="qwen35", arch="qwen35", write=write_qwen35, n_layer=4, n_head_kv=2, head_dim=16,
         n_rot=8, n_ff=64, sections=[1, 1, 1, 1], full_attention_interval=2,
         rope_base=1000000.0, wtype=QT.F32,
         about="qwen35: gated delta-net layers 0 and 2 (4-tap conv, 4 value heads over 2 key "
               "heads, recurrent state), gated attention layers 1 and 3 (query gate, Q/K "
               "norms, partial multi-section RoPE with a position-0 section), F32 matrices"),
    # F16 matrices would round the activations before every product, and the recurrence
    # carries a rounding that goes the other way: against a llama.cpp built for AVX-512 (other
    # F16 kernels than the AVX2 order Hearth follows) such a model differs by 2e-2 of the
    # spread, five times the plain F16 models. The F16 products are those of every model.
    dict(name="qwen35_interval4", arch="qwen35", write=write_qwen35, n_layer=4, n_head_kv=1,
         head_dim=16, n_rot=16, n_ff=64, sections=[3, 3, 2, 0], rope_base=10000000.0,
         wtype=QT.F32, tied=True,
         about="qwen35: full_attention_interval absent (layers 0-2 recurrent, layer 3 "
               "attends), one KV head, RoPE over the whole head in three sections, tied output"),
]


# --- qwen35moe (issue 17): qwen35's hybrid with a mixture-of-experts feed-forward in every
# layer (llama.cpp's qwen35moe.cpp): the router ffn_gate_inp (F32, as the converters keep it),
# ffn_{gate,up,down}_exps, and a shared expert ffn_{gate,up,down}_shexp whose output is scaled
# by sigmoid(ffn_gate_inp_shexp · h). Written by write_qwen35 with these two helpers.
def write_qwen35moe_keys(spec: dict, writer: gguf.GGUFWriter):
    """Expert counts and widths; a width left None is left out (llama.cpp then takes
    feed_forward_length / expert_used_count for the experts, feed_forward_length for the
    shared one)."""
    n_expert, n_used, n_ff_exp = spec["moe"]
    writer.add_expert_count(n_expert)
    writer.add_expert_used_count(n_used)
    if n_ff_exp:
        writer.add_expert_feed_forward_length(n_ff_exp)
    if spec.get("n_ff_shexp"):
        writer.add_expert_shared_feed_forward_length(spec["n_ff_shexp"])


def write_qwen35moe_ffn(spec: dict, w: Weights, p: str):
    n_expert, n_used, n_ff_exp = spec["moe"]
    n_ff_exp = n_ff_exp or spec["n_ff"] // n_used
    n_ff_shexp = spec.get("n_ff_shexp") or spec["n_ff"]
    ewtype = spec.get("expert_wtype")
    w.matrix(p + "ffn_gate_inp.weight", n_expert, N_EMBD, 0.15, QT.F32)
    w.experts(p + "ffn_gate_exps.weight", n_expert, n_ff_exp, N_EMBD, 0.15, ewtype)
    w.experts(p + "ffn_up_exps.weight", n_expert, n_ff_exp, N_EMBD, 0.15, ewtype)
    w.experts(p + "ffn_down_exps.weight", n_expert, N_EMBD, n_ff_exp, 0.2, ewtype)
    # The converter writes the gate input as HF's [1, n_embd] (GGML dims {n_embd, 1});
    # llama.cpp's quantizer rewrites it 1-D. Either way F32.
    gate_inp = (w.rng.standard_normal((1, N_EMBD)) * 0.15).astype(np.float32)
    w.writer.add_tensor(p + "ffn_gate_inp_shexp.weight",
                        gate_inp[0] if spec.get("shexp_gate_1d") else gate_inp)
    w.matrix(p + "ffn_gate_shexp.weight", n_ff_shexp, N_EMBD, 0.15, ewtype)
    w.matrix(p + "ffn_up_shexp.weight", n_ff_shexp, N_EMBD, 0.15, ewtype)
    w.matrix(p + "ffn_down_shexp.weight", N_EMBD, n_ff_shexp, 0.15, ewtype)


# After every other model (their seeds stay the same). The reference is llama.cpp's
# token-by-token run (reference_batch 1): Hearth's batch and one-token paths give the same
# logits here, and agree with it to 6e-6 of the spread (Q8_0 model) and 1.3e-4 (F32). llama.cpp's
# own batch run differs from its token-by-token one by 7e-3 of the spread on the Q8_0 model.
# The likely cause (not traced value by value): its prompt batches take llamafile's tinyBLAS
# for the F32 products (llamafile_sgemm runs for 2 tokens or more), which sums in another order,
# and a last-bit difference in an activation now and then sends its Q8_0 rounding the other
# way, which the recurrent state carries on. Both get the common tolerance (1e-2).
QWEN35MOE_MODELS = [
    dict(name="qwen35moe", arch="qwen35moe", write=write_qwen35, n_layer=4, n_head_kv=2,
         head_dim=16, n_rot=8, n_ff=64, sections=[1, 1, 1, 1], full_attention_interval=2,
         rope_base=1000000.0, wtype=QT.F32, moe=(8, 2, 8), n_ff_shexp=16, greedy=True,
         reference_batch=1,
         about="qwen35moe: qwen35's hybrid (delta-net layers 0 and 2, gated attention 1 and "
               "3) with 8 experts of width 8, 2 per token, and a sigmoid-gated shared expert "
               "of width 16 in every layer; F32 matrices"),
    dict(name="qwen35moe_q8_0", arch="qwen35moe", write=write_qwen35, n_layer=4, n_head_kv=1,
         head_dim=16, n_rot=16, n_ff=64, sections=[3, 3, 2, 0], rope_base=10000000.0,
         wtype=QT.F32, expert_wtype=QT.Q8_0, moe=(8, 2, None), shexp_gate_1d=True,
         tied=True, greedy=True, reference_batch=1,
         about="qwen35moe: expert widths from feed_forward_length (experts 64 / 2, shared "
               "expert 64), Q8_0 experts and shared expert, a 1-D shared gate input, layers "
               "0-2 recurrent (no full_attention_interval), tied output"),
]


# Issue 17's Gemma 4 (src/models/gemma4.cpp). Appended after every other list, so that the
# models above keep their seeds (SEED + 1 + index).
def write_gemma4(spec: dict, path: pathlib.Path, rng: np.random.Generator):
    """gemma4: sliding layers with smaller heads and more KV heads than the global ones, the
    global layers' V taken from K (no attn_v) and rotated with rope_freqs (a quarter of the
    pairs, the rest frozen by factors of 1e30, as Gemma 4's proportional RoPE), the last
    `n_shared` layers reading the cache of the last earlier layer of their kind (with a
    double-wide feed-forward), per-layer token embeddings, a per-layer output scale and the
    final logit soft-cap."""
    sliding, n_shared, n_epl = spec["sliding"], spec["n_shared"], spec["n_embd_per_layer"]
    n_layer = len(sliding)
    (hd_swa, kv_swa), (hd_full, kv_full) = spec["swa_heads"], spec["full_heads"]
    n_ff = [spec["n_ff"] * (2 if il >= n_layer - n_shared else 1) for il in range(n_layer)]
    writer = gguf.GGUFWriter(path, "gemma4")
    writer.add_name(spec["name"])
    writer.add_file_type({QT.F32: gguf.LlamaFileType.ALL_F32,
                          QT.F16: gguf.LlamaFileType.MOSTLY_F16}[spec["wtype"]])
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv([kv_swa if s else kv_full for s in sliding])
    writer.add_key_length(hd_full)
    writer.add_value_length(hd_full)
    writer.add_key_length_swa(hd_swa)
    writer.add_value_length_swa(hd_swa)
    writer.add_rope_dimension_count(hd_full)
    writer.add_rope_dimension_count_swa(hd_swa)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(1000000.0)
    writer.add_rope_freq_base_swa(10000.0)
    writer.add_sliding_window(spec["sliding_window"])
    writer.add_sliding_window_pattern(sliding)
    writer.add_shared_kv_layers(n_shared)
    writer.add_embedding_length_per_layer_input(n_epl)
    writer.add_final_logit_softcapping(30.0)
    if "moe" in spec:
        write_gemma4_moe_keys(spec, writer)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(TOKENS_TEXT)
    writer.add_token_types(TOKEN_TYPES)
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_add_bos_token(False)

    # Gemma 4 does not scale the scores (its q/k norms do): norm weights of head_dim^-1/4
    # keep them of std ~1, as the other models' are (the script's scales, above).
    w = Weights(rng, writer, spec["wtype"])
    w.matrix("token_embd.weight", N_VOCAB, N_EMBD, 0.1, QT.F32)
    w.vector("output_norm.weight", N_EMBD, 1.0, 0.1)
    if n_epl:
        w.matrix("per_layer_token_embd.weight", N_VOCAB, n_epl * n_layer, 0.5)
        w.matrix("per_layer_model_proj.weight", n_epl * n_layer, N_EMBD, 0.15)
        w.vector("per_layer_proj_norm.weight", n_epl, 1.0, 0.1)
    factors = np.full(hd_full // 2, 1e30, dtype=np.float32)
    factors[: hd_full // 8] = 1.0
    writer.add_tensor("rope_freqs.weight", factors)
    for il in range(n_layer):
        p = f"blk.{il}."
        hd, n_kv = (hd_swa, kv_swa) if sliding[il] else (hd_full, kv_full)
        owns_kv = il < n_layer - n_shared
        w.vector(p + "attn_norm.weight", N_EMBD, 1.0, 0.1)
        w.matrix(p + "attn_q.weight", N_HEAD * hd, N_EMBD, 0.15)
        if owns_kv:
            w.matrix(p + "attn_k.weight", n_kv * hd, N_EMBD, 0.15)
            if sliding[il]:
                w.matrix(p + "attn_v.weight", n_kv * hd, N_EMBD, 0.1)
            w.vector(p + "attn_k_norm.weight", hd, hd ** -0.25, 0.05)
        w.vector(p + "attn_q_norm.weight", hd, hd ** -0.25, 0.05)
        w.matrix(p + "attn_output.weight", N_EMBD, N_HEAD * hd, 0.1)
        w.vector(p + "post_attention_norm.weight", N_EMBD, 1.0, 0.1)
        w.vector(p + "ffn_norm.weight", N_EMBD, 1.0, 0.1)
        w.matrix(p + "ffn_gate.weight", n_ff[il], N_EMBD, 0.15)
        w.matrix(p + "ffn_up.weight", n_ff[il], N_EMBD, 0.15)
        w.matrix(p + "ffn_down.weight", N_EMBD, n_ff[il], 0.1)
        w.vector(p + "post_ffw_norm.weight", N_EMBD, 1.0, 0.1)
        if n_epl:
            w.matrix(p + "inp_gate.weight", n_epl, N_EMBD, 0.15)
            w.matrix(p + "proj.weight", N_EMBD, n_epl, 0.15)
            w.vector(p + "post_norm.weight", N_EMBD, 1.0, 0.1)
        writer.add_tensor(p + "layer_output_scale.weight",
                          rng.uniform(0.5, 1.0, 1).astype(np.float32))
        if "moe" in spec:
            write_gemma4_experts(spec, w, p)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


GEMMA4_MODELS = [
    # F32 matrices: no activation is rounded to F16 before a product. With F16 matrices the
    # logits agree bit for bit until one rounding lands the other way, and then, through the
    # unscaled attention and the per-layer embeddings' gating, by up to 3% of the spread; in
    # F32 they stay within 0.5% (the F16 KV cache and the GeLU table still round).
    dict(name="gemma4", arch="gemma4", write=write_gemma4, wtype=QT.F32,
         sliding=[True, False, True, False], n_shared=2, n_embd_per_layer=8, n_ff=64,
         swa_heads=(16, 2), full_heads=(32, 2), sliding_window=8,
         about="gemma4: sliding layers (heads of 16, 2 KV heads, window 8, base 1e4) and global "
               "ones (heads of 32, 2 KV heads, V = K, rope_freqs over a quarter, base 1e6), "
               "layers 2-3 reading layers 0-1's caches with double-wide feed-forwards, "
               "per-layer embeddings of 8, layer output scales, V norm, logits soft-capped "
               "at 30, F32 matrices"),
]


# --- Gemma 4's mixture-of-experts model (26B-A4B; gemma4.cpp's is_moe_layer): in every layer
# the dense GeGLU feed-forward (ffn_norm, then post_ffw_norm_1) beside routed GeGLU experts
# (pre_ffw_norm_2, then post_ffw_norm_2), the two outputs summed before post_ffw_norm. The
# router reads rmsnorm(residual) / sqrt(n_embd) · ffn_gate_inp.scale; softmax top-k,
# re-normalised; each expert's output times its ffn_down_exps.scale (HF's per_expert_scale).
# Written by write_gemma4 with these two helpers.
def write_gemma4_moe_keys(spec: dict, writer: gguf.GGUFWriter):
    n_expert, n_used, n_ff_exp = spec["moe"]
    writer.add_expert_count(n_expert)
    writer.add_expert_used_count(n_used)
    writer.add_expert_feed_forward_length(n_ff_exp)


def write_gemma4_experts(spec: dict, w: Weights, p: str):
    """A layer's router (F32, as llama.cpp's quantizer keeps it), its input scale, the three
    extra norms and the experts: gate and up fused (the converter's ffn_gate_up_exps, from HF's
    experts.gate_up_proj) or apart, and the per-expert output scales where `down_scale`.
    The router's weights and input scale are larger than the other matrices' (its input is
    rmsnorm / sqrt(n_embd)), so that its logits have a std of ~1, as the other models'."""
    n_expert, _, n_ff_exp = spec["moe"]
    ewtype = spec.get("expert_wtype")
    w.matrix(p + "ffn_gate_inp.weight", n_expert, N_EMBD, 1.0, QT.F32)
    w.vector(p + "ffn_gate_inp.scale", N_EMBD, 1.0, 0.3)
    w.vector(p + "pre_ffw_norm_2.weight", N_EMBD, 1.0, 0.1)
    w.vector(p + "post_ffw_norm_1.weight", N_EMBD, 1.0, 0.1)
    w.vector(p + "post_ffw_norm_2.weight", N_EMBD, 1.0, 0.1)
    if spec.get("fused_gate_up"):
        w.experts(p + "ffn_gate_up_exps.weight", n_expert, 2 * n_ff_exp, N_EMBD, 0.15, ewtype)
    else:
        w.experts(p + "ffn_gate_exps.weight", n_expert, n_ff_exp, N_EMBD, 0.15, ewtype)
        w.experts(p + "ffn_up_exps.weight", n_expert, n_ff_exp, N_EMBD, 0.15, ewtype)
    w.experts(p + "ffn_down_exps.weight", n_expert, N_EMBD, n_ff_exp, 0.2, ewtype)
    if spec.get("down_scale"):
        w.writer.add_tensor(p + "ffn_down_exps.scale",
                            w.rng.uniform(0.5, 1.5, n_expert).astype(np.float32))


# After every other list (their seeds stay the same).
GEMMA4_MOE_MODELS = [
    # The 26B-A4B's layout: no per-layer embeddings, no shared KV layers, gate and up fused,
    # per-expert output scales. Bit-exact as one batch: experts 16 wide take the leftover path
    # of ggml_vec_dot_f32 (fewer than 32 values), which Hearth follows as GCC built it.
    dict(name="gemma4_moe", arch="gemma4", write=write_gemma4, wtype=QT.F32,
         sliding=[True, False, True], n_shared=0, n_embd_per_layer=0, n_ff=64,
         swa_heads=(16, 2), full_heads=(32, 1), sliding_window=8, moe=(8, 2, 16),
         fused_gate_up=True, down_scale=True, greedy=True, exact_batch=True,
         about="gemma4 with experts (the 26B-A4B's layout): 8 GeGLU experts of width 16, 2 per "
               "token, beside the dense GeGLU feed-forward of 64, each with its own norms; the "
               "router on rmsnorm(residual) / sqrt(n_embd) · ffn_gate_inp.scale, softmax top-k "
               "re-normalised; ffn_gate_up_exps fused; per-expert output scales; sliding and "
               "global layers, no per-layer embeddings; F32 matrices"),
    # The experts with everything else of Gemma 4's: per-layer embeddings, shared KV layers.
    # As one batch it matches llama.cpp's to 1e-6 of the spread (one position differs). One
    # token at a time it differs from that reference by 2.3% of the spread: the two engines'
    # single-token runs agree to 1e-6 of the spread up to position 18, where a last-bit
    # difference (Hearth multiplies a lone token's F32 rows in tinyBLAS's order, llama.cpp in
    # vec_dot's, cpu/matmul.cpp) sends one Q8_0 rounding of an expert's input the other way,
    # and gemma4's unscaled attention and per-layer gating carry the step on. llama.cpp's own
    # token-by-token run differs from its batch by 1.3% of the spread on this file. Tolerance
    # 5% (2x), still 30 times below what each expert feature does to the logits: leaving out
    # the router's input scale, post_ffw_norm_2, or routing from the experts' input moves them
    # by 2.8-3.3 spreads (1.4 for the output scales, on gemma4_moe).
    dict(name="gemma4_moe_q8_0", arch="gemma4", write=write_gemma4, wtype=QT.F32,
         expert_wtype=QT.Q8_0, sliding=[True, False, True, False], n_shared=2,
         n_embd_per_layer=8, n_ff=32, swa_heads=(16, 2), full_heads=(32, 2), sliding_window=8,
         moe=(8, 3, 32), greedy=True, tolerance=0.05,
         about="gemma4 with experts: 8 Q8_0 experts of width 32 (gate and up apart), 3 per "
               "token, no output scales, with per-layer embeddings of 8 and layers 2-3 reading "
               "layers 0-1's caches; F32 elsewhere"),
]


def llama_logits(path: pathlib.Path, tokens: list[int], q8_0_cache: bool = False,
                 n_batch: int = 64) -> np.ndarray:
    """q8_0_cache: a Q8_0 KV cache, which llama.cpp runs only with flash attention."""
    from llama_cpp import Llama

    # YaRN's betas at -1: the model's own (mistral3 writes them), as llama.cpp's tools take
    # them; llama-cpp-python's defaults (32, 1) would override the file's.
    cache = dict(flash_attn=True, type_k=GGML_TYPE_Q8_0, type_v=GGML_TYPE_Q8_0) if q8_0_cache \
        else dict(flash_attn=False)
    llm = Llama(model_path=str(path), n_ctx=64, n_batch=n_batch, n_ubatch=n_batch,
                logits_all=True, n_threads=2,
                verbose=False, yarn_beta_fast=-1.0, yarn_beta_slow=-1.0, **cache)
    llm.eval(tokens)
    logits = np.array(llm.scores[: len(tokens)], dtype=np.float32)
    del llm
    return logits


def llama_greedy(path: pathlib.Path, prompt: list[int], n_generate: int) -> dict:
    """llama.cpp's greedy continuation of `prompt`, one token at a time, with the gap between
    the two largest logits at each step (a near-tie may go either way in another engine)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=64, n_batch=64, logits_all=True, flash_attn=False,
                n_threads=2, verbose=False)
    llm.eval(prompt)
    tokens, gaps = [], []
    for _ in range(n_generate):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        top2 = np.sort(logits)[-2:]
        token = int(np.argmax(logits))
        tokens.append(token)
        gaps.append(float(top2[1] - top2[0]))
        llm.eval([token])
    del llm
    return {"prompt": prompt, "tokens": tokens, "gaps": gaps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", metavar="NAME",
                        help="regenerate these models only, keeping the others' entries")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    token_rng = np.random.default_rng(SEED)
    tokens = [int(t) for t in token_rng.integers(0, N_VOCAB, N_TOKENS)]
    index = {"tokens": tokens, "n_vocab": N_VOCAB, "models": []}
    kept = {}
    if args.only:
        old = json.loads((OUT / "index.json").read_text())
        assert old["tokens"] == tokens and old["n_vocab"] == N_VOCAB
        kept = {m["name"]: m for m in old["models"]}
    for i, spec in enumerate(MODELS + LOWBIT_MODELS + HYBRID_MODELS + QWEN35MOE_MODELS
                                     + GEMMA4_MODELS + GEMMA4_MOE_MODELS):
        if args.only and spec["name"] not in args.only:
            if spec["name"] in kept:
                index["models"].append(kept[spec["name"]])
            continue
        gguf_path = OUT / f"{spec['name']}.gguf"
        if "write" in spec:
            writer = spec["write"]
        else:
            writer = write_lowbit_model if spec in LOWBIT_MODELS else write_model
        writer(spec, gguf_path, np.random.default_rng(SEED + 1 + i))
        logits = llama_logits(gguf_path, tokens, n_batch=spec.get("reference_batch", 64))
        assert logits.shape == (N_TOKENS, N_VOCAB), logits.shape
        logits_path = OUT / f"{spec['name']}.logits.f32"
        logits.astype("<f4").tofile(logits_path)
        index["models"].append({
            "name": spec["name"],
            "architecture": spec["arch"],
            "about": spec["about"],
            "gguf": gguf_path.name,
            "logits": logits_path.name,
            "weight_type": (spec.get("expert_wtype", spec["wtype"]).name if "wtype" in spec
                            else spec["label"]),
            "exact": spec.get("exact", False),
            **({"tolerance": spec["tolerance"]} if "tolerance" in spec else {}),
            # Bit-exact as one batch (tst_architectures): F32/F16 in tinyBLAS's order.
            **({"exact_batch": True} if spec.get("exact_batch") else {}),
        })
        if spec.get("q8_0_cache"):
            q8_path = OUT / f"{spec['name']}.q8_0_cache.logits.f32"
            llama_logits(gguf_path, tokens, q8_0_cache=True).astype("<f4").tofile(q8_path)
            index["models"][-1]["q8_0_cache_logits"] = q8_path.name
        if "moe" in spec:
            index["models"][-1]["experts"] = spec["moe"][0]
        if spec.get("greedy"):
            index["models"][-1]["greedy"] = llama_greedy(gguf_path, tokens[:8], 24)
        print(f"{spec['name']:18} {gguf_path.stat().st_size / 1024:6.0f} KiB  "
              f"logits std {logits.std():.3f}  max |logit| {np.abs(logits).max():.3f}")
    (OUT / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
