#!/usr/bin/env python3
"""Writes random-weight GGUF files with the shapes of real models, for benchmarks
(bench/compare-cpu, bench/compare-gpu). The weights are random valid blocks (finite
scales), so the files cost no quantization time; speed does not depend on the values.

    .venv/bin/python scripts/gen-bench-models.py [--out DIR] [--only NAME ...]

Default output: $HEARTH_BENCH_MODELS or ~/.cache/hearth/bench-models. Names:
tinyllama-1.1b-{q4_0,q4_1,q4_k_m,q5_k_m,q6_k,q8_0,f16,bf16,mxfp4,iq2_xxs,iq3_s},
llama2-7b-{q4_0,q4_1,q4_k_m,q5_k_m,q6_k,q8_0,f16,bf16},
llama3-8b-{...}, qwen3moe-3b-a1b-{q4_0,q4_k_m} (mixture of experts), qwen35moe-3b-a1b-q4_0
(the hybrid with experts), gemma4moe-4b-a2b-q4_0 (Gemma 4's experts beside its dense FFN).
The vocabulary is SmolLM2's (copied from the default model), resized to the shape's
vocabulary by padding with unused tokens.
"""
import argparse
import os
import pathlib
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

SHAPES = {
    # name: (n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx, rope_base)
    "tinyllama-1.1b": (2048, 22, 32, 4, 5632, 32000, 2048, 10000.0),
    "llama2-7b": (4096, 32, 32, 32, 11008, 32000, 4096, 10000.0),
    "llama3-8b": (4096, 32, 32, 8, 14336, 128256, 8192, 500000.0),
}
# Mixture of experts: Qwen3-30B-A3B's layer (n_embd 2048, 32 heads of 128, 4 KV heads, experts
# 768 wide, 8 routed per token, vocabulary 151936) with 16 layers of 32 experts instead of 48 of
# 128, so that it fits this machine: 3.3 B parameters, 1.2 B of them read per token.
MOE_SHAPES = {
    # name: (n_embd, n_layer, n_head, n_head_kv, head_dim, n_expert, n_used, n_ff_exp, n_vocab,
    #        n_ctx, rope_base)
    "qwen3moe-3b-a1b": (2048, 16, 32, 4, 128, 32, 8, 768, 151936, 4096, 1000000.0),
}
MOE_MIXES = ("q4_0", "q4_k_m")
# qwen35moe: Qwen3.5-35B-A3B's layer (n_embd 2048; gated delta-net layers of 16 key heads and 32
# value heads of 128 with a 4-tap convolution; every 4th layer gated attention of 16 heads of
# 256 over 2 KV heads, a quarter of each head rotated in sections [11, 11, 10, 0]; 8 of the
# experts 512 wide routed per token plus a shared expert 512 wide; vocabulary 248,320) with 12
# layers of 32 experts instead of 40 of 256: 2.6 B parameters, 1.2 B of them read per token.
HYBRID_MOE_SHAPES = {
    # name: (n_embd, n_layer, n_head, n_head_kv, head_dim, n_expert, n_used, n_ff_exp,
    #        n_ff_shexp, n_vocab, n_ctx, rope_base)
    "qwen35moe-3b-a1b": (2048, 12, 16, 2, 256, 32, 8, 512, 512, 248320, 4096, 10000000.0),
}
# (d_conv, d_state, n_k_heads, n_v_heads, rope sections) of the delta-net layers and the RoPE.
HYBRID_MOE_LINEAR = {"qwen35moe-3b-a1b": (4, 128, 16, 32, [11, 11, 10, 0])}
HYBRID_MOE_MIXES = ("q4_0",)
# gemma4 with experts: Gemma 4 26B-A4B's layer (n_embd 2816, 16 query heads; sliding layers of 8
# KV heads of 256 over a window of 1024, every 6th layer global with 2 KV heads of 512 and V = K,
# a quarter of its pairs rotated; a dense GeGLU feed-forward of 2112 beside experts 704 wide, 8
# routed per token; vocabulary 262,144, tied output) with 12 layers of 32 experts instead of 30
# of 128: 3.6 B parameters, 2.0 B of them read per token (the tied output head among them).
GEMMA4_MOE_SHAPES = {
    # name: (n_embd, n_layer, n_head, (swa head_dim, KV heads), (global head_dim, KV heads),
    #        n_ff, n_expert, n_used, n_ff_exp, n_vocab, n_ctx, window)
    "gemma4moe-4b-a2b": (2816, 12, 16, (256, 8), (512, 2), 2112, 32, 8, 704, 262144, 4096,
                         1024),
}
GEMMA4_MOE_MIXES = ("q4_0",)
# Tensor types per file type: (attention q/k/o, attention v, ffn gate/up, ffn down, embeddings, output)
MIXES = {
    "q4_0": dict(attn=Q.Q4_0, attn_v=Q.Q4_0, ffn=Q.Q4_0, ffn_down=Q.Q4_0, embd=Q.Q4_0, out=Q.Q6_K, ftype=2),
    # llama.cpp's Q4_K_M: Q4_K mostly, Q6_K for attn_v / ffn_down in half the layers, output Q6_K
    "q4_k_m": dict(attn=Q.Q4_K, attn_v=Q.Q6_K, ffn=Q.Q4_K, ffn_down=Q.Q6_K, embd=Q.Q4_K, out=Q.Q6_K, ftype=15),
    # llama.cpp's Q5_K_M: as Q4_K_M with Q5_K in place of Q4_K.
    "q5_k_m": dict(attn=Q.Q5_K, attn_v=Q.Q6_K, ffn=Q.Q5_K, ffn_down=Q.Q6_K, embd=Q.Q5_K, out=Q.Q6_K, ftype=17),
    # llama.cpp's Q6_K and Q4_1 file types (Q6_K: every matrix; Q4_1: output Q6_K).
    "q6_k": dict(attn=Q.Q6_K, attn_v=Q.Q6_K, ffn=Q.Q6_K, ffn_down=Q.Q6_K, embd=Q.Q6_K, out=Q.Q6_K, ftype=18),
    "q4_1": dict(attn=Q.Q4_1, attn_v=Q.Q4_1, ffn=Q.Q4_1, ffn_down=Q.Q4_1, embd=Q.Q4_1, out=Q.Q6_K, ftype=3),
    "q8_0": dict(attn=Q.Q8_0, attn_v=Q.Q8_0, ffn=Q.Q8_0, ffn_down=Q.Q8_0, embd=Q.Q8_0, out=Q.Q8_0, ftype=7),
    "f16": dict(attn=Q.F16, attn_v=Q.F16, ffn=Q.F16, ffn_down=Q.F16, embd=Q.F16, out=Q.F16, ftype=1),
    # llama.cpp's BF16 file type (ftype 32): the fast prefill path's other 16-bit float input.
    "bf16": dict(attn=Q.BF16, attn_v=Q.BF16, ffn=Q.BF16, ffn_down=Q.BF16, embd=Q.BF16, out=Q.BF16, ftype=32),
    # Every matrix in one low-bit type: the speed of its kernel, not a quantizer's recipe.
    "mxfp4": dict(attn=Q.MXFP4, attn_v=Q.MXFP4, ffn=Q.MXFP4, ffn_down=Q.MXFP4, embd=Q.Q8_0, out=Q.Q8_0, ftype=38),
    "iq2_xxs": dict(attn=Q.IQ2_XXS, attn_v=Q.IQ2_XXS, ffn=Q.IQ2_XXS, ffn_down=Q.IQ2_XXS, embd=Q.Q4_K, out=Q.Q6_K,
                    ftype=19),
    "iq3_s": dict(attn=Q.IQ3_S, attn_v=Q.IQ3_S, ffn=Q.IQ3_S, ffn_down=Q.IQ3_S, embd=Q.Q4_K, out=Q.Q6_K, ftype=26),
}
# Byte offsets of the f16 scale fields in each block type, set to small finite values.
SCALE_FIELDS = {Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q8_0: [0], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208], Q.IQ2_XXS: [0], Q.IQ3_S: [0]}


def random_blocks(rng, qtype, n_rows, n_cols):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    if qtype == Q.F16:
        return (rng.standard_normal((n_rows, n_cols), dtype=np.float32) * 0.02).astype(np.float16)
    if qtype == Q.BF16:
        return gguf.quants.quantize(rng.standard_normal((n_rows, n_cols), dtype=np.float32) * 0.02, Q.BF16)
    n_blocks = n_rows * n_cols // block
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    scale = np.frombuffer(np.float16(0.001).tobytes(), dtype=np.uint8)
    for offset in SCALE_FIELDS.get(qtype, []):
        raw[:, offset:offset + 2] = scale
    if qtype == Q.MXFP4:
        raw[:, 0] = 118  # the e8m0 scale: 2^-10
    return raw.reshape(n_rows, n_cols // block * size)


def add_vocab(w, vocab, n_vocab):
    """SmolLM2's tokenizer, truncated or padded with unused tokens to n_vocab."""
    tokens, types, merges = vocab
    pad = n_vocab - len(tokens)
    kept = set(tokens[:n_vocab])
    # Merges must only name tokens that the (possibly truncated) vocabulary keeps.
    merges = [m for m in merges if all(part in kept for part in m.split(" ")) and m.replace(" ", "") in kept]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens[:n_vocab] + [f"<unused{i}>" for i in range(max(pad, 0))])
    w.add_token_types(types[:n_vocab] + [gguf.TokenType.UNUSED] * max(pad, 0))
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)


class RandomGguf:
    """One file being written: a GGUFWriter with the name, layer count, context and width set
    first (the keys every writer starts with), and the tensor helpers the writers share, all
    drawing from one generator seeded alike."""

    def __init__(self, path, arch, shape_name, mix_name, n_layer, n_ctx, n_embd):
        self.rng = np.random.default_rng(7)
        self.w = gguf.GGUFWriter(str(path), arch=arch)
        self.w.add_name(f"random {shape_name} {mix_name}")
        self.w.add_block_count(n_layer)
        self.w.add_context_length(n_ctx)
        self.w.add_embedding_length(n_embd)

    def add_file_type_and_vocab(self, mix, vocab, n_vocab, vocab_size_key=False):
        """The keys every writer ends with (llama's also names the vocabulary size)."""
        self.w.add_file_type(mix["ftype"])
        if vocab_size_key:
            self.w.add_vocab_size(n_vocab)
        add_vocab(self.w, vocab, n_vocab)

    def add(self, name, qtype, n_rows, n_cols, n_mats=None):
        """Random blocks of qtype; with n_mats, a 3-D stack of that many matrices (experts)."""
        data = random_blocks(self.rng, qtype, n_rows * (n_mats or 1), n_cols)
        if n_mats:
            data = data.reshape(n_mats, n_rows, -1)
        self.w.add_tensor(name, data, raw_dtype=qtype)

    def add_f32(self, name, shape, scale, offset=0.0):
        self.w.add_tensor(name, (offset + self.rng.standard_normal(shape, dtype=np.float32) * scale)
                          .astype(np.float32))

    def add_ones(self, name, n):
        self.w.add_tensor(name, np.ones(n, dtype=np.float32))

    def write(self):
        self.w.write_header_to_file()
        self.w.write_kv_data_to_file()
        self.w.write_tensors_to_file()
        self.w.close()


def write_model(path, shape_name, mix_name, vocab):
    n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx, rope_base = SHAPES[shape_name]
    mix = MIXES[mix_name]
    f = RandomGguf(path, "llama", shape_name, mix_name, n_layer, n_ctx, n_embd)
    w = f.w
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_freq_base(rope_base)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-5)
    f.add_file_type_and_vocab(mix, vocab, n_vocab, vocab_size_key=True)

    head_dim = n_embd // n_head
    f.add("token_embd.weight", mix["embd"], n_vocab, n_embd)
    f.add_ones("output_norm.weight", n_embd)
    f.add("output.weight", mix["out"], n_vocab, n_embd)
    for il in range(n_layer):
        p = f"blk.{il}."
        f.add_ones(p + "attn_norm.weight", n_embd)
        f.add(p + "attn_q.weight", mix["attn"], n_embd, n_embd)
        f.add(p + "attn_k.weight", mix["attn"], n_head_kv * head_dim, n_embd)
        f.add(p + "attn_v.weight", mix["attn_v"] if il % 2 == 0 else mix["attn"], n_head_kv * head_dim, n_embd)
        f.add(p + "attn_output.weight", mix["attn"], n_embd, n_embd)
        f.add_ones(p + "ffn_norm.weight", n_embd)
        f.add(p + "ffn_gate.weight", mix["ffn"], n_ff, n_embd)
        f.add(p + "ffn_up.weight", mix["ffn"], n_ff, n_embd)
        f.add(p + "ffn_down.weight", mix["ffn_down"] if il % 2 == 0 else mix["ffn"], n_embd, n_ff)
    f.write()


def write_moe_model(path, shape_name, mix_name, vocab):
    """A qwen3moe file: Q/K norms, a router (F32, as llama.cpp's quantizer keeps it) and the
    3-D expert tensors ffn_{gate,up,down}_exps of the mix's feed-forward types."""
    (n_embd, n_layer, n_head, n_head_kv, head_dim, n_expert, n_used, n_ff_exp, n_vocab, n_ctx,
     rope_base) = MOE_SHAPES[shape_name]
    mix = MIXES[mix_name]
    f = RandomGguf(path, "qwen3moe", shape_name, mix_name, n_layer, n_ctx, n_embd)
    w = f.w
    w.add_feed_forward_length(n_ff_exp * n_used)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(rope_base)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_expert_count(n_expert)
    w.add_expert_used_count(n_used)
    w.add_expert_feed_forward_length(n_ff_exp)
    f.add_file_type_and_vocab(mix, vocab, n_vocab)

    f.add("token_embd.weight", mix["embd"], n_vocab, n_embd)
    f.add_ones("output_norm.weight", n_embd)
    f.add("output.weight", mix["out"], n_vocab, n_embd)
    for il in range(n_layer):
        p = f"blk.{il}."
        f.add_ones(p + "attn_norm.weight", n_embd)
        f.add(p + "attn_q.weight", mix["attn"], n_head * head_dim, n_embd)
        f.add(p + "attn_k.weight", mix["attn"], n_head_kv * head_dim, n_embd)
        f.add(p + "attn_v.weight", mix["attn_v"] if il % 2 == 0 else mix["attn"],
              n_head_kv * head_dim, n_embd)
        f.add(p + "attn_output.weight", mix["attn"], n_embd, n_head * head_dim)
        f.add_ones(p + "attn_q_norm.weight", head_dim)
        f.add_ones(p + "attn_k_norm.weight", head_dim)
        f.add_ones(p + "ffn_norm.weight", n_embd)
        f.add_f32(p + "ffn_gate_inp.weight", (n_expert, n_embd), 0.02)
        f.add(p + "ffn_gate_exps.weight", mix["ffn"], n_ff_exp, n_embd, n_expert)
        f.add(p + "ffn_up_exps.weight", mix["ffn"], n_ff_exp, n_embd, n_expert)
        f.add(p + "ffn_down_exps.weight", mix["ffn_down"] if il % 2 == 0 else mix["ffn"], n_embd,
              n_ff_exp, n_expert)
    f.write()


def write_hybrid_moe_model(path, shape_name, mix_name, vocab):
    """A qwen35moe file: gated delta-net layers (attn_qkv, attn_gate, ssm_*) between gated
    attention layers (a [q | gate] query, Q/K norms), each with a router, the 3-D experts and a
    shared expert with its gate input, the tensor layout of llama.cpp's qwen35moe.cpp."""
    (n_embd, n_layer, n_head, n_head_kv, head_dim, n_expert, n_used, n_ff_exp, n_ff_shexp,
     n_vocab, n_ctx, rope_base) = HYBRID_MOE_SHAPES[shape_name]
    d_conv, d_state, n_k_heads, n_v_heads, sections = HYBRID_MOE_LINEAR[shape_name]
    d_inner = n_v_heads * d_state
    conv_dim = 2 * n_k_heads * d_state + d_inner
    mix = MIXES[mix_name]
    f = RandomGguf(path, "qwen35moe", shape_name, mix_name, n_layer, n_ctx, n_embd)
    w = f.w
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(rope_base)
    w.add_rope_dimension_count(head_dim // 4)
    w.add_rope_dimension_sections(sections)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_expert_count(n_expert)
    w.add_expert_used_count(n_used)
    w.add_expert_feed_forward_length(n_ff_exp)
    w.add_expert_shared_feed_forward_length(n_ff_shexp)
    w.add_ssm_conv_kernel(d_conv)
    w.add_ssm_inner_size(d_inner)
    w.add_ssm_state_size(d_state)
    w.add_ssm_time_step_rank(n_v_heads)
    w.add_ssm_group_count(n_k_heads)
    w.add_full_attention_interval(4)
    f.add_file_type_and_vocab(mix, vocab, n_vocab)

    f.add("token_embd.weight", mix["embd"], n_vocab, n_embd)
    f.add_f32("output_norm.weight", n_embd, 0.0, 1.0)
    f.add("output.weight", mix["out"], n_vocab, n_embd)
    for il in range(n_layer):
        p = f"blk.{il}."
        f.add_f32(p + "attn_norm.weight", n_embd, 0.0, 1.0)
        if (il + 1) % 4 != 0:
            f.add(p + "attn_qkv.weight", mix["attn"], conv_dim, n_embd)
            f.add(p + "attn_gate.weight", mix["attn"], d_inner, n_embd)
            f.add_f32(p + "ssm_conv1d.weight", (conv_dim, d_conv), 0.5)
            f.add_f32(p + "ssm_dt.bias", n_v_heads, 0.5)
            w.add_tensor(p + "ssm_a", -np.exp(f.rng.uniform(-1.5, 0.0, n_v_heads)).astype(np.float32))
            f.add(p + "ssm_beta.weight", mix["attn"], n_v_heads, n_embd)
            f.add(p + "ssm_alpha.weight", mix["attn"], n_v_heads, n_embd)
            f.add_f32(p + "ssm_norm.weight", d_state, 0.0, 1.0)
            f.add(p + "ssm_out.weight", mix["attn"], n_embd, d_inner)
        else:
            f.add(p + "attn_q.weight", mix["attn"], 2 * n_head * head_dim, n_embd)
            f.add(p + "attn_k.weight", mix["attn"], n_head_kv * head_dim, n_embd)
            f.add(p + "attn_v.weight", mix["attn_v"], n_head_kv * head_dim, n_embd)
            f.add(p + "attn_output.weight", mix["attn"], n_embd, n_head * head_dim)
            f.add_f32(p + "attn_q_norm.weight", head_dim, 0.0, 1.0)
            f.add_f32(p + "attn_k_norm.weight", head_dim, 0.0, 1.0)
        f.add_f32(p + "post_attention_norm.weight", n_embd, 0.0, 1.0)
        f.add_f32(p + "ffn_gate_inp.weight", (n_expert, n_embd), 0.02)
        f.add(p + "ffn_gate_exps.weight", mix["ffn"], n_ff_exp, n_embd, n_expert)
        f.add(p + "ffn_up_exps.weight", mix["ffn"], n_ff_exp, n_embd, n_expert)
        f.add(p + "ffn_down_exps.weight", mix["ffn_down"], n_embd, n_ff_exp, n_expert)
        f.add_f32(p + "ffn_gate_inp_shexp.weight", n_embd, 0.02)
        f.add(p + "ffn_gate_shexp.weight", mix["ffn"], n_ff_shexp, n_embd)
        f.add(p + "ffn_up_shexp.weight", mix["ffn"], n_ff_shexp, n_embd)
        f.add(p + "ffn_down_shexp.weight", mix["ffn_down"], n_embd, n_ff_shexp)
    f.write()


def write_gemma4_moe_model(path, shape_name, mix_name, vocab):
    """A gemma4 file with experts, the tensor layout of llama.cpp's gemma4.cpp for the
    26B-A4B: per-layer head sizes and KV heads, rope_freqs for the global layers, the dense
    feed-forward and its norms beside the router (and its input scale), the fused gate_up and
    down experts with their output scales, a layer output scale."""
    (n_embd, n_layer, n_head, (hd_swa, kv_swa), (hd_full, kv_full), n_ff, n_expert, n_used,
     n_ff_exp, n_vocab, n_ctx, window) = GEMMA4_MOE_SHAPES[shape_name]
    sliding = [(il + 1) % 6 != 0 for il in range(n_layer)]
    mix = MIXES[mix_name]
    f = RandomGguf(path, "gemma4", shape_name, mix_name, n_layer, n_ctx, n_embd)
    w = f.w
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv([kv_swa if s else kv_full for s in sliding])
    w.add_key_length(hd_full)
    w.add_value_length(hd_full)
    w.add_key_length_swa(hd_swa)
    w.add_value_length_swa(hd_swa)
    w.add_rope_dimension_count(hd_full)
    w.add_rope_dimension_count_swa(hd_swa)
    w.add_rope_freq_base(1000000.0)
    w.add_rope_freq_base_swa(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_sliding_window(window)
    w.add_sliding_window_pattern(sliding)
    w.add_shared_kv_layers(0)
    w.add_embedding_length_per_layer_input(0)
    w.add_final_logit_softcapping(30.0)
    w.add_expert_count(n_expert)
    w.add_expert_used_count(n_used)
    w.add_expert_feed_forward_length(n_ff_exp)
    f.add_file_type_and_vocab(mix, vocab, n_vocab)

    f.add("token_embd.weight", mix["embd"], n_vocab, n_embd)
    f.add_f32("output_norm.weight", n_embd, 0.0, 1.0)
    factors = np.full(hd_full // 2, 1e30, dtype=np.float32)
    factors[: hd_full // 8] = 1.0
    w.add_tensor("rope_freqs.weight", factors)
    for il in range(n_layer):
        p = f"blk.{il}."
        hd, n_kv = (hd_swa, kv_swa) if sliding[il] else (hd_full, kv_full)
        f.add_f32(p + "attn_norm.weight", n_embd, 0.0, 1.0)
        f.add(p + "attn_q.weight", mix["attn"], n_head * hd, n_embd)
        f.add(p + "attn_k.weight", mix["attn"], n_kv * hd, n_embd)
        if sliding[il]:
            f.add(p + "attn_v.weight", mix["attn_v"], n_kv * hd, n_embd)
        f.add(p + "attn_output.weight", mix["attn"], n_embd, n_head * hd)
        f.add_f32(p + "attn_q_norm.weight", hd, 0.0, 1.0)
        f.add_f32(p + "attn_k_norm.weight", hd, 0.0, 1.0)
        f.add_f32(p + "post_attention_norm.weight", n_embd, 0.0, 1.0)
        f.add_f32(p + "ffn_norm.weight", n_embd, 0.0, 1.0)
        f.add(p + "ffn_gate.weight", mix["ffn"], n_ff, n_embd)
        f.add(p + "ffn_up.weight", mix["ffn"], n_ff, n_embd)
        f.add(p + "ffn_down.weight", mix["ffn_down"], n_embd, n_ff)
        f.add_f32(p + "post_ffw_norm.weight", n_embd, 0.0, 1.0)
        f.add_f32(p + "post_ffw_norm_1.weight", n_embd, 0.0, 1.0)
        f.add_f32(p + "pre_ffw_norm_2.weight", n_embd, 0.0, 1.0)
        f.add_f32(p + "post_ffw_norm_2.weight", n_embd, 0.0, 1.0)
        f.add_f32(p + "ffn_gate_inp.weight", (n_expert, n_embd), 0.02)
        f.add_f32(p + "ffn_gate_inp.scale", n_embd, 0.0, 1.0)
        f.add(p + "ffn_gate_up_exps.weight", mix["ffn"], 2 * n_ff_exp, n_embd, n_expert)
        f.add(p + "ffn_down_exps.weight", mix["ffn_down"], n_embd, n_ff_exp, n_expert)
        f.add_f32(p + "ffn_down_exps.scale", n_expert, 0.0, 1.0)
        f.add_f32(p + "layer_output_scale.weight", 1, 0.0, 1.0)
    f.write()


def smollm2_vocab():
    base = os.environ.get("HEARTH_MODELS_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "hearth", "models")
    reader = gguf.GGUFReader(os.path.join(base, "SmolLM2-135M-Instruct.Q4_1.gguf"))
    field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode() for i in field.data]
    types = [int(reader.fields["tokenizer.ggml.token_type"].parts[i][0])
             for i in reader.fields["tokenizer.ggml.token_type"].data]
    mfield = reader.fields["tokenizer.ggml.merges"]
    merges = [bytes(mfield.parts[i]).decode() for i in mfield.data]
    return tokens, types, merges


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.environ.get("HEARTH_BENCH_MODELS",
                                                        os.path.expanduser("~/.cache/hearth/bench-models")))
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vocab = smollm2_vocab()
    jobs = [(shape, mix, write_model) for shape in SHAPES for mix in MIXES]
    jobs += [(shape, mix, write_moe_model) for shape in MOE_SHAPES for mix in MOE_MIXES]
    jobs += [(shape, mix, write_hybrid_moe_model) for shape in HYBRID_MOE_SHAPES
             for mix in HYBRID_MOE_MIXES]
    jobs += [(shape, mix, write_gemma4_moe_model) for shape in GEMMA4_MOE_SHAPES
             for mix in GEMMA4_MOE_MIXES]
    for shape, mix, writer in jobs:
        name = f"{shape}-{mix}"
        if args.only and name not in args.only:
            continue
        path = out / f"{name}.gguf"
        if path.exists():
            print(f"{path} exists")
            continue
        tmp = path.with_suffix(".gguf.part")
        writer(tmp, shape, mix, vocab)
        tmp.rename(path)
        print(f"wrote {path} ({path.stat().st_size / 2**30:.2f} GiB)")


if __name__ == "__main__":
    sys.exit(main())
