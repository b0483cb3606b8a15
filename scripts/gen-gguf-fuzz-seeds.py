#!/usr/bin/env python3
"""Small GGUF models, the seeds of the GGUF fuzzer (scripts/fuzz gguf; docs/FUZZING.md).

    .venv/bin/python scripts/gen-gguf-fuzz-seeds.py

Writes into tests/fuzz/gguf_seeds/ (as small_NAME.gguf: scripts/fuzz copies every seed into
one folder, beside tests/data/arch/NAME.gguf) one model per architecture feature of
scripts/gen-arch-reference.py, made as small as they can be (n_embd 32, 2 heads, one or two
layers, Q4_0 or Q8_0 matrices) so that libFuzzer mutates headers and metadata rather than weight
bytes; a llama model with a SentencePiece vocabulary (byte fallback, scores); and a split
model: llama in three parts joined by the fuzz input's part separator (gguf_fuzz_input.h).
The weights are drawn with fixed seeds, so the files are the same on every run.
"""
import importlib.util
import pathlib
import tempfile

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fuzz" / "gguf_seeds"
PART_SEPARATOR = b"HEARTH-GGUF-PART"  # kGgufPartSeparator in tests/fuzz/gguf_fuzz_input.h

spec_loader = importlib.util.spec_from_file_location(
    "arch_reference", ROOT / "scripts" / "gen-arch-reference.py")
arch = importlib.util.module_from_spec(spec_loader)
spec_loader.loader.exec_module(arch)
# Smaller than the architecture tests' models: write_model reads these at call time.
arch.N_EMBD = 32
arch.N_FF = 64
arch.N_HEAD = 2

SEEDS = [
    dict(name="llama", arch="llama", n_layer=1, n_head_kv=1, tied=False, wtype=QT.Q4_0),
    dict(name="llama_yarn", arch="llama", n_layer=1, n_head_kv=2, tied=True, wtype=QT.Q8_0,
         rope_scaling=("yarn", 4.0)),
    dict(name="llama_rope_freqs", arch="llama", n_layer=1, n_head_kv=1, tied=True,
         wtype=QT.Q4_0, rope_freqs=True),
    dict(name="qwen2", arch="qwen2", n_layer=1, n_head_kv=1, tied=True, wtype=QT.Q4_0,
         qkv_bias=True, rope_base=1000000.0),
    dict(name="qwen3", arch="qwen3", n_layer=1, n_head_kv=1, head_dim=32, tied=True,
         wtype=QT.Q4_0, qk_norm=True, rope_base=1000000.0),
    dict(name="gemma3", arch="gemma3", n_layer=2, n_head_kv=1, head_dim=32, tied=True,
         wtype=QT.Q4_0, qk_norm=True, post_norms=True, rope_base=1000000.0,
         rope_scaling=("linear", 8.0), sliding_window=8, rope_base_swa=20000.0),
]


def copy_fields(reader: gguf.GGUFReader, writer: gguf.GGUFWriter, skip=()):
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == gguf.Keys.General.ARCHITECTURE:
            continue
        if field.name in skip:
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)


def write_spm_model(source: pathlib.Path, path: pathlib.Path):
    """`source` with a SentencePiece vocabulary of the same size: control tokens, the 256
    byte-fallback tokens and a few pieces with scores."""
    reader = gguf.GGUFReader(source)
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + \
        [gguf.TokenType.BYTE] * 256
    pieces = ["▁", "▁t", "he", "▁the", "in", "▁a", "er", "on", "▁w"]
    tokens += pieces[: n_vocab - len(tokens)]
    types += [gguf.TokenType.NORMAL] * (n_vocab - len(types))
    scores = [0.0] * 259 + [-float(i) for i in range(len(tokens) - 259)]
    writer = gguf.GGUFWriter(path, reader.fields["general.architecture"].contents())
    copy_fields(reader, writer, skip={
        "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
        "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id",
        "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token"})
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types([int(t) for t in types])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_split_seed(source: pathlib.Path, path: pathlib.Path, n_parts: int = 3):
    """`source` split by gguf-py in `n_parts`, the parts joined by the part separator."""
    reader = gguf.GGUFReader(source)
    with tempfile.TemporaryDirectory() as tmp:
        per_part = -(-len(reader.tensors) // n_parts)
        writer = gguf.GGUFWriter(pathlib.Path(tmp) / "m.gguf",
                                 reader.fields["general.architecture"].contents(),
                                 split_max_tensors=per_part)
        copy_fields(reader, writer)
        for tensor in reader.tensors:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        parts = sorted(pathlib.Path(tmp).glob("m-*-of-*.gguf"))
        assert len(parts) == n_parts, parts
        path.write_bytes(PART_SEPARATOR.join(p.read_bytes() for p in parts))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.gguf"):
        old.unlink()
    for i, spec in enumerate(SEEDS):
        arch.write_model(spec, OUT / f"small_{spec['name']}.gguf",
                         np.random.default_rng(4321 + i))
    write_spm_model(OUT / "small_llama.gguf", OUT / "small_llama_spm.gguf")
    write_split_seed(OUT / "small_llama.gguf", OUT / "small_llama_split3.gguf")
    for path in sorted(OUT.glob("*.gguf")):
        print(f"{path.name:22} {path.stat().st_size:7} bytes")


if __name__ == "__main__":
    main()
