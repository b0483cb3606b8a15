#!/usr/bin/env python3
"""A split model written by gguf-py (llama.cpp's Python GGUF library), for
tests/engine/tst_gguf_split.cpp: tests/data/arch/llama.gguf re-written in three parts by
GGUFWriter's split_max_tensors, as convert_hf_to_gguf.py --split-max-tensors writes them.

    .venv/bin/python scripts/gen-split-reference.py

Writes tests/data/split/llama-0000{1,2,3}-of-00003.gguf: the first part has the model's
metadata, every part the split.no / split.count / split.tensors.count keys and its own
tensor table. The tensor bytes are copied unchanged, so the split model must compute
exactly what the single file computes.
"""
import math
import pathlib

import gguf

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "data" / "arch" / "llama.gguf"
OUT = ROOT / "tests" / "data" / "split"
N_PARTS = 3


def main() -> None:
    reader = gguf.GGUFReader(SOURCE)
    architecture = reader.get_field(gguf.Keys.General.ARCHITECTURE).contents()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("llama-*-of-*.gguf"):
        old.unlink()
    per_part = math.ceil(len(reader.tensors) / N_PARTS)
    writer = gguf.GGUFWriter(OUT / "llama.gguf", architecture, split_max_tensors=per_part)
    for field in reader.fields.values():
        # GGUF.* are the reader's view of the file header; the writer adds the architecture.
        if field.name.startswith("GGUF.") or field.name == gguf.Keys.General.ARCHITECTURE:
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    for part in sorted(OUT.glob("llama-*-of-*.gguf")):
        print(f"{part.relative_to(ROOT)}: {part.stat().st_size} bytes")


if __name__ == "__main__":
    main()
