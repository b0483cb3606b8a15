#!/usr/bin/env python3
"""Concurrent requests: hearth-bench --requests N (the Scheduler, N slots) against llama.cpp
decoding the same N sequences in one batch (llama-cpp-python's low-level llama_batch with N
sequence ids: the prompts in one batch, then one batch of N tokens per step, greedy), the two
engines alternating per N. Prints total generated tokens/s, mean time to first token and
mean latency as a Markdown table. Point llama-cpp-python at the AVX2 build:

    LLAMA_CPP_LIB_PATH=/tmp/dense-llama-avx2/bin /work/main/.venv/bin/python \\
        bench/compare_requests.py MODEL --hearth-bench build/tools/hearth-bench
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import time

import llama_cpp
import numpy as np


def prompt_text(index, n_numbers):
    # tools/bench/bench_requests.cpp's request_prompt_text
    return "".join(f"{1 + 1000 * index + k}, " for k in range(n_numbers))


@llama_cpp.llama_log_callback
def _quiet(level, text, user_data):  # the library's per-graph debug lines would be timed too
    pass


def llama_requests(path, n, n_prompt, n_gen, reps, threads):
    llama_cpp.llama_log_set(_quiet, ctypes.c_void_p())
    llama_cpp.llama_backend_init()
    mparams = llama_cpp.llama_model_default_params()
    model = llama_cpp.llama_model_load_from_file(path.encode(), mparams)
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    prompts = []
    for i in range(n):
        text = prompt_text(i, n_prompt).encode()
        buf = (llama_cpp.llama_token * (len(text) + 8))()
        count = llama_cpp.llama_tokenize(vocab, text, len(text), buf, len(buf), True, False)
        prompts.append(list(buf[: min(count, n_prompt)]))
    per_seq = n_prompt + n_gen + 8
    rates, ttfts, latencies = [], [], []
    for rep in range(reps + 1):
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = per_seq * n
        cparams.n_seq_max = n
        cparams.n_batch = max(512, sum(len(p) for p in prompts))
        cparams.n_ubatch = 512
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        if hasattr(cparams, "flash_attn_type"):
            cparams.flash_attn_type = 0
        ctx = llama_cpp.llama_init_from_model(model, cparams)
        batch = llama_cpp.llama_batch_init(max(cparams.n_batch, n), 0, 1)

        def run(items):  # (token, pos, seq, want_logits)
            for k, (tok, pos, seq, want) in enumerate(items):
                batch.token[k] = tok
                batch.pos[k] = pos
                batch.n_seq_id[k] = 1
                batch.seq_id[k][0] = seq
                batch.logits[k] = want
            batch.n_tokens = len(items)
            if llama_cpp.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")

        def argmax(i):
            ptr = llama_cpp.llama_get_logits_ith(ctx, i)
            return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(n_vocab,))))

        t0 = time.perf_counter()
        items = []
        for s, p in enumerate(prompts):
            items += [(tok, pos, s, pos == len(p) - 1) for pos, tok in enumerate(p)]
        run(items)
        last = [len(p) - 1 for p in prompts]
        rows = [sum(len(p) for p in prompts[: s + 1]) - 1 for s in range(n)]
        nxt = [argmax(r) for r in rows]
        ttft = time.perf_counter() - t0
        for step in range(1, n_gen):
            run([(nxt[s], last[s] + step, s, True) for s in range(n)])
            nxt = [argmax(s) for s in range(n)]
        total = time.perf_counter() - t0
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
        if rep == 0:
            continue
        rates.append(n * n_gen / total)
        ttfts.append(ttft * 1000)
        latencies.append(total * 1000)
    llama_cpp.llama_model_free(model)
    return statistics.mean(rates), statistics.mean(ttfts), statistics.mean(latencies)


def hearth_requests(binary, path, n, n_prompt, n_gen, reps, threads):
    out = subprocess.run([binary, path, "--requests", str(n), "-p", str(n_prompt), "-n",
                          str(n_gen), "-r", str(reps), "-t", str(threads)],
                         capture_output=True, text=True, check=True).stdout
    row = [line for line in out.splitlines() if line.startswith(f"| {n} |")][0]
    cells = [c.strip() for c in row.strip("|").split("|")]
    return float(cells[1]), float(cells[3]), float(cells[4])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--hearth-bench", default="build/tools/hearth-bench")
    ap.add_argument("--requests", default="1,2,4,8")
    ap.add_argument("-p", type=int, default=64)
    ap.add_argument("-n", type=int, default=32)
    ap.add_argument("-r", type=int, default=2)
    ap.add_argument("-t", type=int, default=os.cpu_count())
    a = ap.parse_args()
    print("| requests | Hearth t/s | llama.cpp t/s | ratio | Hearth TTFT / latency ms | "
          "llama.cpp TTFT / latency ms |\n|---|---|---|---|---|---|")
    for n in [int(x) for x in a.requests.split(",")]:
        h = hearth_requests(a.hearth_bench, a.model, n, a.p, a.n, a.r, a.t)
        l = llama_requests(a.model, n, a.p, a.n, a.r, a.t)
        print(f"| {n} | {h[0]:.1f} | {l[0]:.1f} | {h[0] / l[0]:.2f} | {h[1]:.0f} / {h[2]:.0f} | "
              f"{l[1]:.0f} / {l[2]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
