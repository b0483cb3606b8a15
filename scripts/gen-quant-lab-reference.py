#!/usr/bin/env python3
"""The quantization lab's figures (perplexity, KL divergence, top-1 agreement) computed with
numpy from llama.cpp's logits, as llama-perplexity --kl-divergence computes them, for
tests/engine/tst_quant_lab.cpp and the cross-check in docs/QUANTIZATION.md.

    LLAMA_CPP_LIB_PATH=/tmp/dense-llama-avx2/bin /work/main/.venv/bin/python \\
        scripts/gen-quant-lab-reference.py            # writes tests/data/quant_lab/llama_f16.json
    LLAMA_CPP_LIB_PATH=... python scripts/gen-quant-lab-reference.py --cross-check \\
        --model REF.gguf --text FILE --ctx 128 --chunks 4 CANDIDATE.gguf ...

The test reference: tests/data/arch/llama_f16.gguf (random weights, F16 matrices) quantized by
llama.cpp's llama_model_quantize to each of TYPES (byte-identical to Hearth's quantizer, see
tst_quantize), scored on random tokens in windows of N_CTX. The cross-check prints the same
figures for real files and a text, to set beside `hearth-cli quant-lab --json`.

llama-perplexity's definitions (tools/perplexity/perplexity.cpp): windows of n_ctx tokens (BOS
replacing the first when the model adds BOS), positions [n_ctx/2, n_ctx-1) scored; the
reference's log-probabilities stored as 16-bit steps over the 16 nats below its top; KL summed
over the tokens above that floor; the percentiles interpolated between ranks.
"""
import argparse
import ctypes
import json
import pathlib
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "quant_lab"
MODEL = ROOT / "tests" / "data" / "arch" / "llama_f16.gguf"
TYPES = {"Q8_0": 7, "Q5_1": 9, "Q4_0": 2}  # llama_ftype values
N_CTX = 64
N_WINDOWS = 6
SEED = 23


def quantize(src: pathlib.Path, dst: pathlib.Path, ftype: int):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    params.allow_requantize = True
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params)):
        raise RuntimeError(f"llama_model_quantize failed on {src}")


def window_logits(path: pathlib.Path, windows: list[list[int]], n_ctx: int) -> np.ndarray:
    """(n_windows, n_ctx, n_vocab) float32: each window run from an empty cache."""
    from llama_cpp import Llama
    llm = Llama(model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx,
                logits_all=True, flash_attn=False, n_threads=2, verbose=False)
    out = []
    for window in windows:
        llm.reset()
        llm.eval(window)
        out.append(np.array(llm.scores[:n_ctx], dtype=np.float32))
    del llm
    return np.stack(out)


def compress(logits: np.ndarray):
    """llama-perplexity's log_softmax(.., uint16_t* log_prob, ..), row by row."""
    f32 = np.float32
    mx = logits.max(axis=-1, keepdims=True)
    mn = np.maximum(logits.min(axis=-1, keepdims=True), mx - f32(16))
    sum_exp = np.exp(logits - mx).astype(np.float64).sum(axis=-1, keepdims=True)
    lse = np.log(sum_exp).astype(f32)
    min_log_prob = (mn - mx - lse).astype(f32)
    scale = ((mx - mn) / f32(65535)).astype(f32)
    inv = (f32(1) / scale).astype(f32)
    q = np.where(logits > mn, np.rint((inv * (logits - mn)).astype(f32)), 0).astype(np.uint16)
    return scale, min_log_prob, q


def figures(ref_logits: np.ndarray, logits: np.ndarray, next_tokens: np.ndarray) -> dict:
    """ref_logits, logits: (n, n_vocab) of the scored positions; next_tokens: (n,)."""
    f32 = np.float32
    scale, min_log_prob, q = compress(ref_logits)
    log_p_base = (scale * q.astype(f32) + min_log_prob).astype(f32)
    mx = logits.max(axis=-1, keepdims=True)
    sum_exp = np.exp(logits - mx).astype(np.float64).sum(axis=-1, keepdims=True)
    lse = np.log(sum_exp).astype(f32)
    rows = np.arange(len(next_tokens))
    nll = (mx[:, 0] + lse[:, 0] - logits[rows, next_tokens]).astype(f32)
    nll_base = -log_p_base[rows, next_tokens]
    norm = (mx + lse).astype(f32)
    terms = np.exp(log_p_base) * (log_p_base - logits + norm)
    kld = np.where(log_p_base > f32(-16), terms, 0).astype(np.float64).sum(axis=-1)
    same_top = logits.argmax(axis=-1) == log_p_base.argmax(axis=-1)
    values = np.sort(kld.astype(f32))

    def percentile(fraction):
        p = f32(fraction) * f32(len(values) - 1)
        i = int(p)
        p = p - f32(i)
        return float((1 - p) * values[i] + p * values[min(i + 1, len(values) - 1)])

    n = len(values)
    median = 0.5 * (values[n // 2] + values[n // 2 - 1]) if n % 2 == 0 else values[n // 2]
    return {
        "count": n,
        "perplexity": float(np.exp(nll.astype(np.float64).mean())),
        "reference_perplexity": float(np.exp(nll_base.astype(np.float64).mean())),
        "mean_kld": float(kld.mean()),
        "median_kld": float(median),
        "p99_kld": percentile(0.99),
        "max_kld": float(values[-1]),
        "same_top": float(same_top.mean()),
    }


def scored(all_logits: np.ndarray, windows: list[list[int]], n_ctx: int):
    first = n_ctx // 2
    logits = all_logits[:, first:n_ctx - 1, :].reshape(-1, all_logits.shape[-1])
    next_tokens = np.array([w[i + 1] for w in windows for i in range(first, n_ctx - 1)])
    return logits, next_tokens


def exact_perplexity(logits: np.ndarray, next_tokens: np.ndarray) -> float:
    mx = logits.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(logits - mx).astype(np.float64).sum(axis=-1))
    nll = mx[:, 0] + lse - logits[np.arange(len(next_tokens)), next_tokens]
    return float(np.exp(nll.mean()))


def make_windows(tokens: list[int], n_ctx: int, n_windows: int, bos) -> list[list[int]]:
    windows = [tokens[w * n_ctx:(w + 1) * n_ctx] for w in range(min(n_windows, len(tokens) // n_ctx))]
    if bos is not None:
        for w in windows:
            w[0] = bos
    return windows


def test_reference():
    rng = np.random.default_rng(SEED)
    n_vocab = json.loads((ROOT / "tests/data/arch/index.json").read_text())["n_vocab"]
    tokens = [int(t) for t in rng.integers(0, n_vocab, N_CTX * N_WINDOWS)]
    windows = make_windows(tokens, N_CTX, N_WINDOWS, None)  # llama_f16 does not add BOS
    ref = window_logits(MODEL, windows, N_CTX)
    ref_scored, next_tokens = scored(ref, windows, N_CTX)
    result = {"model": "arch/llama_f16.gguf", "n_ctx": N_CTX, "tokens": tokens,
              "reference_perplexity_exact": exact_perplexity(ref_scored, next_tokens),
              "types": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ftype in TYPES.items():
            path = pathlib.Path(tmp) / f"llama_f16.{name}.gguf"
            quantize(MODEL, path, ftype)
            logits, _ = scored(window_logits(path, windows, N_CTX), windows, N_CTX)
            result["types"][name] = figures(ref_scored, logits, next_tokens)
            result["types"][name]["file_bytes"] = path.stat().st_size
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "llama_f16.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["types"], indent=1))


def cross_check(args):
    from llama_cpp import Llama
    llm = Llama(model_path=str(args.model), n_ctx=args.ctx, vocab_only=True, verbose=False)
    text = pathlib.Path(args.text).read_bytes()
    tokens = llm.tokenize(text, add_bos=True, special=False)
    bos = llm.token_bos() if llm._model.add_bos_token() else None
    del llm
    windows = make_windows(tokens, args.ctx, args.chunks, bos)
    ref_scored, next_tokens = scored(window_logits(args.model, windows, args.ctx), windows, args.ctx)
    out = {"reference_perplexity_exact": exact_perplexity(ref_scored, next_tokens), "candidates": {}}
    for path in args.candidates:
        logits, _ = scored(window_logits(path, windows, args.ctx), windows, args.ctx)
        out["candidates"][pathlib.Path(path).name] = figures(ref_scored, logits, next_tokens)
    print(json.dumps(out, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cross-check", action="store_true")
    parser.add_argument("--model")
    parser.add_argument("--text")
    parser.add_argument("--ctx", type=int, default=512)
    parser.add_argument("--chunks", type=int, default=1 << 30)
    parser.add_argument("candidates", nargs="*")
    args = parser.parse_args()
    if args.cross_check:
        cross_check(args)
    else:
        test_reference()


if __name__ == "__main__":
    sys.exit(main())
