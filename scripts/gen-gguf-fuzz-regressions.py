#!/usr/bin/env python3
"""Hand-written inputs for the GGUF fuzz target's regression folder, each reproducing one of the
crashes and silent acceptances of issue 16 that the fuzzer could find, built from the fuzzer's
own small seeds (scripts/gen-gguf-fuzz-seeds.py):

    .venv/bin/python scripts/gen-gguf-fuzz-regressions.py
    build-fuzz/replay_gguf_inputs --write-expected tests/data/gguf/fuzz-regressions/*.input

Writes tests/data/gguf/fuzz-regressions/NAME.input; tst_gguf_fuzz_regressions replays each
through the fuzz entry and compares the outcome with NAME.input.expected (docs/FUZZING.md).
"""
import pathlib
import struct

import gguf
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tests" / "fuzz" / "gguf_seeds"
OUT = ROOT / "tests" / "data" / "gguf" / "fuzz-regressions"
VT = gguf.GGUFValueType


def rewrite(source: str, name: str, edits: dict):
    """The seed `source` with metadata `edits` applied: key -> (value, type), or None to
    remove the key."""
    reader = gguf.GGUFReader(SEEDS / source)
    path = OUT / f"{name}.input"
    writer = gguf.GGUFWriter(path, reader.fields["general.architecture"].contents())
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        if field.name in edits:
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == VT.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
    for key, edit in edits.items():
        if edit is not None:
            writer.add_key_value(key, edit[0], edit[1])
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    # GGUFWriter writes the file under the name given; the fuzz input is the file itself.
    return path


def patch_tensor_entry(source: str, name: str, tensor: str, dims=None, type_id=None,
                       offset=None):
    """The seed with one tensor entry's dimensions, type or data offset overwritten in place
    (the new dimensions must be as many as the old)."""
    data = bytearray((SEEDS / source).read_bytes())
    key = struct.pack("<Q", len(tensor)) + tensor.encode()
    at = data.index(key) + len(key)
    n_dims = struct.unpack_from("<I", data, at)[0]
    if dims is not None:
        assert len(dims) == n_dims
        for i, dim in enumerate(dims):
            struct.pack_into("<Q", data, at + 4 + 8 * i, dim)
    type_at = at + 4 + 8 * n_dims
    if type_id is not None:
        struct.pack_into("<I", data, type_at, type_id)
    if offset is not None:
        struct.pack_into("<Q", data, type_at + 4, offset)
    (OUT / f"{name}.input").write_bytes(bytes(data))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # Item 3: the layer table was sized from block_count before any tensor was looked up.
    rewrite("small_llama.gguf", "bad-alloc-block-count-0xffffffff",
            {"llama.block_count": (0xFFFFFFFF, VT.UINT32)})
    rewrite("small_llama.gguf", "bad-alloc-block-count-10-pow-8",
            {"llama.block_count": (100_000_000, VT.UINT32)})
    # Item 4: the byte count of an F32 tensor of 2^62 elements wrapped to 0.
    patch_tensor_entry("small_llama.gguf", "length-error-f32-tensor-2-pow-62-elements",
                       "output_norm.weight", dims=[1 << 62])
    patch_tensor_entry("small_llama.gguf", "length-error-f32-tensor-2-pow-31-squared",
                       "token_embd.weight", dims=[1 << 31, 1 << 31], type_id=0)
    # Overlapping tensor data: two tensors read the same bytes.
    patch_tensor_entry("small_llama.gguf", "accepted-overlapping-tensor-data", "output.weight",
                       offset=0)
    # Hyper-parameters accepted or truncated without a word.
    rewrite("small_llama.gguf", "accepted-head-count-kv-truncated-to-32-bits",
            {"llama.attention.head_count_kv": ((1 << 32) + 1, VT.UINT64)})
    rewrite("small_llama.gguf", "accepted-rms-epsilon-nan",
            {"llama.attention.layer_norm_rms_epsilon": (np.float32("nan"), VT.FLOAT32)})
    rewrite("small_llama.gguf", "accepted-rope-freq-base-0",
            {"llama.rope.freq_base": (0.0, VT.FLOAT32)})
    rewrite("small_llama_yarn.gguf", "accepted-yarn-factor-0",
            {"llama.rope.scaling.factor": (0.0, VT.FLOAT32)})
    rewrite("small_llama.gguf", "accepted-head-count-kv-as-a-string",
            {"llama.attention.head_count_kv": ("1", VT.STRING)})
    # UBSan: period - 1 overflowed for a sliding-window period of INT64_MIN.
    rewrite("small_gemma3.gguf", "ubsan-gemma3-sliding-window-pattern-int64-min",
            {"gemma3.attention.sliding_window_pattern": (-(1 << 63), VT.INT64)})
    for path in sorted(OUT.glob("*.input")):
        print(f"{path.name:58} {path.stat().st_size:7} bytes")


if __name__ == "__main__":
    main()
