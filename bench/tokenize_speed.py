#!/usr/bin/env python3
"""Tokenizer speed: encoding 1 MiB of English with the SmolLM2 tokenizer, Hugging Face
`tokenizers` against Hearth (`hearth-cli tokenize --file F --ids --time`), on the same text.

Usage:
  .venv/bin/python bench/tokenize_speed.py \
      --model ~/.local/share/hearth/models/SmolLM2-135M-Instruct.Q4_1.gguf \
      --cli build/tools/hearth-cli [--repeat 5]

The text is the licence texts Debian ships in /usr/share/common-licenses (GPL-3, GPL-2,
LGPL-3, Apache-2.0, Artistic) repeated to 1 MiB, as tst_tokenizer's speed check builds it.
The Hugging Face tokenizer is the one scripts/gen-tokenizer-reference.py builds (same
vocabulary, merges and pre-tokenizer); one encode() call of the whole text, best of --repeat.
Both figures count encoding only (not loading the vocabulary).
"""
import argparse
import importlib.util
import pathlib
import re
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def english_megabyte():
    seed = b""
    for name in ["GPL-3", "GPL-2", "LGPL-3", "Apache-2.0", "Artistic"]:
        path = pathlib.Path("/usr/share/common-licenses") / name
        if path.exists():
            seed += path.read_bytes()
    text = (seed * (2 ** 20 // len(seed) + 1))[: 2 ** 20]
    while text and (text[-1] & 0xC0) == 0x80:
        text = text[:-1]
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=pathlib.Path, required=True)
    ap.add_argument("--cli", type=pathlib.Path, default=ROOT / "build/tools/hearth-cli")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    spec = importlib.util.spec_from_file_location("ref", ROOT / "scripts/gen-tokenizer-reference.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    tok, _ = ref.smollm2_tokenizer(ref.read_tokenizer_metadata(args.model))

    data = english_megabyte()
    text = data.decode("utf-8")
    hf_best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        hf_ids = tok.encode(text, add_special_tokens=False).ids
        hf_best = min(hf_best, time.perf_counter() - start)

    hearth_best = float("inf")
    with tempfile.NamedTemporaryFile(suffix=".txt") as f:
        f.write(data)
        f.flush()
        for _ in range(args.repeat):
            run = subprocess.run([str(args.cli), "tokenize", str(args.model), "--file", f.name, "--ids",
                                  "--no-add-special", "--time"], capture_output=True, check=True, text=True)
            seconds = float(re.search(r"in ([0-9.]+) s", run.stderr).group(1))
            hearth_best = min(hearth_best, seconds)
            hearth_ids = [int(x) for x in run.stdout.strip()[1:-1].split(",")]

    mb = len(data) / 1e6
    print(f"text: {len(data)} bytes, {len(hf_ids)} tokens; identical ids: {hf_ids == hearth_ids}")
    print(f"Hugging Face tokenizers: {hf_best:.3f} s ({mb / hf_best:.2f} MB/s)")
    print(f"Hearth:                  {hearth_best:.3f} s ({mb / hearth_best:.2f} MB/s)")


if __name__ == "__main__":
    main()
