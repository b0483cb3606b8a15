#!/usr/bin/env python3
"""Checks that a llama.cpp build runs GGUF files correctly: the logits of a short prompt (one
batch, every position) from the build in --lib against those from --reference (default: the
library llama-cpp-python ships, in .venv the AVX2-only build). Each build runs in its own
process, since llama-cpp-python loads its library once, at import, from LLAMA_CPP_LIB_PATH.

    .venv/bin/python bench/check_llama_lib.py --lib /path/to/llama-native/build-0.3.36/bin \\
        [--no-extra-buffers] [--threads 2] MODEL.gguf ...

Prints, per file, the largest difference of a logit against the largest reference logit, the
RMS difference, the first position whose logits differ (the weight matmuls treat every position
alike, so a difference that starts at a later position points at attention over more keys
rather than at a weight kernel), the positions whose top token agrees, and the weight buffers the checked build
loaded (CPU_REPACK: its 8-row repacking; AMX: its AMX kernels); fails (exit 1) when a build crashes
or a file's difference passes --tolerance. A crash (a signal) is reported as such."""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import numpy as np


def run_logits(path, n_tokens, threads, extra_buffers, out):
    """In the child process: the logits of every position of one batch, saved to out."""
    import llama_cpp

    llama_cpp.llama_backend_init()
    mparams = llama_cpp.llama_model_default_params()
    mparams.use_extra_bufts = extra_buffers
    model = llama_cpp.llama_model_load_from_file(path.encode(), mparams)
    if not model:
        raise RuntimeError(f"cannot load {path}")
    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx = n_tokens + 16
    cparams.n_batch = cparams.n_ubatch = n_tokens
    cparams.n_threads = cparams.n_threads_batch = threads
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    rng = np.random.default_rng(1234)
    tokens = [1] + rng.integers(0, n_vocab, n_tokens - 1).tolist()
    batch = llama_cpp.llama_batch_init(n_tokens, 0, 1)
    for i, tok in enumerate(tokens):
        batch.token[i] = tok
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = True
    batch.n_tokens = n_tokens
    rc = llama_cpp.llama_decode(ctx, batch)
    if rc != 0:
        raise RuntimeError(f"llama_decode failed: {rc}")
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(ctx), shape=(n_tokens * n_vocab,))
    np.save(out, logits.reshape(n_tokens, n_vocab).copy())
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)


def logits_of(lib, path, args, workdir, name):
    """Runs one build on one file in a child process; returns its logits (None if it failed),
    why it failed, and the weight buffers llama.cpp's load log names (CPU, CPU_REPACK, AMX)."""
    env = dict(os.environ)
    env.pop("LLAMA_CPP_LIB_PATH", None)
    if lib:
        env["LLAMA_CPP_LIB_PATH"] = lib
    out = pathlib.Path(workdir) / f"{name}.npy"
    cmd = [sys.executable, __file__, "--child", str(out), "--tokens", str(args.tokens),
           "--threads", str(args.threads)]
    if args.no_extra_buffers:
        cmd.append("--no-extra-buffers")
    result = subprocess.run(cmd + [path], env=env, capture_output=True, text=True)
    buffers = ", ".join(m.group(1) + " " + m.group(2) for m in re.finditer(
        r"(\S+) model buffer size = +([0-9.]+ MiB)", result.stderr))
    if result.returncode < 0:
        return None, f"killed by signal {-result.returncode}", buffers
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1:]
        return None, f"exit {result.returncode}: {last}", buffers
    return np.load(out), "", buffers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", help="folder of the build to check (libllama.so)")
    parser.add_argument("--reference", default="",
                        help="folder of the reference build (default: llama-cpp-python's own)")
    parser.add_argument("--no-extra-buffers", action="store_true",
                        help="load without llama.cpp's extra buffer types (repacking, AMX)")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.1,
                        help="largest allowed |difference| / largest |reference logit| (the "
                             "random-weight bench files amplify rounding: AVX-512 against AVX2 "
                             "reaches 0.08 on Q8_0)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    if args.child:
        run_logits(args.models[0], args.tokens, args.threads, not args.no_extra_buffers,
                   args.child)
        return 0
    if not args.lib:
        parser.error("--lib is required")
    failed = False
    print("| model | max abs diff / max abs logit | RMS diff | first position that differs "
          "| top-1 agrees | weights (--lib) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for i, path in enumerate(args.models):
            name = os.path.basename(path)
            ref, why_ref, _ = logits_of(args.reference, path, args, workdir, f"ref{i}")
            got, why_got, buffers = logits_of(args.lib, path, args, workdir, f"lib{i}")
            if ref is None or got is None:
                print(f"| {name} | reference: {why_ref or 'ok'}; build: {why_got or 'ok'} | | | | "
                      f"{buffers} |", flush=True)
                failed = True
                continue
            diff = np.abs(got - ref)
            rel = float(diff.max() / np.abs(ref).max())
            rms = float(np.sqrt(np.mean((got - ref) ** 2)))
            top = int(np.sum(got.argmax(axis=1) == ref.argmax(axis=1)))
            differs = np.flatnonzero(diff.max(axis=1) > 0)
            first = str(differs[0]) if len(differs) else "none"
            bad = not np.isfinite(got).all() or rel > args.tolerance
            failed |= bad
            print(f"| {name} | {rel:.2e}{' FAIL' if bad else ''} | {rms:.3e} | {first} | "
                  f"{top}/{len(ref)} | {buffers} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
