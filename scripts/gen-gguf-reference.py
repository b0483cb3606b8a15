#!/usr/bin/env python3
"""Writes small GGUF files with the reference writer (the `gguf` package) and what the
reference reader (gguf.GGUFReader) sees in them, for tests/engine/tst_gguf.cpp.

    scripts/gen-gguf-reference.py        # uses .venv (scripts/lib/common.sh: ensure_venv --reference-tools)

Outputs in tests/data/gguf/: tiny.gguf (every metadata value type, nested arrays, a
non-default alignment, tensors of several types and shapes) and tiny.expected.json; and,
from the default model (scripts/fetch-default-model), smollm2.expected.json: its scalar
metadata, array lengths, tensor table and the SHA-256 of every tensor dequantized to
float32 by gguf.quants.dequantize.
"""
import hashlib
import os
import sys
import json
import pathlib

import numpy as np
import gguf
from gguf import GGUFReader, GGUFValueType, GGUFWriter, GGMLQuantizationType as Q

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "gguf"


def write_tiny(path: pathlib.Path) -> None:
    rng = np.random.default_rng(20261124)
    writer = GGUFWriter(str(path), arch="llama")
    writer.add_custom_alignment(64)
    writer.add_name("tiny test model")
    writer.add_block_count(2)
    writer.add_context_length(256)
    writer.add_embedding_length(64)
    writer.add_feed_forward_length(128)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_uint8("test.u8", 200)
    writer.add_int8("test.i8", -100)
    writer.add_uint16("test.u16", 60000)
    writer.add_int16("test.i16", -30000)
    writer.add_uint32("test.u32", 4000000000)
    writer.add_int32("test.i32", -2000000000)
    writer.add_float32("test.f32", 0.1)
    writer.add_bool("test.bool", True)
    writer.add_string("test.str", "héllo, wörld ✓ 🔥")
    writer.add_uint64("test.u64", 2**63 + 5)
    writer.add_int64("test.i64", -(2**62))
    writer.add_float64("test.f64", 3.141592653589793)
    writer.add_array("test.arr_i32", [1, -2, 3, -4])
    writer.add_array("test.arr_str", ["a", "", "ünï", "<|im_start|>"])
    writer.add_array("test.arr_f32", [0.5, -1.25, 1e-3])
    writer.add_array("test.arr_nested", [[1, 2], [3], [4, 5, 6]])

    writer.add_tensor("f32.vector", rng.standard_normal(64).astype(np.float32))
    writer.add_tensor("f32.matrix", rng.standard_normal((3, 64)).astype(np.float32))
    writer.add_tensor("f16.matrix", rng.standard_normal((4, 32)).astype(np.float16))
    q8 = gguf.quants.quantize(rng.standard_normal((2, 64)).astype(np.float32), Q.Q8_0)
    writer.add_tensor("q8_0.matrix", q8, raw_dtype=Q.Q8_0)
    q4 = gguf.quants.quantize(rng.standard_normal((2, 3, 32)).astype(np.float32), Q.Q4_0)
    writer.add_tensor("q4_0.cube", q4, raw_dtype=Q.Q4_0)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def value_of(field):
    """The field's value as JSON, with its type path (e.g. ["array", "int32"])."""
    types = [t.name.lower() for t in field.types]
    if field.types[0] == GGUFValueType.ARRAY:
        value = field.contents()
    else:
        value = field.contents()
    return types, value


def describe(path: pathlib.Path) -> dict:
    reader = GGUFReader(str(path))
    metadata = []
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        types, value = value_of(field)
        metadata.append({"key": name, "types": types, "value": value})
    tensors = []
    for t in reader.tensors:
        tensors.append({
            "name": t.name,
            "type": t.tensor_type.name,
            "dims": [int(d) for d in t.shape],  # GGML order (dims[0] fastest)
            "n_elements": int(t.n_elements),
            "n_bytes": int(t.n_bytes),
            "file_offset": int(t.data_offset),
            "values": [float(v) for v in np.asarray(
                gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32).ravel()],
        })
    return {"version": int(reader.fields["GGUF.version"].parts[-1][0]),
            "alignment": int(reader.alignment), "data_offset": int(reader.data_offset),
            "file_size": path.stat().st_size, "metadata": metadata, "tensors": tensors}


def describe_model(path: pathlib.Path) -> dict:
    reader = GGUFReader(str(path))
    metadata = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        if field.types[0] == GGUFValueType.ARRAY:
            metadata[name] = {"array_length": len(field.data)}
        else:
            metadata[name] = {"value": field.contents()}
    tensors = []
    for t in reader.tensors:
        values = np.ascontiguousarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype="<f4")
        tensors.append({
            "name": t.name, "type": t.tensor_type.name, "dims": [int(d) for d in t.shape],
            "n_bytes": int(t.n_bytes), "file_offset": int(t.data_offset),
            "f32_sha256": hashlib.sha256(values.tobytes()).hexdigest(),
        })
    return {"file_size": path.stat().st_size, "alignment": int(reader.alignment),
            "data_offset": int(reader.data_offset), "metadata": metadata, "tensors": tensors}


def default_model() -> pathlib.Path:
    if os.environ.get("HEARTH_TEST_MODEL"):
        return pathlib.Path(os.environ["HEARTH_TEST_MODEL"])
    base = os.environ.get("HEARTH_MODELS_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "hearth", "models")
    return pathlib.Path(base) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tiny = OUT / "tiny.gguf"
    write_tiny(tiny)
    (OUT / "tiny.expected.json").write_text(json.dumps(describe(tiny), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {tiny} and tiny.expected.json")
    model = default_model()
    if not model.exists():
        sys.exit(f"{model} not found: run scripts/fetch-default-model first")
    (OUT / "smollm2.expected.json").write_text(json.dumps(describe_model(model), indent=1, ensure_ascii=False) + "\n")
    print("wrote smollm2.expected.json")


if __name__ == "__main__":
    main()
