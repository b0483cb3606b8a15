#!/usr/bin/env python3
"""Tiny random-weight GGUF models, one per architecture feature Hearth supports, and the
logits llama.cpp (llama-cpp-python) computes on them, for tests/engine/tst_architectures.cpp.

    .venv/bin/pip install llama-cpp-python    # builds llama.cpp from source (slow)
    .venv/bin/python scripts/gen-arch-reference.py

Writes, for each model NAME of MODELS below, into tests/data/arch/:
  NAME.gguf         the model: n_embd 64, 4 heads, a byte-level BPE vocabulary of 268 tokens
  NAME.logits.f32   llama.cpp's logits for every position of TOKENS, (n_tokens, n_vocab)
                    little-endian float32, row-major
and index.json: per model, what it exercises, its token ids, n_vocab and its file names.

llama.cpp runs with an F16 KV cache and without flash attention (Hearth's CPU path). The
weights are drawn with a fixed seed, so the files are the same on every run; the logits may
move in the last bits with the llama.cpp version (summation order).
"""
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

    def vector(self, name: str, n: int, mean: float, std: float):
        self.writer.add_tensor(name, (mean + self.rng.standard_normal(n) * std).astype(np.float32))


def write_model(spec: dict, path: pathlib.Path, rng: np.random.Generator):
    arch = spec["arch"]
    n_layer = spec["n_layer"]
    n_head_kv = spec["n_head_kv"]
    head_dim = spec.get("head_dim", N_EMBD // N_HEAD)
    rope_base = spec.get("rope_base", 10000.0)
    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(spec["name"])
    writer.add_file_type({QT.F32: gguf.LlamaFileType.ALL_F32, QT.F16: gguf.LlamaFileType.MOSTLY_F16,
                          QT.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0,
                          QT.Q4_0: gguf.LlamaFileType.MOSTLY_Q4_0}[spec["wtype"]])
    writer.add_context_length(N_CTX_TRAIN)
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
            writer.add_rope_scaling_orig_ctx_len(64)
    if "sliding_window" in spec:
        writer.add_sliding_window(spec["sliding_window"])
        writer.add_rope_freq_base_swa(spec["rope_base_swa"])

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
    w.matrix("token_embd.weight", N_VOCAB, N_EMBD, 0.1 if arch == "gemma3" else 0.5, emb_type)
    if not spec["tied"]:
        w.matrix("output.weight", N_VOCAB, N_EMBD, 0.15)
    w.vector("output_norm.weight", N_EMBD, 1.0, 0.1)
    if spec.get("rope_freqs"):
        factors = llama3_rope_factors(head_dim, rope_base, 8.0, 1.0, 4.0, 64)
        writer.add_tensor("rope_freqs.weight", factors)
    q_width, kv_width = N_HEAD * head_dim, n_head_kv * head_dim
    for il in range(n_layer):
        p = f"blk.{il}."
        w.vector(p + "attn_norm.weight", N_EMBD, 1.0, 0.1)
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
        if spec.get("post_norms"):
            w.vector(p + "post_attention_norm.weight", N_EMBD, 1.0, 0.1)
            w.vector(p + "post_ffw_norm.weight", N_EMBD, 1.0, 0.1)
        w.vector(p + "ffn_norm.weight", N_EMBD, 1.0, 0.1)
        w.matrix(p + "ffn_gate.weight", N_FF, N_EMBD, 0.15)
        w.matrix(p + "ffn_up.weight", N_FF, N_EMBD, 0.15)
        w.matrix(p + "ffn_down.weight", N_EMBD, N_FF, 0.1)

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
    writer = gguf.GGUFWriter(path, "qwen35")
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
        w.matrix(p + "ffn_gate.weight", n_ff, N_EMBD, 0.15)
        w.matrix(p + "ffn_up.weight", n_ff, N_EMBD, 0.15)
        w.matrix(p + "ffn_down.weight", N_EMBD, n_ff, 0.1)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


MODELS += [
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


def llama_logits(path: pathlib.Path, tokens: list[int]) -> np.ndarray:
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=64, n_batch=64, logits_all=True, flash_attn=False,
                n_threads=2, verbose=False)
    llm.eval(tokens)
    logits = np.array(llm.scores[: len(tokens)], dtype=np.float32)
    del llm
    return logits


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    token_rng = np.random.default_rng(SEED)
    tokens = [int(t) for t in token_rng.integers(0, N_VOCAB, N_TOKENS)]
    index = {"tokens": tokens, "n_vocab": N_VOCAB, "models": []}
    for i, spec in enumerate(MODELS):
        gguf_path = OUT / f"{spec['name']}.gguf"
        spec.get("write", write_model)(spec, gguf_path, np.random.default_rng(SEED + 1 + i))
        logits = llama_logits(gguf_path, tokens)
        assert logits.shape == (N_TOKENS, N_VOCAB), logits.shape
        logits_path = OUT / f"{spec['name']}.logits.f32"
        logits.astype("<f4").tofile(logits_path)
        index["models"].append({
            "name": spec["name"],
            "architecture": spec["arch"],
            "about": spec["about"],
            "gguf": gguf_path.name,
            "logits": logits_path.name,
            "weight_type": spec["wtype"].name,
            "exact": spec.get("exact", False),
        })
        print(f"{spec['name']:18} {gguf_path.stat().st_size / 1024:6.0f} KiB  "
              f"logits std {logits.std():.3f}  max |logit| {np.abs(logits).max():.3f}")
    (OUT / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
