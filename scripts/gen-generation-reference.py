#!/usr/bin/env python3
"""Reference generations and perplexity from llama.cpp (llama-cpp-python) on the default
model, for tests/engine/tst_generation.cpp.

    .venv/bin/pip install llama-cpp-python    # builds llama.cpp from source (slow)
    .venv/bin/python scripts/gen-generation-reference.py [--greedy-only]

Writes tests/data/generation/smollm2_greedy.json: for each prompt, the prompt's token ids
(llama.cpp's tokenizer, special tokens parsed), the 64 greedy tokens llama.cpp generates,
and at each step the gap between the two largest logits (to tell real disagreements from
near-ties); and smollm2_perplexity.json: llama-perplexity's figure on genesis.txt.
Attention runs without flash attention, with an F16 KV cache, as Hearth's CPU path does.
"""
import json
import os
import pathlib
import sys

import numpy as np
from llama_cpp import Llama

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "generation"
N_GENERATE = 64
PPL_CTX = 512
PPL_TOKENS = 24 * 1024

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):",
    "The three primary colors are",
    "Water boils at a temperature of",
    "In 1969, the first humans to walk on the Moon were",
    "Here is a short poem about autumn:\n",
    "import numpy as np\n\n# compute the mean of an array\n",
    "Q: What is 12 times 12?\nA:",
    "The quick brown fox",
    "Photosynthesis is the process by which",
    "My favourite recipe for pancakes needs",
    "SELECT name, email FROM users WHERE",
    "Les chats sont des animaux",
    "1, 2, 3, 4, 5,",
    "<|im_start|>user\nWhat is the largest planet in the solar system?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nExplain what a CPU cache is in two sentences.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nTranslate 'good morning' into Spanish.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nList three uses of a paperclip.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nHow do I reverse a list in Python?<|im_end|>\n<|im_start|>assistant\n",
    "The history of the Roman Empire begins",
    "Dear hiring manager,\n\nI am writing to apply for",
    "fn main() {\n    let v = vec![1, 2, 3];\n",
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


def greedy_run(llm: Llama, tokens: list, prompt_in_one_batch: bool):
    llm.reset()
    if prompt_in_one_batch:
        llm.eval(tokens)
    else:
        for token in tokens:
            llm.eval([token])
    first_logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float32).copy()
    generated, gaps = [], []
    for _ in range(N_GENERATE):
        logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        token = int(np.argmax(logits))
        gaps.append(top2_gap(logits))
        generated.append(token)
        llm.eval([token])
    return generated, gaps, first_logits


def greedy(llm: Llama, prompt: str) -> dict:
    tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
    generated, gaps, batch_logits = greedy_run(llm, tokens, True)
    # llama.cpp against itself: the prompt fed one token at a time takes other kernels and
    # gives slightly different logits; with 8-bit activations that difference is this
    # model's noise floor, and greedy runs part at near-ties.
    self_generated, _, seq_logits = greedy_run(llm, tokens, False)
    return {"prompt": prompt, "prompt_tokens": tokens, "generated": generated, "top2_gap": gaps,
            "llama_cpp_sequential_prompt": self_generated,
            "llama_cpp_self_max_logit_diff": float(np.abs(batch_logits - seq_logits).max())}


def perplexity(llm: Llama, text: str) -> dict:
    tokens = llm.tokenize(text.encode(), add_bos=True, special=False)[:PPL_TOKENS]
    n_chunks = len(tokens) // PPL_CTX
    first = PPL_CTX // 2
    nll, count = 0.0, 0
    for chunk in range(n_chunks):
        window = tokens[chunk * PPL_CTX:(chunk + 1) * PPL_CTX]
        llm.reset()
        llm.eval(window)
        logits = np.asarray(llm.scores[:PPL_CTX], dtype=np.float64)
        for i in range(first, PPL_CTX - 1):
            row = logits[i]
            m = row.max()
            nll -= row[window[i + 1]] - m - np.log(np.exp(row - m).sum())
            count += 1
    return {"text": "genesis.txt", "n_tokens": len(tokens), "n_ctx": PPL_CTX,
            "n_chunks": n_chunks, "perplexity": float(np.exp(nll / count))}


def main() -> None:
    model = default_model()
    if not model.exists():
        sys.exit(f"{model} not found: run scripts/fetch-default-model first")
    llm = Llama(model_path=str(model), n_ctx=PPL_CTX, n_batch=PPL_CTX, n_threads=os.cpu_count(),
                logits_all=True, flash_attn=False, verbose=False, seed=0)
    cases = [greedy(llm, prompt) for prompt in PROMPTS]
    (OUT / "smollm2_greedy.json").write_text(json.dumps(
        {"model": model.name, "n_generate": N_GENERATE, "cases": cases}, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} greedy generations")
    if "--greedy-only" in sys.argv:
        return
    text = (OUT / "genesis.txt").read_text()
    ppl = perplexity(llm, text)
    (OUT / "smollm2_perplexity.json").write_text(json.dumps(ppl, indent=1) + "\n")
    print(f"perplexity {ppl['perplexity']:.4f} over {ppl['n_chunks']} windows")


if __name__ == "__main__":
    main()
