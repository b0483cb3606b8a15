#!/usr/bin/env python3
"""Runs hearth-bench and llama.cpp (llama-cpp-python's low-level API, timed as llama-bench
times it: pp = one batch of p tokens on an empty cache, tg = n single-token decodes; with -d,
after d tokens already in the cache, filled untimed and cut back to d before each run)
alternately on each model, and prints tokens/s and the ratios as a Markdown table.

llama.cpp is the library llama-cpp-python loads: its own (in .venv, built for AVX2 only), or the
build in --llama-lib DIR (or LLAMA_CPP_LIB_PATH), e.g. the native one bench/build-llama-native
makes. The first line names the library and the CPU features it uses."""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import time

llama_cpp = None  # imported in main(), once LLAMA_CPP_LIB_PATH is set


def llama_cpp_bench(path, n_prompt, n_gen, reps, threads, extra_buffers=True, depth=0):
    llama_cpp.llama_backend_init()
    mparams = llama_cpp.llama_model_default_params()
    mparams.use_extra_bufts = extra_buffers
    model = llama_cpp.llama_model_load_from_file(path.encode(), mparams)
    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx = depth + max(n_prompt, n_gen) + 16
    cparams.n_batch = max(n_prompt, 1)
    cparams.n_ubatch = max(n_prompt, 1)
    cparams.n_threads = threads
    cparams.n_threads_batch = threads
    cparams.flash_attn_type = 0 if hasattr(cparams, "flash_attn_type") else None
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    mem = llama_cpp.llama_get_memory(ctx)
    rng = random.Random(1234)

    def decode(tokens, pos):
        batch = llama_cpp.llama_batch_init(len(tokens), 0, 1)
        for i, tok in enumerate(tokens):
            batch.token[i] = tok
            batch.pos[i] = pos + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = i == len(tokens) - 1
        batch.n_tokens = len(tokens)
        rc = llama_cpp.llama_decode(ctx, batch)
        llama_cpp.llama_batch_free(batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed: {rc}")

    def to_depth():
        if depth == 0:
            llama_cpp.llama_memory_clear(mem, True)
            return
        if llama_cpp.llama_memory_seq_pos_max(mem, 0) + 1 < depth:
            llama_cpp.llama_memory_clear(mem, True)
            context = [1] + [rng.randrange(n_vocab) for _ in range(depth - 1)]
            for start in range(0, depth, cparams.n_batch):
                decode(context[start:start + cparams.n_batch], start)
        llama_cpp.llama_memory_seq_rm(mem, 0, depth, -1)

    at_depth = f" @ d{depth}" if depth else ""
    out = {}
    if n_prompt > 0:
        samples = []
        for rep in range(reps + 1):
            tokens = [rng.randrange(n_vocab) if depth else 1]
            tokens += [rng.randrange(n_vocab) for _ in range(n_prompt - 1)]
            to_depth()
            t0 = time.perf_counter()
            decode(tokens, depth)
            llama_cpp.llama_synchronize(ctx)
            if rep > 0:
                samples.append(n_prompt / (time.perf_counter() - t0))
        out[f"pp{n_prompt}{at_depth}"] = samples
    if n_gen > 0:
        samples = []
        for rep in range(reps + 1):
            to_depth()
            token = rng.randrange(n_vocab) if depth else 1
            t0 = time.perf_counter()
            for i in range(n_gen):
                decode([token], depth + i)
                token = rng.randrange(n_vocab)
            llama_cpp.llama_synchronize(ctx)
            if rep > 0:
                samples.append(n_gen / (time.perf_counter() - t0))
        out[f"tg{n_gen}{at_depth}"] = samples
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)
    return out


def hearth_bench(binary, path, n_prompt, n_gen, reps, threads, depth=0, numerics="exact"):
    """Returns {test: samples} and the bytes of weights one decoded token reads."""
    env = dict(os.environ, HEARTH_PREFILL=numerics)
    result = subprocess.run([binary, path, "-p", str(n_prompt), "-n", str(n_gen), "-r", str(reps),
                             "-t", str(threads), "-d", str(depth), "--json"],
                            check=True, capture_output=True, text=True, env=env)
    rows = json.loads(result.stdout)
    suffix = "" if numerics == "exact" else f" ({numerics})"
    return ({row["test"] + suffix: row["samples_ts"] for row in rows},
            rows[0]["active_weight_bytes"] if rows else 0)


def read_bandwidth_gbs(binary, path, threads):
    """The streaming read bandwidth hearth-bench measures (a buffer larger than the caches)."""
    result = subprocess.run([binary, path, "-p", "0", "-n", "0", "-t", str(threads)],
                            check=True, capture_output=True, text=True)
    match = re.search(r"host memory read bandwidth: ([0-9.]+) GB/s", result.stdout)
    return float(match.group(1)) if match else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hearth-bench", required=True)
    parser.add_argument("-p", type=int, default=512)
    parser.add_argument("-n", type=int, default=128)
    parser.add_argument("-d", type=int, default=0, help="tokens in the cache before each test")
    parser.add_argument("-r", type=int, default=5)
    parser.add_argument("-t", type=int, default=os.cpu_count())
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument("--llama-lib", metavar="DIR",
                        help="the llama.cpp libraries to load (libllama.so, libggml*.so), e.g. "
                             "bench/build-llama-native's; default LLAMA_CPP_LIB_PATH, else "
                             "llama-cpp-python's own")
    parser.add_argument("--no-extra-buffers", action="store_true",
                        help="llama.cpp without its extra buffer types: AMX and, on x86, the "
                             "8-row repacking of Q4_0, Q4_K and IQ4_NL")
    parser.add_argument("--fast-prefill", action="store_true",
                        help="also run Hearth's prompt tests with HEARTH_PREFILL=fast (int8)")
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    if args.llama_lib:
        os.environ["LLAMA_CPP_LIB_PATH"] = os.path.abspath(args.llama_lib)
    global llama_cpp
    import llama_cpp
    lib = os.environ.get("LLAMA_CPP_LIB_PATH") or "llama-cpp-python's own"
    features = llama_cpp.llama_print_system_info().decode().strip()
    buffers = ", without extra buffers" if args.no_extra_buffers else ""
    print(f"llama.cpp: {lib}{buffers}: `{features}`")
    print()
    rows = []
    print(f"| model | test | Hearth t/s | llama.cpp t/s | Hearth / llama.cpp |")
    print(f"|---|---|---|---|---|")
    for path in args.models:
        # Alternate: Hearth, llama.cpp, Hearth, llama.cpp — so drift hits both alike.
        ours, theirs = {}, {}
        for _ in range(2):
            samples, active_bytes = hearth_bench(args.hearth_bench, path, args.p, args.n, args.r,
                                                 args.t, args.d)
            if args.fast_prefill and args.p > 0:
                fast, _ = hearth_bench(args.hearth_bench, path, args.p, 0, args.r, args.t, args.d,
                                       "fast")
                samples.update(fast)
            for k, v in samples.items():
                ours.setdefault(k, []).extend(v)
            for k, v in llama_cpp_bench(path, args.p, args.n, args.r, args.t,
                                        not args.no_extra_buffers, args.d).items():
                theirs.setdefault(k, []).extend(v)
        bandwidth = read_bandwidth_gbs(args.hearth_bench, path, args.t)
        name = os.path.basename(path)
        for test in ours:
            base = test.split(" (")[0]
            a, b = statistics.mean(ours[test]), statistics.mean(theirs[base])
            sa, sb = statistics.stdev(ours[test]), statistics.stdev(theirs[base])
            print(f"| {name} | {test} | {a:.2f} ± {sa:.2f} | {b:.2f} ± {sb:.2f} | {a / b:.2f} |", flush=True)
            row = {"model": name, "test": test, "hearth": ours[test], "llama_cpp": theirs[base]}
            if base.startswith("tg") and bandwidth:
                # Decode reads every active weight once per token: its rate against the
                # streaming read bandwidth measured on the same machine in the same run.
                read_gbs = active_bytes * a / 1e9
                print(f"|  | {test}: weights read | {read_gbs:.1f} GB/s | of {bandwidth:.1f} GB/s "
                      f"measured | {read_gbs / bandwidth:.0%} |", flush=True)
                row.update(read_gbs=read_gbs, bandwidth_gbs=bandwidth)
            rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
