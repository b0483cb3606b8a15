#!/usr/bin/env python3
"""Load time (issue 22): `hearth-cli run MODEL -p hi -n 1`, a whole process from exec to exit,
against llama.cpp doing the same work through llama-cpp-python's low-level API in a fresh
process (load the model, create a context of the same length, decode the same prompt, pick one
token, free). The two alternate, N runs each after one warm-up run each (the page cache warm);
prints the median and spread of the wall times, the median CPU time (user + system: on a loaded
machine the steadier figure) and the peak resident memory against the file's size. Point llama-cpp-python at the AVX2 build:

    LLAMA_CPP_LIB_PATH=/tmp/dense-llama-avx2/bin /work/main/.venv/bin/python \\
        bench/load_time.py MODEL [MODEL...] --hearth-cli build/tools/hearth-cli [--runs 11]

The prompt llama.cpp decodes is the one Hearth rendered (the model's chat template around "hi",
taken from `--show-prompt`), tokenized with special tokens parsed, so both prefill the same
tokens. llama.cpp's time is measured inside its process from before llama_backend_init to after
llama_model_free: the Python interpreter's start and the import of llama_cpp are left out, so
its figure is a lower bound; its peak memory includes the interpreter's (about 30 MB).
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

LLAMA_CHILD = r"""
import ctypes, sys, time
t0 = time.perf_counter()
import llama_cpp
t_import = time.perf_counter()
path, prompt, threads = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])

@llama_cpp.llama_log_callback
def quiet(level, text, user_data):
    pass

llama_cpp.llama_log_set(quiet, ctypes.c_void_p())
t_start = time.perf_counter()
cpu_start = time.process_time()
llama_cpp.llama_backend_init()
model = llama_cpp.llama_model_load_from_file(path.encode(), llama_cpp.llama_model_default_params())
if not model:
    sys.exit("llama.cpp could not load " + path)
vocab = llama_cpp.llama_model_get_vocab(model)
cparams = llama_cpp.llama_context_default_params()
cparams.n_ctx = min(4096, llama_cpp.llama_model_n_ctx_train(model))  # Hearth's default context
cparams.n_batch = 512
cparams.n_threads = threads
cparams.n_threads_batch = threads
ctx = llama_cpp.llama_init_from_model(model, cparams)
buf = (llama_cpp.llama_token * (len(prompt) + 8))()
n = llama_cpp.llama_tokenize(vocab, prompt, len(prompt), buf, len(buf), True, True)
batch = llama_cpp.llama_batch_init(n, 0, 1)
for i in range(n):
    batch.token[i] = buf[i]
    batch.pos[i] = i
    batch.n_seq_id[i] = 1
    batch.seq_id[i][0] = 0
    batch.logits[i] = i == n - 1
batch.n_tokens = n
if llama_cpp.llama_decode(ctx, batch) != 0:
    sys.exit("llama_decode failed")
logits = llama_cpp.llama_get_logits_ith(ctx, n - 1)
n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
best = max(range(n_vocab), key=lambda t: logits[t])
llama_cpp.llama_batch_free(batch)
llama_cpp.llama_free(ctx)
llama_cpp.llama_model_free(model)
t_end = time.perf_counter()
cpu = time.process_time() - cpu_start
print(f"{n} {best} {t_end - t_start:.6f} {cpu:.6f}")
"""


def run_with_rusage(argv, env=None):
    """Runs argv with fork/exec and wait4: (wall s, CPU s (user + system), peak RSS bytes,
    stdout text)."""
    read_fd, write_fd = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(write_fd, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(read_fd)
        try:
            os.execvpe(argv[0], argv, env if env is not None else os.environ)
        finally:
            os._exit(127)
    os.close(write_fd)
    chunks = []
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} exited with {os.waitstatus_to_exitcode(status)}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss * 1024, b"".join(chunks).decode(errors="replace")


def rendered_prompt(cli, model, prompt):
    """The text Hearth's run prefills: --show-prompt prints it on stderr before the device line."""
    err = subprocess.run([cli, "run", model, "-p", prompt, "-n", "1", "--show-prompt"],
                         capture_output=True, text=True, check=True).stderr
    return err[: err.rfind("device: ")]


def summary(values):
    values = sorted(values)
    return statistics.median(values), values[0], values[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--hearth-cli", default="build/tools/hearth-cli")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--prompt", default="hi")
    parser.add_argument("--no-llama", action="store_true", help="time Hearth alone")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {args.threads} threads, {args.runs} runs\n")
    print("| model | file | Hearth wall, median (min–max) | Hearth CPU | Hearth peak RSS | "
          "llama.cpp wall, median (min–max) | llama.cpp CPU | llama.cpp peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models:
        size = pathlib.Path(model).stat().st_size
        hearth_argv = [args.hearth_cli, "run", model, "-p", args.prompt, "-n", "1",
                       "-t", str(args.threads)]
        llama_argv = None
        if not args.no_llama:
            text = rendered_prompt(args.hearth_cli, model, args.prompt)
            llama_argv = [sys.executable, "-c", LLAMA_CHILD, model, text, str(args.threads)]
        hearth, llama = [], []
        for rep in range(args.runs + 1):  # the first of each is a warm-up, not counted
            wall, cpu, rss, _ = run_with_rusage(hearth_argv)
            if rep > 0:
                hearth.append((wall, cpu, rss))
            if llama_argv:
                _, _, rss, out = run_with_rusage(llama_argv)
                if rep > 0:
                    fields = out.split()
                    llama.append((float(fields[-2]), float(fields[-1]), rss))
        row = f"| {pathlib.Path(model).name} | {size / 2**20:.0f} MiB |"
        for runs in (hearth, llama):
            if not runs:
                row += " – | – | – |"
                continue
            med, low, high = summary([w for w, _, _ in runs])
            row += (f" {med * 1e3:.0f} ms ({low * 1e3:.0f}–{high * 1e3:.0f}) |"
                    f" {statistics.median(c for _, c, _ in runs) * 1e3:.0f} ms |"
                    f" {max(r for _, _, r in runs) / 2**20:.0f} MiB |")
        print(row, flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
