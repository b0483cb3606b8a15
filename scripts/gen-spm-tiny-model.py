#!/usr/bin/env python3
"""A tiny llama model with Llama 2's SentencePiece vocabulary (ggml-vocab-llama-spm.gguf) whose
greedy continuation of a prompt is known in advance, for the raw-completion tests
(tst_cli_run, tst_detokenizer): tests/data/tokenizer/spm-tiny-model.{gguf,json}.

The blocks add nothing to the residual stream (attn_output and ffn_down are zero), so the
logits depend only on the last token: token_embd gives each token of a chain t0 -> t1 -> ...
-> tK its own unit vector (dimension i for t_i), and output.weight's row of t_{i+1} (of EOS
for tK) points along dimension i, every other row being zero. From t_i the only logit that is
not zero is t_{i+1}'s (about 45), so greedy decoding after a prompt ending in t0 generates
t1 ... tK and then EOS. The chain is the tokens of CONTINUATION after those of PROMPT: a word
starting with SentencePiece's space (the first generated token), a character written as
byte-fallback tokens, a newline.

The JSON holds the prompt, the generated ids and the expected text, decode(prompt +
generated) minus decode(prompt) by the sentencepiece library: what llama.cpp prints for a
raw completion.

    .venv/bin/python scripts/gen-spm-tiny-model.py
"""
import importlib.util
import json
import pathlib

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests/data/tokenizer"

_spec = importlib.util.spec_from_file_location("gdr", ROOT / "scripts/gen-detokenizer-reference.py")
gdr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gdr)

PROMPT = "Once upon a time"
CONTINUATION = " Mensumes were\n\U0001f642 \u65e5\u672c!"
N_EMBD = 32
N_FF = 32


def main():
    meta = gdr.gtr.read_tokenizer_metadata(DATA / "ggml-vocab-llama-spm.gguf")
    sp = gdr.spm_processor(meta)
    bos, eos = meta["tokenizer.ggml.bos_token_id"], meta["tokenizer.ggml.eos_token_id"]
    prompt_ids = sp.encode(PROMPT)
    full_ids = sp.encode(PROMPT + CONTINUATION)
    if full_ids[:len(prompt_ids)] != prompt_ids:
        raise SystemExit("the continuation changes the prompt's tokens")
    generated = full_ids[len(prompt_ids):]
    chain = [prompt_ids[-1]] + generated
    if len(set(chain)) != len(chain) or eos in chain or len(chain) > N_EMBD:
        raise SystemExit(f"the chain {chain} must be distinct tokens, at most {N_EMBD}")
    n_vocab = len(meta["tokenizer.ggml.tokens"])

    embd = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    out = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    for i, token in enumerate(chain):
        embd[token, i] = 1.0
        successor = chain[i + 1] if i + 1 < len(chain) else eos
        out[successor, i] = 8.0

    path = DATA / "spm-tiny-model.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("spm-tiny-model")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    writer.add_context_length(256)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(1)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(1)
    writer.add_head_count_kv(1)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(N_EMBD)
    writer.add_vocab_size(n_vocab)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(meta["tokenizer.ggml.tokens"])
    writer.add_token_scores(meta["tokenizer.ggml.scores"])
    writer.add_token_types(meta["tokenizer.ggml.token_type"])
    writer.add_bos_token_id(bos)
    writer.add_eos_token_id(eos)
    writer.add_unk_token_id(meta["tokenizer.ggml.unknown_token_id"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    # Exact in Q4_0: one non-zero value per block of 32 is its own scale times -8.
    writer.add_tensor("token_embd.weight", gguf.quants.quantize(embd, QT.Q4_0), raw_dtype=QT.Q4_0)
    writer.add_tensor("output.weight", gguf.quants.quantize(out, QT.Q4_0), raw_dtype=QT.Q4_0)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    zero = np.zeros((N_EMBD, N_EMBD), dtype=np.float32)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{name}.weight", zero)
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    for name in ("ffn_gate", "ffn_up", "ffn_down"):
        writer.add_tensor(f"blk.0.{name}.weight", np.zeros((N_FF, N_EMBD), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    prompt = [bos] + prompt_ids
    text = gdr.continuation(sp.decode(prompt + generated), sp.decode(prompt))
    (DATA / "spm-tiny-model.json").write_text(json.dumps({
        "generator": "scripts/gen-spm-tiny-model.py",
        "prompt_text": PROMPT,
        "prompt": prompt,
        "generated": generated,
        "text": text,
    }, ensure_ascii=True, indent=1) + "\n")
    print(f"wrote {path.name} ({path.stat().st_size} bytes): {PROMPT!r} -> {text!r}, "
          f"{len(generated)} tokens then EOS")


if __name__ == "__main__":
    main()
