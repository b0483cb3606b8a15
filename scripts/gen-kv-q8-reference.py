#!/usr/bin/env python3
"""Reference outputs from llama.cpp (llama-cpp-python) with a Q8_0 KV cache on the default
model, for tests/engine/tst_kv_cache.cpp.

    .venv/bin/python scripts/gen-kv-q8-reference.py

llama.cpp accepts a quantized V cache only with flash attention, so these runs use
type_k = type_v = q8_0 and flash_attn = True (Hearth's Q8_0 cache follows that kernel);
the F16 figures use flash_attn = False, as Hearth's F16 path. Writes
tests/data/generation/smollm2_kv_q8_0.json: perplexity over the first windows of
genesis.txt with both caches, and greedy generations with the Q8_0 cache (prompt tokens,
generated tokens, the top-2 logit gap at each step).
"""
import json
import os
import pathlib
import sys

import numpy as np
from llama_cpp import Llama

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "generation"
N_GENERATE = 24
PPL_CTX = 256
PPL_CHUNKS = 3
GGML_TYPE_Q8_0 = 8

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):",
    "<|im_start|>user\nWhat is the boiling point of water?<|im_end|>\n<|im_start|>assistant\n",
    "1, 1, 2, 3, 5, 8,",
    "The three primary colours are",
]


def default_model() -> pathlib.Path:
    if os.environ.get("HEARTH_TEST_MODEL"):
        return pathlib.Path(os.environ["HEARTH_TEST_MODEL"])
    base = os.environ.get("HEARTH_MODELS_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "hearth", "models")
    return pathlib.Path(base) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def top2_gap(logits: np.ndarray) -> float:
    top = np.partition(logits, -2)[-2:]
    return float(abs(top[1] - top[0]))


def greedy(llm: Llama, prompt: str) -> dict:
    tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
    llm.reset()
    llm.eval(tokens)
    generated, gaps = [], []
    for _ in range(N_GENERATE):
        logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        token = int(np.argmax(logits))
        gaps.append(top2_gap(logits))
        generated.append(token)
        llm.eval([token])
    return {"prompt": prompt, "prompt_tokens": tokens, "generated": generated, "top2_gap": gaps}


def perplexity(llm: Llama, tokens: list) -> float:
    first = PPL_CTX // 2
    nll, count = 0.0, 0
    for chunk in range(PPL_CHUNKS):
        window = tokens[chunk * PPL_CTX:(chunk + 1) * PPL_CTX]
        llm.reset()
        llm.eval(window)
        logits = np.asarray(llm.scores[:PPL_CTX], dtype=np.float64)
        for i in range(first, PPL_CTX - 1):
            row = logits[i]
            m = row.max()
            nll -= row[window[i + 1]] - m - np.log(np.exp(row - m).sum())
            count += 1
    return float(np.exp(nll / count))


def main() -> None:
    model = default_model()
    if not model.exists():
        sys.exit(f"{model} not found: run scripts/fetch-default-model first")
    common = dict(model_path=str(model), n_ctx=PPL_CTX, n_batch=PPL_CTX,
                  n_threads=os.cpu_count(), logits_all=True, verbose=False, seed=0)
    text = (OUT / "genesis.txt").read_text()
    f16 = Llama(flash_attn=False, **common)
    tokens = f16.tokenize(text.encode(), add_bos=True, special=False)[:PPL_CTX * PPL_CHUNKS]
    ppl_f16 = perplexity(f16, tokens)
    del f16
    q8 = Llama(flash_attn=True, type_k=GGML_TYPE_Q8_0, type_v=GGML_TYPE_Q8_0, **common)
    ppl_q8 = perplexity(q8, tokens)
    cases = [greedy(q8, prompt) for prompt in PROMPTS]
    out = {"model": model.name, "text": "genesis.txt", "n_ctx": PPL_CTX, "n_chunks": PPL_CHUNKS,
           "perplexity_f16": ppl_f16, "perplexity_q8_0": ppl_q8, "n_generate": N_GENERATE,
           "cases": cases}
    (OUT / "smollm2_kv_q8_0.json").write_text(json.dumps(out, ensure_ascii=False) + "\n")
    print(f"perplexity f16 {ppl_f16:.4f}, q8_0 {ppl_q8:.4f}; {len(cases)} greedy runs")


if __name__ == "__main__":
    main()
